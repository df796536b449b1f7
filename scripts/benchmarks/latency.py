"""Query latency through a real ``rag serve``: one client and several concurrent clients.

For each runtime, a server on a copy of the bundled page's index; every question through every
endpoint once as warm-up; every request's question made unique (a number appended) so the
query-vector cache never answers it, except in one row that repeats a question on purpose; then ``--rounds`` one-client passes (the endpoint order rotating per
question) and ``--concurrent-rounds`` passes of ``--clients`` threads, each with its own
connection, each over the whole question list from a different starting point.
"""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from benchmarks.common import cols, load_questions, ratio, summary
from benchmarks.harness import ENDPOINTS, Context, call, serving

NAME = "latency"
# Issue 10's targets for the new default runtime (one client, end to end), and the concurrent
# throughput as a multiple of the baseline runtime's measured in the same run.
TARGETS = {"embed_p50_ms": 6.0, "search_p50_ms": 12.0, "ask_p50_ms": 15.0, "concurrent_qps_x": 2.5}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rounds", type=int, help="passes over the questions, one client (default 5)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument("--concurrent-rounds", type=int, help="passes per concurrent client (default 3)")
    p.add_argument(
        "--questions", default="default", help="default (20), answerable or all (tests/data)"
    )


QUICK = {"rounds": (1, 5), "concurrent_rounds": (1, 3)}


def run(ctx: Context) -> dict:
    args = ctx.args
    queries = load_questions(args.questions)
    out: dict = {
        "queries": len(queries),
        "rounds": args.rounds,
        "clients": args.clients,
        "baseline": ctx.baseline,
        "runtimes": {},
    }
    for runtime in ctx.runtimes:
        print(f"  latency: runtime {runtime}", flush=True)
        out["runtimes"][runtime] = _one_runtime(ctx, runtime, queries)
    base = out["runtimes"][ctx.baseline]
    out["speedup_vs_baseline"] = {
        rt: {
            name: {
                "p50": ratio(base["single"][name]["p50"], r["single"][name]["p50"]),
                "concurrent_qps": ratio(
                    r["concurrent"][name]["qps"], base["concurrent"][name]["qps"]
                ),
            }
            for name in ENDPOINTS
        }
        for rt, r in out["runtimes"].items()
    }
    return out


