"""A real ``rag serve`` in a subprocess, workers in fresh interpreters, and a run's state.

Runtimes: every section that embeds text runs once per runtime named in ``--runtimes``
(``torch``: the torch fp32 path, the baseline; ``default``: whatever the service picks with
no setting, i.e. the new default; ``onnx``: ONNX Runtime int8), each server or worker getting
``RAG_RUNTIME`` in its environment, so the ratios compare paths measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from benchmarks import USER_OMP_WAIT_POLICY
from benchmarks.common import BUNDLED, ROOT, proc_status

# name -> (path, request body for a query)
ENDPOINTS: dict[str, tuple[str, Callable[[str], dict]]] = {
    "search_dense": ("/search", lambda q: {"query": q, "top_k": 5, "mode": "dense"}),
    "search_hybrid": ("/search", lambda q: {"query": q, "top_k": 5, "mode": "hybrid"}),
    "ask": ("/ask", lambda q: {"question": q, "top_k": 5}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rag_command() -> list[str]:
    script = Path(sys.executable).parent / "rag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def child_env(runtime: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for servers and workers: default settings (no API key, not read-only),
    ``RAG_RUNTIME`` set to ``runtime`` unless that is None or ``default``."""
    keep = ("RAG_MODEL_CACHE", "RAG_MODEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k in keep}
    env.pop("OMP_WAIT_POLICY", None)
    if USER_OMP_WAIT_POLICY is not None:
        env["OMP_WAIT_POLICY"] = USER_OMP_WAIT_POLICY
    if runtime not in (None, "default"):
        env["RAG_RUNTIME"] = str(runtime)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "scripts"), env.get("PYTHONPATH", "")]
    )
    env.update(extra or {})
    return env


class Server:
    """``rag serve`` in a subprocess on a free port; its log goes to a file."""

    def __init__(
        self,
        index_dir: Path,
        log: Path,
        runtime: str | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.runtime = runtime
        self.args = args
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.started = 0.0
        self._log = None

    def start(self) -> None:
        cmd = [
            *rag_command(),
            "serve",
            "--port",
            str(self.port),
            "--index-dir",
            str(self.index_dir),
            *self.args,
        ]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=child_env(self.runtime, self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
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
        if self._log is not None:
            self._log.close()


@contextlib.contextmanager
def serving(index_dir: Path, log: Path, runtime: str | None = None, **kwargs) -> Iterator[Server]:
    """A started, ready server, stopped on exit."""
    server = Server(index_dir, log, runtime, **kwargs)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


_REQUESTS = itertools.count()


def call(
    client: httpx.Client, url: str, name: str, query: str, unique: bool = True
) -> tuple[float, dict]:
    """One request; returns client-side milliseconds and the server's ``timings_ms``.

    With ``unique`` (the default) the question gets a request number appended (`` #17``), so
    that the service's cache of query vectors never answers it: the figures measure encoding.
    """
    path, body = ENDPOINTS[name]
    text = f"{query} #{next(_REQUESTS)}" if unique else query
    t = time.perf_counter()
    r = client.post(url + path, json=body(text))
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return ms, r.json().get("timings_ms", {})


def run_worker(module: str, params: dict, runtime: str | None = None) -> dict:
    """Run ``benchmarks.<module>``'s worker in a fresh interpreter (so its memory and start-up
    are its own); return the JSON it prints."""
    cmd = [sys.executable, "-m", f"benchmarks.{module}", json.dumps(params)]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=child_env(runtime), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"worker {module} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - t, 2)
    return result


def worker_main(fn: Callable[[dict], dict]) -> None:
    """Entry point of a worker module: params as JSON in argv[1], result as JSON on stdout."""
    print(json.dumps(fn(json.loads(sys.argv[1]))))


class Context:
    """One benchmark run: options, a temporary folder, the runtimes and a shared base index."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.runtimes: list[str] = list(args.runtimes)
        self._base: Path | None = None
        self.base_build: dict = {}

    @property
    def baseline(self) -> str:
        """The runtime the others are divided by (the first one named)."""
        return self.runtimes[0]

    def base_index(self) -> Path:
        """An index of the bundled page, built once per run with ``rag ingest --rebuild`` by the
        service's default runtime (the other runtimes query it: same model, compatible)."""
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
