"""Benchmark the service: query latency, ingest, FAISS at scale, start-up time.

Usage::

    .venv/bin/python scripts/bench.py             # everything: ~22 min on 2 cores (1M vectors)
    .venv/bin/python scripts/bench.py --quick     # smoke run: ~2 min
    .venv/bin/python scripts/bench.py --only latency,startup --out artifacts/bench.json

Sections:

- ``latency``: a real ``rag serve`` subprocess on a fresh index of the bundled page; p50/p95
  of ``/search`` (hybrid), ``/ask`` and the baseline ``/search`` in dense mode, one client and
  several concurrent clients, over a fixed list of Chinese and English questions.
- ``ingest``: chunks embedded per second and build time (bundled page and a ~300-chunk
  synthetic corpus, each in a fresh subprocess), and the server's RSS at rest and while
  documents are POSTed to ``/documents``.
- ``scale``: FAISS exact (flat) against HNSW and IVF, as the service builds them
  (``rag.index.dense.build_faiss``), on synthetic unit-length 384-d vectors.
- ``startup``: launch ``rag serve`` on an existing index until the first answered ``/ask``,
  and an in-process breakdown of where that time goes.

Ratios are always against a baseline measured in the same run. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# What the servers we launch should see: the operator's OpenMP setting, not the one set below.
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")

# Before numpy, faiss or torch load an OpenMP runtime: sleeping, not spinning, threads (see
# rag/embedding/_omp.py; spinning threads on a busy 2-core host make timings erratic).
from rag.embedding import _omp  # noqa: E402, F401, I001

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "articles.txt"
SECTIONS = ("latency", "ingest", "scale", "startup")
DIM = 384

# Fixed questions about the bundled articles (from tests/data/questions.jsonl), both languages.
QUERIES = [
    "截至2023年9月,累计有多少人纳入职业伤害保障范围？",
    "职业伤害保障试点有哪四个亮点？",
    "哪些平台企业参加了职业伤害保障试点？",
    "平台从业人员的职业伤害保障费用怎么交？",
    "送外卖的人为什么特别容易在工作中受伤？",
    "有多少新就业形态劳动者从来没有用过公共就业服务？",
    "每个入选的公共就业服务示范项目能拿到多少中央财政补助？",
    "骑手们为什么不愿意抽空去参加培训？",
    "世界一流企业有哪些特征？",
    "企业可以通过哪些办法提升职工技能？",
    "中国工会十八大是在哪里、什么时间召开的？",
    "新征程上北京工会要实施哪四项行动？",
    "What are the four highlights of the injury-insurance pilot?",
    "Which platform companies are covered by the occupational injury pilot?",
    "Why can't the traditional work-injury insurance protect platform workers?",
    "Why do food-delivery couriers skip skills courses?",
    "What four qualities define a world-class enterprise according to the Tianjin trade union article?",
    "How should pay growth relate to productivity growth?",
    "When and where was the 18th National Congress of Chinese Trade Unions held?",
    "What four actions will Beijing trade unions carry out on the new journey?",
]

# name -> (path, request body for a query)
ENDPOINTS: dict[str, tuple[str, Callable[[str], dict]]] = {
    "search_dense": ("/search", lambda q: {"query": q, "top_k": 5, "mode": "dense"}),
    "search_hybrid": ("/search", lambda q: {"query": q, "top_k": 5, "mode": "hybrid"}),
    "ask": ("/ask", lambda q: {"question": q, "top_k": 5}),
}

TARGETS = {
    "search_p50_ms": 50.0,  # /search (hybrid) p50, one client, end to end
    "ask_p50_ms": 80.0,  # /ask p50, one client, end to end
    "startup_s": 15.0,  # launch with an existing index -> first answered /ask
}


# ---- small helpers --------------------------------------------------------------------------
def summary(ms: list[float]) -> dict:
    """n, p50, p95, mean and max of a list of milliseconds."""
    a = np.asarray(ms, dtype=float)
    return {
        "n": len(a),
        "p50": round(float(np.percentile(a, 50)), 2),
        "p95": round(float(np.percentile(a, 95)), 2),
        "mean": round(float(a.mean()), 2),
        "max": round(float(a.max()), 2),
    }


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process in MB (Linux; empty elsewhere)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rag_command() -> list[str]:
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def child_env() -> dict[str, str]:
    """The environment for servers and workers: no API key, not read-only, default settings."""
    keep = ("RAG_MODEL_CACHE", "RAG_MODEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k in keep}
    env.pop("OMP_WAIT_POLICY", None)
    if USER_OMP_WAIT_POLICY is not None:
        env["OMP_WAIT_POLICY"] = USER_OMP_WAIT_POLICY
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    mem = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    import faiss

    return {
        "cpu": model,
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem, 1),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "commit": commit,
        "load_average_at_start": os.getloadavg(),
    }


MARKDOWN = False  # --markdown: print GitHub tables (for docs/benchmarks.md)


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(v) for v in r] for r in rows]
    print(f"\n## {title}")
    if MARKDOWN:
        print()
        for r in [header, ["---"] * len(header), *cells]:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    for r in [header, *cells]:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


# ---- a real server --------------------------------------------------------------------------
class Server:
    """``rag serve`` in a subprocess on a free port; its log goes to a file."""

    def __init__(self, index_dir: Path, log: Path) -> None:
        self.index_dir = index_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def start(self) -> None:
        cmd = [
            *rag_command(),
            "serve",
            "--port",
            str(self.port),
            "--index-dir",
            str(self.index_dir),
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Poll /health until the service is up; return seconds since start."""
        assert self.proc is not None
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited ({self.proc.returncode}):\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    r = client.get(self.url + "/health")
                    if r.status_code == 200 and r.json().get("status") == "ok":
                        return time.perf_counter() - self.started
                time.sleep(0.02)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_tail()}")

    def rss(self) -> dict[str, float]:
        assert self.proc is not None
        return proc_status(self.proc.pid)

    def log_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "_log"):
            self._log.close()


