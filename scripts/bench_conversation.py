"""What follow-up resolution costs: Engine.ask with and without earlier turns.

Usage::

    .venv/bin/python scripts/bench_conversation.py            # ~1 min on 2 cores
    .venv/bin/python scripts/bench_conversation.py --rounds 20

Builds the bundled page's index with the real default model in a temporary folder, then
times, in the same process and interleaved round by round:

- ``standalone``: the questions of a conversation asked alone (no history);
- ``follow-up``: the same questions asked in their conversation (history sent as /ask's
  clients send it: question, answer text and citations);
- ``resolve``: :func:`rag.conversation.resolve` alone on those follow-ups.

Prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = [
    [
        "职业伤害保障试点有哪四个亮点？",
        "第二个亮点具体指什么？",
        "最后一个呢？",
        "Tell me more about the second one",
    ],
    ["北京工会如何弘扬劳模精神？", "那天津市总工会呢？", "为什么？"],
    ["职业伤害保障试点是什么时候开始的？", "它覆盖了多少人？", "那作者呢？"],
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    from api.settings import Settings
    from rag.conversation import resolve
    from rag.embedding.encoder import default_encoder
    from rag.engine import Engine, EngineConfig
    from rag.types import Turn

    encoder = default_encoder(Settings.from_env().model_cache)
    encoder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        config = EngineConfig(index_dir=Path(tmp) / "index", corpus=(ROOT / "data/articles.txt",))
        engine = Engine(config, encoder=encoder)
        engine.warm_up()
        documents = {d.doc_id: d for d in engine.documents()}
        # The histories, built once from the engine's own answers.
        cases: list[tuple[str, tuple[Turn, ...]]] = []
        for conversation in CONVERSATIONS:
            history: list[Turn] = []
            for question in conversation:
                if history:
                    cases.append((question, tuple(history)))
                answer = engine.ask(question, history=tuple(history))
                history.append(Turn(question, answer.text, answer.citations))
        times: dict[str, list[float]] = {"standalone": [], "follow-up": [], "resolve": []}
        for _ in range(args.rounds):
            for question, history in cases:
                t0 = time.perf_counter()
                engine.ask(question)
                t1 = time.perf_counter()
                engine.ask(question, history=history)
                t2 = time.perf_counter()
                resolve(question, history, documents)
                t3 = time.perf_counter()
                times["standalone"].append((t1 - t0) * 1000)
                times["follow-up"].append((t2 - t1) * 1000)
                times["resolve"].append((t3 - t2) * 1000)
    print(f"{len(cases)} follow-ups x {args.rounds} rounds (bundled page, default model)")
    print(f"{'':12s} {'p50 ms':>8s} {'p95 ms':>8s} {'mean ms':>8s}")
    for name, values in times.items():
        print(
            f"{name:12s} {percentile(values, 0.5):8.2f} {percentile(values, 0.95):8.2f}"
            f" {statistics.fmean(values):8.2f}"
        )


if __name__ == "__main__":
    main()
