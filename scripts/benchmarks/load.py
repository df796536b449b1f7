"""Readers and a writer at once against a real ``rag serve`` (issue 13's load test).

For a bounded time, ``--load-readers`` clients alternate ``/search`` and ``/ask`` while one
writer POSTs 3,000-character documents and DELETEs the older ones. Reports errors (must be
0), read latency p50/p95 and throughput, POST and DELETE latency, and the server's RSS before
and after (flat). One runtime: the service's default (the last of ``--runtimes``).
``scripts/bench_load.py`` runs the same load standalone, against another checkout too.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import httpx

from benchmarks.common import cols, percentile
from benchmarks.harness import Context, serving

NAME = "load"
#: POST of a 3,000-character document with readers busy, p50 (issue 13); RSS growth over the
#: run, as a share of the RSS before it (memory stays flat).
TARGETS = {"post_p50_ms": 500.0, "errors": 0, "rss_growth": 0.10}
QUICK = {"load_duration": (10.0, 40.0)}

QUESTIONS = [
    "职业伤害保障试点有哪四个亮点？",
    "累计有多少人纳入职业伤害保障范围",
    "What are the four highlights of the injury-insurance pilot?",
    "北京市总工会为新就业形态劳动者做了什么？",
    "社区食堂为老年人提供什么",
    "第3号新闻稿讲了哪些新举措",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load-duration", type=float, help="seconds of load (default 40)")
    p.add_argument("--load-readers", type=int, default=8, help="concurrent readers (default 8)")
    p.add_argument("--load-chars", type=int, default=3000, help="characters per POST")


def article(i: int, chars: int = 3000) -> dict:
    """A distinct document of ``chars`` characters in paragraphs, like a short news story."""
    sentences = [
        f"第{i}号新闻稿报道，社区食堂试点扩大到{i % 40 + 2}个街道，为老年人提供优惠餐。",
        f"职业伤害保障试点覆盖了{i % 90 + 10}名外卖配送员，平台企业按单缴费。",
        "街道工会表示，将在更多社区推广这一做法，让新就业形态劳动者吃上热饭。",
        f"记者在第{i}个服务站看到，货车司机可以在这里休息、充电和加热饭菜。",
    ]
    paragraphs, n = [], 0
    while n < chars:
        para = "".join(sentences[(len(paragraphs) + k) % 4] for k in range(3))
        paragraphs.append(para)
        n += len(para) + 2
    text = "\n\n".join(paragraphs)[:chars]
    return {"title": f"负载测试新闻{i}", "text": text, "authors": ["记者甲", "记者乙"]}


def warm(url: str) -> None:
    """Both read routes once per question, so the timed load starts on a warm server."""
    with httpx.Client(base_url=url, timeout=120) as c:
        for q in QUESTIONS:
            c.post("/search", json={"query": q})
            c.post("/ask", json={"question": q})


def load(url: str, duration: float, readers: int, chars: int = 3000, keep: int = 1) -> dict:
    """``readers`` clients of /search and /ask and one writer for ``duration`` seconds."""
    deadline = time.monotonic() + duration
    latencies: dict[str, list[float]] = {"search": [], "ask": [], "post": [], "delete": []}
    errors: list[str] = []
    guard = threading.Lock()

    def timed(kind: str, send: Callable[[], httpx.Response]) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = send()
        except httpx.HTTPError as e:
            with guard:
                errors.append(f"{kind}: {type(e).__name__} {e}")
            return None
        ms = (time.perf_counter() - t0) * 1000
        with guard:
            if r.status_code >= 400:
                errors.append(f"{kind}: HTTP {r.status_code} {r.text[:120]}")
            else:
                latencies[kind].append(ms)
        return r

    def reader(n: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            i = n
            while time.monotonic() < deadline:
                q = QUESTIONS[i % len(QUESTIONS)]
                if i % 2:
                    timed("ask", lambda q=q: c.post("/ask", json={"question": q}))
                else:
                    timed("search", lambda q=q: c.post("/search", json={"query": q}))
                i += 1

    def writer() -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            live: list[str] = []
            i = 0
            while time.monotonic() < deadline:
                r = timed("post", lambda i=i: c.post("/documents", json=article(i, chars)))
                if r is not None and r.status_code == 201:
                    live.append(r.json()["id"])
                if len(live) > keep:
                    victim = live.pop(0)
                    timed("delete", lambda v=victim: c.delete(f"/documents/{v}"))
                i += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    threads.append(threading.Thread(target=writer))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    reads = latencies["search"] + latencies["ask"]
    return {
        "readers": readers,
        "duration_s": round(elapsed, 1),
        "errors": len(errors),
        "error_examples": errors[:3],
        "reads": len(reads),
        "reads_per_s": round(len(reads) / elapsed, 2),
        "read_p50_ms": round(percentile(reads, 50), 1),
        "read_p95_ms": round(percentile(reads, 95), 1),
        "search_p50_ms": round(percentile(latencies["search"], 50), 1),
        "ask_p50_ms": round(percentile(latencies["ask"], 50), 1),
        "posts": len(latencies["post"]),
        "post_p50_ms": round(percentile(latencies["post"], 50), 1),
        "post_p95_ms": round(percentile(latencies["post"], 95), 1),
        "delete_p50_ms": round(percentile(latencies["delete"], 50), 1),
    }


def run(ctx: Context) -> dict:
    args = ctx.args
    runtime = ctx.runtimes[-1]
    print(f"  load: runtime {runtime}, {args.load_readers} readers, 1 writer", flush=True)
    index = ctx.index_copy(f"load-index-{runtime}")
    with serving(index, ctx.tmp / f"load-{runtime}.log", runtime) as server:
        warm(server.url)
        before = server.rss().get("VmRSS", float("nan"))
        figures = load(server.url, args.load_duration, args.load_readers, args.load_chars)
        figures["rss_before_mb"] = round(before, 1)
        figures["rss_after_mb"] = round(server.rss().get("VmRSS", float("nan")), 1)
    figures["runtime"] = runtime
    return figures


def targets(results: dict) -> list[dict]:
    before, after = results["rss_before_mb"], results["rss_after_mb"]
    return [
        {"target": "load: errors", "limit": TARGETS["errors"], "value": results["errors"]},
        {
            "target": "load: POST p50 ms, readers busy",
            "limit": TARGETS["post_p50_ms"],
            "value": results["post_p50_ms"],
        },
        {
            "target": "load: RSS growth over the run (share)",
            "limit": TARGETS["rss_growth"],
            "value": round((after - before) / before, 3),
        },
    ]


def report(results: dict, table) -> None:
    keys = cols(
        "readers|reads|reads_per_s|read_p50_ms|read_p95_ms|errors|posts|post_p50_ms|"
        "post_p95_ms|delete_p50_ms|rss_before_mb|rss_after_mb"
    )
    header = cols(
        "readers|reads|reads/s|read p50|read p95|errors|POSTs|POST p50|POST p95|"
        "DELETE p50|RSS before MB|RSS after MB"
    )
    title = f"Readers and a writer at once ({results['duration_s']} s, {results['runtime']}; ms)"
    table(title, header, [[results[k] for k in keys]])