@contextlib.contextmanager
def serving(index_dir: Path, log: Path) -> Iterator[Server]:
    server = Server(index_dir, log)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def call(client: httpx.Client, url: str, name: str, query: str) -> tuple[float, dict]:
    """One request; returns client-side milliseconds and the server's ``timings_ms``."""
    path, body = ENDPOINTS[name]
    t = time.perf_counter()
    r = client.post(url + path, json=body(query))
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return ms, r.json().get("timings_ms", {})


# ---- shared state of a run ------------------------------------------------------------------
class Run:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self._base: Path | None = None
        self.base_build: dict = {}

    def base_index(self) -> Path:
        """An index of the bundled page, built once per run with ``rag ingest --rebuild``."""
        if self._base is None:
            base = self.tmp / "base-index"
            cmd = [*rag_command(), "ingest", "--rebuild", "--index-dir", str(base), str(BUNDLED)]
            t = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"rag ingest failed:\n{done.stdout}\n{done.stderr}")
            self.base_build = {"cli_rebuild_s": round(time.perf_counter() - t, 2)}
            self._base = base
        return self._base

    def index_copy(self, name: str) -> Path:
        target = self.tmp / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.base_index(), target)
        return target


# ---- 1. latency -----------------------------------------------------------------------------
def bench_latency(run: Run) -> dict:
    args = run.args
    names = list(ENDPOINTS)
    out: dict = {"queries": len(QUERIES), "rounds": args.rounds, "clients": args.clients}
    with serving(run.index_copy("latency-index"), run.tmp / "latency.log") as server:
        url = server.url
        with httpx.Client(timeout=60.0) as client:
            for q in QUERIES:  # warm-up: every query through every endpoint once
                for name in names:
                    call(client, url, name, q)
            health = []
            for _ in range(50):
                t = time.perf_counter()
                client.get(url + "/health").raise_for_status()
                health.append((time.perf_counter() - t) * 1000)
            out["health"] = summary(health)
            out["server_rss_mb"] = server.rss()

            # One client; the endpoint order rotates so none always runs first.
            ms: dict[str, list[float]] = {n: [] for n in names}
            server_ms: dict[str, list[dict]] = {n: [] for n in names}
            for r in range(args.rounds):
                for i, q in enumerate(QUERIES):
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
                block, wall = concurrent_pass(url, name, args.clients)
                pooled[name] = (pooled[name][0] + block, pooled[name][1] + wall)
        concurrent = {}
        for name, (block, wall) in pooled.items():
            concurrent[name] = summary(block) | {"qps": round(len(block) / wall, 1)}
        out["concurrent"] = concurrent

    base = single["search_dense"]
    out["ratios_vs_dense"] = {
        name: {
            "p50": round(single[name]["p50"] / base["p50"], 2),
            "p95": round(single[name]["p95"] / base["p95"], 2),
            "concurrent_p50": round(concurrent[name]["p50"] / concurrent["search_dense"]["p50"], 2),
        }
        for name in names
    }
    return out


