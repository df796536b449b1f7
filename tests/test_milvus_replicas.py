"""Two `rag serve --backend milvus` replicas sharing one Milvus (a `milvus-lite server`).

The replicas share nothing but the Milvus address: a document added through one is
answered, with a verbatim citation, by the other, and a deletion through the second is
seen by the first. Real processes, real model, real HTTP.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def milvus_lite_server(data_dir: Path):
    """A `milvus-lite server` process on a free port; yields its http:// URI."""
    exe = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or "milvus-lite"
    port = free_port()
    log_path = data_dir.parent / "milvus-lite.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [exe, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc, 120, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()


@contextlib.contextmanager
def replica(uri: str, workdir: Path, name: str):
    """`rag serve --backend milvus` in its own process; yields its base URL once healthy."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log_path = workdir / f"{name}.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--backend", "milvus", "--milvus-uri", uri,
         "--index-dir", str(workdir / name), "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_port(port, proc, 600, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()


@pytest.mark.slow
def test_a_document_added_through_one_replica_is_answered_by_the_other(tmp_path):
    title = "量子通信骨干网建设进展"
    text = "记者从有关部门获悉，国家量子通信骨干网已覆盖十八个省份，总长度超过一万二千公里。"
    # The first replica builds the shared index from the bundled page; the second finds it.
    with (
        milvus_lite_server(tmp_path / "milvus") as uri,
        replica(uri, tmp_path, "a") as a,
        replica(uri, tmp_path, "b") as b,
    ):
        ha = httpx.get(f"{a}/health", timeout=30).json()
        hb = httpx.get(f"{b}/health", timeout=30).json()
        assert ha["documents"] == hb["documents"] > 0
        assert ha["chunks"] == hb["chunks"]

        r = httpx.post(f"{a}/documents", json={"title": title, "text": text}, timeout=120)
        assert r.status_code == 201, r.text
        doc_id = r.json()["id"]
        assert httpx.get(f"{b}/health", timeout=30).json()["documents"] == ha["documents"] + 1

        r = httpx.post(
            f"{b}/ask", json={"question": "量子通信骨干网覆盖了多少个省份？"}, timeout=120
        )
        assert r.status_code == 200, r.text
        answer = r.json()
        cited = [c for c in answer["citations"] if c["doc_id"] == doc_id]
        assert cited, answer
        doc = httpx.get(f"{b}/documents/{doc_id}", timeout=30).json()
        for c in cited:
            assert doc["text"][c["start"] : c["end"]] == c["quote"]
        assert "十八个省份" in "".join(c["quote"] for c in cited)

        assert httpx.delete(f"{b}/documents/{doc_id}", timeout=60).status_code == 200
        assert httpx.get(f"{a}/documents/{doc_id}", timeout=30).status_code == 404
        hits = httpx.post(
            f"{a}/search", json={"query": "量子通信骨干网", "top_k": 5}, timeout=60
        ).json()["hits"]
        assert all(h["doc_id"] != doc_id for h in hits)
