"""What the extractive answer stage costs per question, apart from retrieval.

Usage::

    .venv/bin/python scripts/bench_answers.py                 # ~1 min on 2 cores
    .venv/bin/python scripts/bench_answers.py --profile 40    # and cProfile 40 answers

Builds the bundled page's index with the real default model in a temporary folder (the
encoder wrapped as the service wraps it: query vectors cached, so the answer stage's question
vector is the searcher's), retrieves every question of ``tests/data/questions.jsonl`` once
(hybrid + list expansion, as /ask does), then times only the answer stage over those results:
a first pass (sentence vectors and per-sentence caches cold) and a second (warm). Prints the
median and mean in milliseconds per pass, and with ``--profile N`` the functions that cost most
over N warm answers.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/data/questions.jsonl")
    parser.add_argument("--profile", type=int, default=0, help="cProfile this many answers")
    args = parser.parse_args()

    from api.settings import Settings
    from rag.embedding.batching import BatchingEncoder
    from rag.embedding.encoder import default_encoder
    from rag.engine import Engine, EngineConfig, _extract
    from rag.search.enumeration import expand_result

    encoder = BatchingEncoder(default_encoder(Settings.from_env().model_cache))
    encoder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        config = EngineConfig(
            index_dir=Path(tmp) / "default", corpus=(ROOT / "data" / "articles.txt",)
        )
        engine = Engine(config, encoder=encoder)
        engine.warm_up()
        state = engine._ready()
        with args.questions.open(encoding="utf-8") as f:
            questions = [json.loads(line)["question"] for line in f if line.strip()]
        results = [
            expand_result(state.searcher.search(q, 5, mode="hybrid"), state.index.chunks_of)
            for q in questions
        ]
        for name in ("first pass", "second pass"):
            times = []
            for result in results:
                t0 = time.perf_counter()
                _extract(engine._answerer, result, state.index)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"{name}: {len(times)} answers, median {statistics.median(times):.1f} ms, "
                f"mean {statistics.mean(times):.1f} ms"
            )
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for result in results[: args.profile]:
                _extract(engine._answerer, result, state.index)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)
        engine.close()


if __name__ == "__main__":
    main()