def breakdown(timings: list[dict]) -> dict[str, float]:
    """Median of each server-side timing (``embed``, ``dense``, ``keyword``, ``total``...)."""
    keys = sorted({k for t in timings for k in t})
    return {k: round(statistics.median(t[k] for t in timings if k in t), 2) for k in keys}


def concurrent_pass(url: str, name: str, clients: int) -> tuple[list[float], float]:
    """``clients`` threads, each with its own connection, each over the whole question list
    (from different starting points); returns every latency and the wall time."""
    barrier = threading.Barrier(clients + 1)

    def worker(offset: int) -> list[float]:
        order = QUERIES[offset:] + QUERIES[:offset]
        with httpx.Client(timeout=120.0) as client:
            call(client, url, name, order[0])  # open the connection before timing
            barrier.wait()
            return [call(client, url, name, q)[0] for q in order]

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker, i * len(QUERIES) // clients) for i in range(clients)]
        barrier.wait()
        t = time.perf_counter()
        ms = [m for f in futures for m in f.result()]
        wall = time.perf_counter() - t
    return ms, wall


# ---- 2. ingest ------------------------------------------------------------------------------
def synthetic_documents(copies: int) -> list[dict]:
    """The bundled articles ``copies`` times over, each copy with its paragraphs rotated and a
    numbered title, so that every copy chunks and embeds differently (~38 chunks a copy)."""
    from rag.parsing import load_documents

    docs = []
    for i in range(1, copies + 1):
        for doc in load_documents([BUNDLED]):
            paras = [p for p in doc.text.split("\n") if p.strip()]
            shift = i % len(paras)
            docs.append(
                {
                    "title": f"{doc.title}（第{i}版）",
                    "paragraphs": paras[shift:] + paras[:shift],
                    "authors": list(doc.authors),
                }
            )
    return docs


def run_worker(name: str, params: dict) -> dict:
    """Run ``name`` in a fresh interpreter (so its memory is its own); return its JSON."""
    cmd = [sys.executable, __file__, "--worker", name, "--worker-params", json.dumps(params)]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"worker {name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - t, 2)
    return result


def worker_ingest(params: dict) -> dict:
    """Load the model, then build an index from ``paths``; time the embedding inside it."""
    t0 = time.perf_counter()
    from api.settings import Settings
    from rag.engine import Engine, make_encoder

    config = Settings.from_env().with_overrides(index_dir=Path(params["index_dir"])).engine_config()
    encoder = make_encoder(config)
    encoder.warm_up()
    t1 = time.perf_counter()
    rss_loaded = proc_status()
    embed = {"s": 0.0, "texts": 0}
    encode = encoder.encode_documents

    def timed(texts: list[str], progress: bool = False) -> np.ndarray:
        t = time.perf_counter()
        vectors = encode(texts, progress=progress)
        embed["s"] += time.perf_counter() - t
        embed["texts"] += len(texts)
        return vectors

    encoder.encode_documents = timed  # type: ignore[method-assign]
    engine = Engine(config, encoder=encoder)
    t2 = time.perf_counter()
    report = engine.ingest([Path(p) for p in params["paths"]], rebuild=True)
    build_s = time.perf_counter() - t2
    assert engine.index is not None
    return {
        "documents": len(engine.index.documents),
        "chunks": report.chunks_added,
        "ann_kind": engine.index.dense.kind,
        "import_and_load_s": round(t1 - t0, 2),
        "build_s": round(build_s, 2),
        "embed_s": round(embed["s"], 2),
        "other_build_s": round(build_s - embed["s"], 2),
        "chunks_per_s_embed": round(embed["texts"] / embed["s"], 1),
        "chunks_per_s_build": round(report.chunks_added / build_s, 1),
        "rss_after_load_mb": round(rss_loaded.get("VmRSS", 0), 0),
        "peak_rss_mb": round(proc_status().get("VmHWM", 0), 0),
    }


