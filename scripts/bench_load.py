"""Load benchmark: readers and a writer against a real ``rag serve`` at once (issue 13).

Starts ``rag serve`` on a fresh index of the bundled page (real model), then for a bounded
time runs ``--readers`` clients alternating ``/search`` and ``/ask`` and one writer that POSTs
3,000-character documents and DELETEs the older ones. Prints errors (must be 0), read latency
p50/p95, read throughput, POST and DELETE latency, and the server's RSS before and after.

Usage::

    .venv/bin/python scripts/bench_load.py                     # 8 readers, 1 writer, 60 s
    .venv/bin/python scripts/bench_load.py --duration 20 --readers 4
    .venv/bin/python scripts/bench_load.py --code /path/to/other/checkout   # same load, old code

``--code`` runs the server from another checkout (e.g. the commit before snapshots), so the
before and after figures come from the same client. Client and server share the machine: on a
small one the figures measure contention as much as the service. The load itself lives in
``scripts/benchmarks/load.py``, which is also the ``load`` section of ``scripts/bench.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchmarks.common import proc_status
from benchmarks.harness import free_port
from benchmarks.load import article, load, warm

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    return proc_status(pid).get("VmRSS", float("nan"))


def start_server(code: Path, index_dir: Path, port: int) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(code)}
    cmd = [sys.executable, "-m", "api.cli", "serve", "--index-dir", str(index_dir)]
    cmd += ["--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start in 10 minutes")


def run(args: argparse.Namespace) -> dict:
    """Run the load and return its figures (also printed)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(args.code), Path(tmp) / "idx", port)
        try:
            warm(url)
            rss_before = rss_mb(server.pid)
            figures = load(url, args.duration, args.readers, args.chars, args.keep)
            figures["rss_before_mb"] = round(rss_before, 1)
            figures["rss_after_mb"] = round(rss_mb(server.pid), 1)
            if args.big_chars:
                # One long article with a long byline, on an idle server (issue 13: took 78 s).
                big = article(10_000, args.big_chars)
                big["authors"] = [f"作者{i:03d}号" for i in range(args.big_authors)]
                t0 = time.perf_counter()
                with httpx.Client(base_url=url, timeout=600) as c:
                    status = c.post("/documents", json=big).status_code
                figures["big_post_ms"] = round((time.perf_counter() - t0) * 1000, 1)
                figures["big_post_status"] = status
        finally:
            server.terminate()
            server.wait(timeout=30)
    return figures


_STORE_WORKER = """
import json, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {scripts!r})
from benchmarks.load import article
from rag.embedding.fake import HashEncoder
from rag.engine import Engine, EngineConfig
from rag.parsing.loaders import document_from_text

def doc(i):
    a = article(i, {chars})
    return document_from_text(a["title"], a["text"], a["authors"], "bench")

with tempfile.TemporaryDirectory() as tmp:
    engine = Engine(EngineConfig(index_dir=Path(tmp) / "idx", corpus=(Path({page!r}),)),
                    encoder=HashEncoder())
    engine.warm_up()
    for i in range({base}):
        engine.add_document(doc(100_000 + i))
    posts, deletes = [], []
    for i in range({writes}):
        t0 = time.perf_counter()
        engine.add_document(doc(i))
        posts.append((time.perf_counter() - t0) * 1000)
    for i in range({writes}):
        t0 = time.perf_counter()
        engine.delete_document(doc(i).doc_id)
        deletes.append((time.perf_counter() - t0) * 1000)
    size = sum(p.stat().st_size for p in (Path(tmp) / "idx").rglob("*") if p.is_file())
    print(json.dumps({{"chunks": len(engine.index.chunks), "base_docs": {base},
        "add_p50_ms": round(statistics.median(posts), 1), "add_max_ms": round(max(posts), 1),
        "delete_p50_ms": round(statistics.median(deletes), 1),
        "folder_mb": round(size / 1e6, 2)}}))
"""


def store_cost(args: argparse.Namespace) -> dict:
    """The write path without the model (fake encoder): what the store itself costs a POST."""
    code = _STORE_WORKER.format(
        scripts=str(ROOT / "scripts"),
        chars=args.chars,
        page=str(ROOT / "data" / "articles.txt"),
        base=args.store_base,
        writes=args.store_writes,
    )
    env = os.environ | {"PYTHONPATH": str(args.code)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=args.code, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    p.add_argument("--readers", type=int, default=8, help="concurrent /search+/ask clients")
    p.add_argument("--chars", type=int, default=3000, help="characters per posted document")
    p.add_argument("--keep", type=int, default=1, help="posted documents kept before deleting")
    p.add_argument("--big-chars", type=int, default=20_000, help="then one long POST (0: none)")
    p.add_argument("--big-authors", type=int, default=300, help="authors of the long POST")
    p.add_argument("--code", type=Path, default=ROOT, help="checkout to run the server from")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--store", action="store_true", help="only the store's write cost (fake encoder, no server)"
    )
    p.add_argument("--store-base", type=int, default=300, help="documents indexed before timing")
    p.add_argument("--store-writes", type=int, default=20, help="timed adds, then as many deletes")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    args = p.parse_args(argv)
    figures = store_cost(args) if args.store else run(args)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key:>16}: {value}")
    return 0 if figures.get("errors", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
