"""What the time between two queries costs the query encoder (issue 10, docs/benchmarks.md).

The server-side ``embed`` stage of ``/search`` takes 1-3 ms more than the same encoder timed
back to back in-process. This script encodes every question of the project's question set with
the service's default encoder, each one after a randomly chosen pause (nothing, asleep, a busy
spin, some memory touched, another thread), all variants interleaved so that the host's drift
hits them alike, and prints the median per variant. Run from the repository root:

    .venv/bin/python scripts/bench_query_gap.py [--rounds 3] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks.common import load_questions  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    p.add_argument("--gap-ms", type=float, default=10.0, help="pause of the gap variants")
    args = p.parse_args()

    from api.settings import get_settings
    from rag.embedding.batching import BatchingEncoder
    from rag.engine import make_encoder

    config = replace(get_settings().engine_config(), index_dir=Path("/nonexistent"))
    encoder = make_encoder(config)
    if isinstance(encoder, BatchingEncoder):
        encoder = encoder.encoder  # the model itself: its cache would answer the repeats
    encoder.warm_up()
    questions = load_questions("all")
    for q in questions:
        encoder.encode_queries([q])

    gap = args.gap_ms / 1000
    junk = bytearray(8 << 20)
    pools = [ThreadPoolExecutor(1) for _ in range(40)]

    def spin() -> None:
        end = time.perf_counter() + gap
        while time.perf_counter() < end:
            pass

    def touch() -> None:
        for i in range(0, len(junk), 64):
            junk[i] = 1

    pauses = {
        "back to back": lambda: None,
        f"{args.gap_ms:g} ms asleep": lambda: time.sleep(gap),
        f"{args.gap_ms:g} ms spinning": spin,
        "8 MB of memory touched": touch,
    }

    def timed(text: str) -> float:
        t = time.perf_counter()
        encoder.encode_queries([text])
        return (time.perf_counter() - t) * 1000

    variants = [*pauses, "another thread each time (back to back)"]
    ms: dict[str, list[float]] = {v: [] for v in variants}
    rng = random.Random(0)
    for r in range(args.rounds):
        for i, q in enumerate(questions):
            variant = rng.choice(variants)
            text = f"{q} {r}-{i}"  # never the same text twice
            if variant in pauses:
                pauses[variant]()
                ms[variant].append(timed(text))
            else:
                ms[variant].append(pools[rng.randrange(len(pools))].submit(timed, text).result())
    print(f"encoder {encoder.runtime}, {args.rounds} rounds over {len(questions)} questions")
    print(f"{'before each encode':<42} {'n':>4} {'p50 ms':>7} {'p95 ms':>7}")
    for v, xs in ms.items():
        p95 = statistics.quantiles(xs, n=20)[-1] if len(xs) > 1 else xs[0]
        print(f"{v:<42} {len(xs):>4} {statistics.median(xs):>7.2f} {p95:>7.2f}")


if __name__ == "__main__":
    main()