def _one_runtime(ctx: Context, runtime: str, queries: list[str]) -> dict:
    args = ctx.args
    names = list(ENDPOINTS)
    out: dict = {}
    index = ctx.index_copy(f"latency-index-{runtime}")
    with serving(index, ctx.tmp / f"latency-{runtime}.log", runtime) as server:
        url = server.url
        with httpx.Client(timeout=60.0) as client:
            for q in queries:
                for name in names:
                    call(client, url, name, q)
            health = []
            for _ in range(50):
                t = time.perf_counter()
                client.get(url + "/health").raise_for_status()
                health.append((time.perf_counter() - t) * 1000)
            out["health"] = summary(health)
            out["server_rss_mb"] = server.rss()
            ms: dict[str, list[float]] = {n: [] for n in names}
            server_ms: dict[str, list[dict]] = {n: [] for n in names}
            for r in range(args.rounds):
                for i, q in enumerate(queries):
                    shift = (i + r) % len(names)
                    for name in names[shift:] + names[:shift]:
                        elapsed, timings = call(client, url, name, q)
                        ms[name].append(elapsed)
                        server_ms[name].append(timings)
        single = {}
        for name in names:
            s = summary(ms[name])
            s["qps"] = round(len(ms[name]) / (sum(ms[name]) / 1000), 1)
            s["server_ms"] = breakdown(server_ms[name])
            totals = [t.get("total", math.nan) for t in server_ms[name]]
            s["outside_engine_ms"] = round(
                statistics.median(c - t for c, t in zip(ms[name], totals, strict=True)), 2
            )
            single[name] = s
        out["single"] = single
        # Blocks of one pass per endpoint, the order rotating, so load drift hits all alike.
        pooled: dict[str, tuple[list[float], float]] = {n: ([], 0.0) for n in names}
        for r in range(args.concurrent_rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                block, wall = concurrent_pass(url, name, args.clients, queries)
                pooled[name] = (pooled[name][0] + block, pooled[name][1] + wall)
        # The same question again and again: answered from the query-vector cache.
        with httpx.Client(timeout=60.0) as client:
            call(client, url, "search_hybrid", queries[0], unique=False)
            repeated = [
                call(client, url, "search_hybrid", queries[0], unique=False)
                for _ in range(args.rounds * 10)
            ]
        out["repeated_question"] = summary([ms for ms, _ in repeated]) | {
            "server_ms": breakdown([t for _, t in repeated])
        }
        out["concurrent"] = {
            name: summary(block) | {"qps": round(len(block) / wall, 1)}
            for name, (block, wall) in pooled.items()
        }
        out["server_rss_after_mb"] = server.rss()
    return out


def breakdown(timings: list[dict]) -> dict[str, float]:
    """Median of each server-side timing (``embed``, ``dense``, ``keyword``, ``total``...)."""
    keys = sorted({k for t in timings for k in t})
    return {k: round(statistics.median(t[k] for t in timings if k in t), 2) for k in keys}


def concurrent_pass(
    url: str, name: str, clients: int, queries: list[str]
) -> tuple[list[float], float]:
    """``clients`` threads, each with its own connection, each over the whole question list
    (from different starting points); returns every latency and the wall time."""
    barrier = threading.Barrier(clients + 1)

    def worker(offset: int) -> list[float]:
        order = queries[offset:] + queries[:offset]
        with httpx.Client(timeout=120.0) as client:
            call(client, url, name, order[0])  # open the connection before timing
            barrier.wait()
            return [call(client, url, name, q)[0] for q in order]

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker, i * len(queries) // clients) for i in range(clients)]
        barrier.wait()
        t = time.perf_counter()
        ms = [m for f in futures for m in f.result()]
        wall = time.perf_counter() - t
    return ms, wall


def targets(results: dict) -> list[dict]:
    rts = results["runtimes"]
    new = list(rts)[-1]  # the last runtime named is the one the targets are about
    base = rts[results["baseline"]]
    single = rts[new]["single"]
    return [
        {
            "target": f"query embedding p50 ms ({new}, server-side)",
            "limit": TARGETS["embed_p50_ms"],
            "value": single["search_hybrid"]["server_ms"].get("embed", math.nan),
        },
        {
            "target": f"/search p50 ms ({new})",
            "limit": TARGETS["search_p50_ms"],
            "value": single["search_hybrid"]["p50"],
        },
        {
            "target": f"/ask p50 ms ({new})",
            "limit": TARGETS["ask_p50_ms"],
            "value": single["ask"]["p50"],
        },
        {
            "target": f"{results['clients']} clients /search q/s, {new} / {results['baseline']}",
            "limit": TARGETS["concurrent_qps_x"],
            "value": ratio(
                rts[new]["concurrent"]["search_hybrid"]["qps"],
                base["concurrent"]["search_hybrid"]["qps"],
            ),
            "higher_is_better": True,
        },
    ]


def report(results: dict, table) -> None:
    base = results["baseline"]
    rows = []
    for rt, r in results["runtimes"].items():
        b = results["runtimes"][base]
        for mode, key in (("1", "single"), (str(results["clients"]), "concurrent")):
            for name, s in r[key].items():
                speed = ratio(b[key][name]["p50"], s["p50"])
                qps_x = ratio(s["qps"], b[key][name]["qps"])
                rows.append(
                    [
                        rt,
                        name,
                        mode,
                        s["n"],
                        s["p50"],
                        s["p95"],
                        s["qps"],
                        f"{speed:.2f}x",
                        f"{qps_x:.2f}x",
                    ]
                )
        h = r["health"]
        rows.append([rt, "GET /health", "1", h["n"], h["p50"], h["p95"], "-", "-", "-"])
        if "repeated_question" in r:
            c = r["repeated_question"]
            rows.append(
                [rt, "search_hybrid, cached", "1", c["n"], c["p50"], c["p95"], "-", "-", "-"]
            )
    table(
        f"Query latency through the server (ms; speed-up = {base} p50 / p50, same clients)",
        cols("runtime|endpoint|clients|n|p50|p95|q/s|p50 speed-up|q/s ratio"),
        rows,
    )
    keys = ["embed", "dense", "keyword", "total", "search", "answer"]
    rows = [
        [rt, name, s["p50"], *[s["server_ms"].get(k, "-") for k in keys], s["outside_engine_ms"]]
        for rt, r in results["runtimes"].items()
        for name, s in r["single"].items()
    ]
    table(
        "Where the time goes, one client (server-side medians, ms)",
        ["runtime", "endpoint", "client p50", *keys, "outside engine"],
        rows,
    )