def bench_ingest(run: Run) -> dict:
    args = run.args
    docs = synthetic_documents(args.synthetic_copies)
    corpus = run.tmp / "synthetic" / "corpus.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    with open(corpus, "w", encoding="utf-8") as f:
        for n, d in enumerate(docs):
            row = {"_id": f"syn-{n}", "title": d["title"], "text": "\n".join(d["paragraphs"])}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    out: dict = {"bundled": {}, "synthetic": {}}
    for label, path in (("bundled", BUNDLED), ("synthetic", corpus)):
        out[label] = run_worker(
            "ingest", {"index_dir": str(run.tmp / f"ingest-{label}"), "paths": [str(path)]}
        )
    out["bundled"].update(run.base_build)

    # The server: RSS at rest, then sampled while documents are POSTed one at a time.
    with serving(run.index_copy("ingest-index"), run.tmp / "ingest.log") as server:
        time.sleep(1.0)
        rest = server.rss()
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(server.rss().get("VmRSS", 0.0))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        posted = args.post_documents or len(docs)
        chunks, ms = 0, []
        t = time.perf_counter()
        with httpx.Client(timeout=300.0) as client:
            for d in docs[:posted]:
                body = {
                    "title": d["title"],
                    "text": "\n\n".join(d["paragraphs"]),
                    "authors": d["authors"],
                    "source": "bench",
                }
                t1 = time.perf_counter()
                r = client.post(server.url + "/documents", json=body)
                r.raise_for_status()
                ms.append((time.perf_counter() - t1) * 1000)
                chunks += r.json()["chunks"]
            wall = time.perf_counter() - t
            total = client.get(server.url + "/health").json()["chunks"]
        stop.set()
        sampler.join()
        after = server.rss()
    out["server"] = {
        "rss_at_rest_mb": round(rest.get("VmRSS", 0), 0),
        "hwm_before_ingest_mb": round(rest.get("VmHWM", 0), 0),
        "documents_posted": posted,
        "chunks_added": chunks,
        "chunks_in_index_after": total,
        "post_wall_s": round(wall, 2),
        "chunks_per_s": round(chunks / wall, 1),
        "post_ms": summary(ms),
        "peak_rss_sampled_mb": round(max(samples, default=0.0), 0),
        "rss_after_mb": round(after.get("VmRSS", 0), 0),
        "hwm_after_mb": round(after.get("VmHWM", 0), 0),
    }
    return out


# ---- 3. scale -------------------------------------------------------------------------------
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


def bench_scale(run: Run) -> dict:
    import faiss

    from rag.index.dense import build_faiss

    args = run.args
    threads = faiss.omp_get_max_threads()
    rows = []
    for kind in args.scale_data:
        for n in args.scale_sizes:
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
                    "size_mb": index_mb(index, run.tmp),
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


# ---- 4. startup -----------------------------------------------------------------------------
def worker_startup(params: dict) -> dict:
    """What ``rag serve`` does before it answers, phase by phase, in one process."""
    phases = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases[name] = round(now - t, 3)
        t = now

    import api.app  # noqa: F401 - fastapi, pydantic, the rag package (not torch)
    from api.settings import Settings
    from rag.engine import Engine, make_encoder

    lap("import_api")
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    lap("import_torch_st")
    config = Settings.from_env().with_overrides(index_dir=Path(params["index_dir"])).engine_config()
    encoder = make_encoder(config)
    encoder.warm_up()
    lap("load_model")
    from rag.index.store import Index

    index = Index.load(config.index_dir, encoder)
    lap("load_index")
    del index
    engine = Engine(config, encoder=encoder)
    engine.warm_up()  # loads the index again, then one warm-up search (jieba, BM25)
    lap("load_index_and_warm_search")
    engine.ask(QUERIES[1])
    lap("first_ask")
    engine.ask(QUERIES[2])
    lap("second_ask")
    return {"phases_s": phases}


