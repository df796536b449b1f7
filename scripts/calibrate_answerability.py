"""Print the answerability evidence of every question of a question set, and the thresholds
that separate answerable from unanswerable ones best (per language).

    .venv/bin/python scripts/calibrate_answerability.py [tests/data/questions.jsonl]

Used to choose the defaults of ``rag.search.answerability.AnswerabilityThresholds``; the
chosen values and the margins are recorded in docs/retrieval.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from api.settings import Settings
from rag.engine import Engine
from rag.evaluation.questions import load_questions


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/questions.jsonl")
    engine = Engine(Settings.from_env().engine_config())
    engine.warm_up()
    searcher = engine.searcher
    rows = []
    for q in load_questions(path):
        qvec = engine.index.encoder.encode_queries([q.question])
        scores, _ = engine.index.dense.search(qvec, 1)
        ev = searcher.evidence(q.question, float(scores[0][0]))
        rows.append((q.lang, q.answerable, ev.top_cosine, ev.coverage, q.question))
    for lang in ("zh", "en"):
        print(f"\n== {lang}")
        for r in sorted((r for r in rows if r[0] == lang), key=lambda r: (r[3] or 0, r[2])):
            cov = "-" if r[3] is None else f"{r[3]:.2f}"
            print(f"{'A' if r[1] else 'U'} cos={r[2]:.3f} cov={cov}  {r[4][:50]}")


if __name__ == "__main__":
    main()
