"""Query embedding in-process, per runtime: load time, RSS, one-query latency, and the cosine
of each runtime's query vectors to the baseline's (a fresh worker per runtime)."""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import cols, load_questions, proc_status, ratio, summary
from benchmarks.harness import Context, run_worker, worker_main

NAME = "embedding"
QUICK = {"embedding_rounds": (2, 10)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding-rounds", type=int, help="passes over the questions (default 10)")


def worker(params: dict) -> dict:
    """Load the configured encoder; time one-query encodes over every question."""
    t0 = time.perf_counter()
    from api.settings import get_settings
    from rag.embedding.batching import BatchingEncoder
    from rag.engine import make_encoder

    config = replace(get_settings().engine_config(), index_dir=Path(params["tmp"]))
    encoder = make_encoder(config)
    if isinstance(encoder, BatchingEncoder):
        encoder = encoder.encoder  # the model itself: its cache would answer the timed repeats
    encoder.warm_up()
    load_s = time.perf_counter() - t0
    questions = load_questions("all")
    vectors = np.vstack([encoder.encode_queries([q]) for q in questions])  # also warms it
    ms = []
    for _ in range(params["rounds"]):
        for q in questions:
            t = time.perf_counter()
            encoder.encode_queries([q])
            ms.append((time.perf_counter() - t) * 1000)
    np.save(params["vectors"], vectors)
    return {
        "encoder": encoder.runtime,
        "import_and_load_s": round(load_s, 2),
        "rss_mb": round(proc_status().get("VmRSS", 0), 0),
        "query_ms": summary(ms),
    }


def run(ctx: Context) -> dict:
    out: dict = {"baseline": ctx.baseline, "runtimes": {}}
    for runtime in ctx.runtimes:
        print(f"  embedding: runtime {runtime}", flush=True)
        params = {
            "tmp": str(ctx.tmp),
            "rounds": ctx.args.embedding_rounds,
            "vectors": str(ctx.tmp / f"vectors-{runtime}.npy"),
        }
        out["runtimes"][runtime] = run_worker("embedding", params, runtime)
    base = np.load(ctx.tmp / f"vectors-{ctx.baseline}.npy")
    for runtime, r in out["runtimes"].items():
        cos = np.sum(np.load(ctx.tmp / f"vectors-{runtime}.npy") * base, axis=1)
        r["cosine_to_baseline"] = {
            "min": round(float(cos.min()), 4),
            "median": round(float(statistics.median(cos)), 4),
        }
    return out


def report(results: dict, table) -> None:
    base = results["runtimes"][results["baseline"]]["query_ms"]["p50"]
    rows = [
        [
            rt,
            r["encoder"],
            r["import_and_load_s"],
            r["rss_mb"],
            r["query_ms"]["p50"],
            r["query_ms"]["p95"],
            f"{ratio(base, r['query_ms']['p50']):.2f}x",
            r["cosine_to_baseline"]["min"],
            r["cosine_to_baseline"]["median"],
        ]
        for rt, r in results["runtimes"].items()
    ]
    table(
        "Query embedding in-process (all questions of tests/data, one at a time)",
        cols("runtime|encoder|load s|RSS MB|p50 ms|p95 ms|speed-up|cos min|cos median"),
        rows,
    )


if __name__ == "__main__":
    worker_main(worker)