def bench_startup(run: Run) -> dict:
    index_dir = run.index_copy("startup-index")
    runs = []
    for i in range(run.args.startup_runs):
        server = Server(index_dir, run.tmp / f"startup-{i}.log")
        server.start()
        try:
            ready = server.wait_ready()
            with httpx.Client(timeout=60.0) as client:
                t = time.perf_counter()
                r = client.post(server.url + "/ask", json={"question": QUERIES[0]})
                r.raise_for_status()
                first = time.perf_counter() - t
            runs.append(
                {
                    "ready_s": round(ready, 2),
                    "first_ask_ms": round(first * 1000, 1),
                    "total_s": round(time.perf_counter() - server.started, 2),
                    "rss_mb": round(server.rss().get("VmRSS", 0), 0),
                }
            )
        finally:
            server.stop()
    return {
        "runs": runs,
        "median_total_s": round(statistics.median(r["total_s"] for r in runs), 2),
        "median_ready_s": round(statistics.median(r["ready_s"] for r in runs), 2),
        "profile": run_worker("startup", {"index_dir": str(index_dir)}),
    }


# ---- report ---------------------------------------------------------------------------------
def targets(results: dict) -> list[dict]:
    out = []
    lat = results.get("latency")
    if lat:
        for key, name in (("search_p50_ms", "search_hybrid"), ("ask_p50_ms", "ask")):
            value = lat["single"][name]["p50"]
            out.append({"target": key, "limit": TARGETS[key], "value": value})
    if results.get("startup"):
        value = results["startup"]["median_total_s"]
        out.append({"target": "startup_s", "limit": TARGETS["startup_s"], "value": value})
    for t in out:
        t["result"] = "PASS" if t["value"] < t["limit"] else "MISS"
    return out


def cols(spec: str) -> list[str]:
    return spec.split("|")


def report(results: dict) -> None:
    """Print the tables (the JSON holds more)."""
    lat = results.get("latency")
    if lat:
        rows = []
        for mode, data in (("1", lat["single"]), (str(lat["clients"]), lat["concurrent"])):
            for name, s in data.items():
                ratio = s["p50"] / data["search_dense"]["p50"]
                rows.append([name, mode, s["n"], s["p50"], s["p95"], s["qps"], f"{ratio:.2f}x"])
        h = lat["health"]
        rows.append(["GET /health", "1", h["n"], h["p50"], h["p95"], "-", "-"])
        print_table(
            "Query latency through the server (ms; ratio = p50 / dense p50, same clients)",
            cols("endpoint|clients|n|p50|p95|qps|vs dense"),
            rows,
        )
        keys = ["embed", "dense", "keyword", "total", "search", "answer"]
        rows = [
            [name, s["p50"], *[s["server_ms"].get(k, "-") for k in keys], s["outside_engine_ms"]]
            for name, s in lat["single"].items()
        ]
        print_table(
            "Where the time goes, one client (server-side medians, ms)",
            ["endpoint", "client p50", *keys, "outside engine"],
            rows,
        )
    ing = results.get("ingest")
    if ing:
        keys = [
            "documents", "chunks", "embed_s", "chunks_per_s_embed", "build_s",
            "chunks_per_s_build", "import_and_load_s", "rss_after_load_mb", "peak_rss_mb",
        ]  # fmt: skip
        rows = [[label, *[ing[label][k] for k in keys]] for label in ("bundled", "synthetic")]
        print_table(
            "Ingest in a fresh process (build = parse + chunk + embed + BM25 + FAISS + save)",
            cols(
                "corpus|docs|chunks|embed s|chunks/s|build s|chunks/s build|load s|RSS MB|peak MB"
            ),
            rows,
        )
        s = ing["server"]
        keys = [
            "rss_at_rest_mb", "hwm_before_ingest_mb", "documents_posted", "chunks_added",
            "post_wall_s", "chunks_per_s", "peak_rss_sampled_mb", "rss_after_mb", "hwm_after_mb",
        ]  # fmt: skip
        print_table(
            "Server memory (MB) and POST /documents",
            cols("at rest|HWM before|docs|chunks|wall s|chunks/s|peak sampled|after|HWM after"),
            [[s[k] for k in keys]],
        )
    sc = results.get("scale")
    if sc:
        rows = []
        for r in sc["rows"]:
            star = " *" if r["default"] and r["index"] != "flat" else ""
            rows.append(
                [r["data"], f"{r['n']:,}", r["index"], r["params"] + star, r["build_s"]]
                + [r["size_mb"], r["rss_delta_mb"], r["query_ms_p50"], r["query_ms_p50_1thread"]]
                + [f"{r['speedup_vs_flat_1thread']}x", r["batch_qps"], r["recall_at_10"]]
            )
        print_table(
            f"FAISS at scale ({sc['dim']}-d; one-query p50 with {sc['faiss_threads']} and 1 "
            "threads; recall@10 vs exact; * = service default)",
            cols(
                "data|n|index|params|build s|size MB|RSS +MB|ms|ms 1thr|vs flat 1thr|batch q/s|recall@10"
            ),
            rows,
        )
    st = results.get("startup")
    if st:
        keys = ["ready_s", "first_ask_ms", "total_s", "rss_mb"]
        print_table(
            "Start-up: launch -> first answered /ask",
            cols("run|ready s|first /ask ms|total s|RSS MB"),
            [[i + 1, *[r[k] for k in keys]] for i, r in enumerate(st["runs"])],
        )
        phases = st["profile"]["phases_s"]
        print_table("Start-up, in-process breakdown (s)", list(phases), [list(phases.values())])
    if results.get("targets"):
        print_table(
            "Targets",
            cols("target|limit|measured|result"),
            [[t["target"], t["limit"], t["value"], t["result"]] for t in results["targets"]],
        )


