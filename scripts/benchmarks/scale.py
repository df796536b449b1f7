"""FAISS at scale: exact (flat) against HNSW and IVF, as the service builds them
(``rag.index.dense.build_faiss``), on synthetic unit-length 384-d vectors."""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.common import cols, proc_status
from benchmarks.harness import Context

NAME = "scale"
DIM = 384
QUICK = {"scale_sizes": ("20000", "100000,1000000"), "scale_queries": (100, 500)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale-sizes", help="vector counts, comma separated (default 100000,1000000)")
    p.add_argument("--scale-data", default="clustered,uniform", help="clustered and/or uniform")
    p.add_argument("--scale-queries", type=int, help="queries for recall (default 500)")


def synthetic_vectors(kind: str, n: int, nq: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` base and ``nq`` query vectors, unit length, float32.

    ``uniform``: isotropic Gaussian directions (the hard case: all distances look alike).
    ``clustered``: ``max(100, n // 1000)`` random centroids plus Gaussian noise of about the
    centroid's norm, closer to real embeddings, whose neighbours form topical clusters.
    """
    rng = np.random.default_rng(seed)
    total = n + nq
    x = np.empty((total, DIM), dtype=np.float32)
    centroids = None
    if kind == "clustered":
        centroids = rng.standard_normal((max(100, n // 1000), DIM), dtype=np.float32)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    elif kind != "uniform":
        raise ValueError(f"unknown synthetic data kind {kind!r}; use clustered or uniform")
    for start in range(0, total, 100_000):
        block = rng.standard_normal((min(100_000, total - start), DIM), dtype=np.float32)
        if centroids is not None:
            block *= 0.045  # noise norm ~0.88 against unit centroids
            block += centroids[rng.integers(0, len(centroids), len(block))]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[start : start + len(block)] = block
    return x[:n], x[n:]


def one_query_ms(index, queries: np.ndarray, threads: int, k: int = 10) -> float:
    """Median milliseconds of one-query searches with ``threads`` OpenMP threads."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        times = []
        for q in queries:
            t = time.perf_counter()
            index.search(q[None, :], k)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        faiss.omp_set_num_threads(before)
    return round(statistics.median(times), 3)


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    return round(hits / (k * len(truth)), 4)


def index_mb(index, folder: Path) -> float:
    import faiss

    path = folder / "scale.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size / 1e6
    path.unlink()
    return round(size, 1)


def run(ctx: Context) -> dict:
    import faiss

    from rag.index.dense import build_faiss

    args = ctx.args
    threads = faiss.omp_get_max_threads()
    rows = []
    sizes = [int(x) for x in str(args.scale_sizes).split(",") if x.strip()]
    kinds = [x.strip() for x in args.scale_data.split(",") if x.strip()]
    for kind in kinds:
        for n in sizes:
            t = time.perf_counter()
            xb, xq = synthetic_vectors(kind, n, args.scale_queries)
            print(f"  scale: {kind} {n:,} vectors generated in {time.perf_counter() - t:.1f} s")
            lat_q = xq[: min(len(xq), 100)]
            truth = None
            flat_ms = flat_ms_1 = math.nan
            for ann in ("flat", "hnsw", "ivf"):
                rss0 = proc_status().get("VmRSS", 0.0)
                t = time.perf_counter()
                index = build_faiss(xb, ann)
                build_s = time.perf_counter() - t
                base = {
                    "data": kind,
                    "n": n,
                    "index": ann,
                    "build_s": round(build_s, 2),
                    "rss_delta_mb": round(proc_status().get("VmRSS", 0.0) - rss0, 0),
                    "size_mb": index_mb(index, ctx.tmp),
                }
                if ann == "flat":
                    truth = index.search(xq, 10)[1]
                sweep: list[tuple[str, int | None]] = [("-", None)]
                default = None
                if ann == "hnsw":
                    default = index.hnsw.efSearch
                    sweep = [(f"efSearch={e}", e) for e in sorted({32, 64, default, 256})]
                elif ann == "ivf":
                    default = index.nprobe
                    values = sorted({max(1, index.nlist // d) for d in (64, 32, 8, 4)} | {default})
                    sweep = [(f"nlist={index.nlist} nprobe={p}", p) for p in values]
                for label, value in sweep:
                    if ann == "hnsw":
                        index.hnsw.efSearch = value
                    elif ann == "ivf":
                        index.nprobe = value
                    ms = one_query_ms(index, lat_q, threads)
                    ms_1 = one_query_ms(index, lat_q, 1) if threads > 1 else ms
                    if ann == "flat":
                        flat_ms, flat_ms_1 = ms, ms_1
                    t = time.perf_counter()
                    found = index.search(xq, 10)[1]
                    batch_s = time.perf_counter() - t
                    rows.append(
                        base
                        | {
                            "params": label,
                            "default": value in (None, default),
                            "query_ms_p50": ms,
                            "query_ms_p50_1thread": ms_1,
                            "speedup_vs_flat": round(flat_ms / ms, 1),
                            "speedup_vs_flat_1thread": round(flat_ms_1 / ms_1, 1),
                            "batch_qps": round(len(xq) / batch_s, 0),
                            "recall_at_10": recall_at(found, truth),
                        }
                    )
                    r = rows[-1]
                    print(
                        f"  scale: {kind} {n:,} {ann} {label}: build {r['build_s']} s, "
                        f"{ms} ms ({ms_1} ms 1 thread), recall@10 {r['recall_at_10']}",
                        flush=True,
                    )
                del index
            del xb, xq
    return {
        "dim": DIM,
        "queries": args.scale_queries,
        "faiss_threads": threads,
        "rows": rows,
    }


def report(results: dict, table) -> None:
    sc = results
    rows = []
    for r in sc["rows"]:
        star = " *" if r["default"] and r["index"] != "flat" else ""
        rows.append(
            [r["data"], f"{r['n']:,}", r["index"], r["params"] + star, r["build_s"]]
            + [r["size_mb"], r["rss_delta_mb"], r["query_ms_p50"], r["query_ms_p50_1thread"]]
            + [f"{r['speedup_vs_flat_1thread']}x", r["batch_qps"], r["recall_at_10"]]
        )
    table(
        f"FAISS at scale ({sc['dim']}-d; one-query p50 with {sc['faiss_threads']} and 1 "
        "threads; recall@10 vs exact; * = service default)",
        cols(
            "data|n|index|params|build s|size MB|RSS +MB|ms|ms 1thr|vs flat 1thr|batch q/s|recall@10"
        ),
        rows,
    )