# ---- main -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"sections, comma separated: {','.join(SECTIONS)}",
    )
    p.add_argument(
        "--quick", action="store_true", help="a fast smoke run (fewer rounds, 20k vectors)"
    )
    p.add_argument(
        "--out", type=Path, default=ROOT / "artifacts" / "bench.json", help="JSON results"
    )
    p.add_argument("--rounds", type=int, help="passes over the questions, one client (default 5)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument("--concurrent-rounds", type=int, help="passes per concurrent client (default 3)")
    p.add_argument(
        "--synthetic-copies", type=int, help="copies of the bundled page (default 8, ~300 chunks)"
    )
    p.add_argument(
        "--post-documents", type=int, help="documents POSTed to the server (default all)"
    )
    p.add_argument("--scale-sizes", help="vector counts, comma separated (default 100000,1000000)")
    p.add_argument("--scale-data", default="clustered,uniform", help="clustered and/or uniform")
    p.add_argument("--scale-queries", type=int, help="queries for recall (default 500)")
    p.add_argument("--startup-runs", type=int, help="server launches (default 3)")
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--from-json", type=Path, help="print the tables of a saved run; run nothing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-params", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "rounds": 1 if quick else 5,
        "concurrent_rounds": 1 if quick else 3,
        "synthetic_copies": 2 if quick else 8,
        "scale_sizes": "20000" if quick else "100000,1000000",
        "scale_queries": 100 if quick else 500,
        "startup_runs": 1 if quick else 3,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    args.scale_sizes = [int(s) for s in str(args.scale_sizes).split(",") if s.strip()]
    args.scale_data = [s.strip() for s in args.scale_data.split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        workers = {"ingest": worker_ingest, "startup": worker_startup}
        print(json.dumps(workers[args.worker](json.loads(args.worker_params))))
        return 0
    global MARKDOWN
    MARKDOWN = args.markdown
    if args.from_json:
        report(json.loads(args.from_json.read_text()))
        return 0
    sys.path.insert(0, str(ROOT))
    results: dict = {"machine": machine(), "quick": args.quick, "sections": args.only}
    print(f"machine: {results['machine']}")
    sections = {
        "latency": bench_latency,
        "ingest": bench_ingest,
        "scale": bench_scale,
        "startup": bench_startup,
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        run = Run(args, Path(tmp))
        for name in SECTIONS:
            if name in args.only:
                print(f"\n[{name}] running...", flush=True)
                t = time.perf_counter()
                results[name] = sections[name](run)
                results[name]["section_s"] = round(time.perf_counter() - t, 1)
                results[name]["load_average_after"] = os.getloadavg()
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    results["targets"] = targets(results)
    report(results)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
