"""Writes that readers never see half-done, that a crash never takes back, one writer a folder.

The crash tests run a writer in a child process and kill it with SIGKILL at named points of a
write or a compaction (``rag.index.wal.crash_point``, replaced in the child only), then open
the folder again and check that every write the child had acknowledged is there.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.embedding.fake import HashEncoder
from rag.engine import Engine, EngineConfig
from rag.errors import IndexLockedError, InputError, NotFoundError
from rag.index.store import Index
from rag.index.wal import LOG_NAME
from rag.parsing.loaders import document_from_text
from rag.types import Document
from tests.conftest import BUNDLED_PAGE, ROOT


def _config(folder: Path, **kw) -> EngineConfig:
    return EngineConfig(index_dir=folder, corpus=(BUNDLED_PAGE,), **kw)


def _engine(folder: Path, **kw) -> Engine:
    engine = Engine(_config(folder, **kw), encoder=HashEncoder())
    engine.warm_up()
    return engine


def _doc(i: int, chars: int = 600) -> Document:
    sentence = f"第{i}号新闻稿讲述了职工服务中心的第{i}项新举措，惠及货车司机和快递员。"
    text = (sentence * (chars // len(sentence) + 1))[:chars]
    return document_from_text(f"测试新闻{i}", text, ["记者甲", "记者乙"], source="test")


@pytest.fixture()
def fake_model(monkeypatch):
    """The CLI builds its engine from settings: give it the fake encoder."""
    monkeypatch.setattr("rag.engine.make_encoder", lambda config, progress=False: HashEncoder())


def _check_consistent(index) -> None:
    assert len(index.chunks) == len(index.dense) == len(index.keyword)
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


# ---- the log -----------------------------------------------------------------------------
def test_writes_are_logged_and_replayed_without_rewriting_the_base(tmp_path):
    folder = tmp_path / "idx"
    engine = _engine(folder)
    base = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}
    report = engine.add_document(_doc(1))
    added = report.added
    assert set(report.timings_ms) == {"embed", "index", "log"}
    engine.delete_document(engine.documents()[0].doc_id)
    assert (folder / LOG_NAME).exists()
    # The base files were not touched: a write costs what it adds.
    assert {p: folder.joinpath(p).stat().st_mtime_ns for p in base} == base
    snapshot = engine.index
    engine.close()
    loaded = Index.load(folder, HashEncoder())
    assert loaded.log_records == 2 and set(added) <= set(loaded.documents)
    assert set(loaded.documents) == set(snapshot.documents)
    assert loaded.chunks == snapshot.chunks
    _check_consistent(loaded)


def test_rag_compact_folds_the_log_in(tmp_path, fake_model, capsys):
    from api.cli import main

    folder = tmp_path / "idx"
    engine = _engine(folder)
    added = engine.add_document(_doc(1)).added[0]
    engine.close()
    assert Index.load(folder, HashEncoder()).log_records == 1
    assert main(["compact", "--index-dir", str(folder)]) == 0
    assert "6 documents" in capsys.readouterr().out
    loaded = Index.load(folder, HashEncoder())
    assert loaded.log_records == 0 and added in loaded.documents


def test_compaction_folds_the_log_into_the_base_with_the_same_results(tmp_path):
    folder = tmp_path / "idx"
    engine = _engine(folder)
    for i in range(3):
        engine.add_document(_doc(i))
    before = [h.chunk.chunk_id for h in engine.search("职工服务中心的新举措", top_k=8).hits]
    engine.compact()
    assert not (folder / LOG_NAME).exists() or not (folder / LOG_NAME).read_bytes()
    engine.close()
    reopened = _engine(folder)
    assert [
        h.chunk.chunk_id for h in reopened.search("职工服务中心的新举措", top_k=8).hits
    ] == before
    assert len(reopened.documents()) == 8
    assert not list(tmp_path.glob("idx.old-*")) and not list(tmp_path.glob("idx.tmp-*"))


def test_the_log_is_compacted_in_the_background_after_enough_writes(tmp_path):
    folder = tmp_path / "idx"
    engine = _engine(folder, compact_after=3)
    for i in range(3):
        engine.add_document(_doc(i))
    engine._compaction.join(timeout=30)
    assert engine._store.log_records == 0
    engine.add_document(_doc(9))
    engine.close()
    assert Index.load(folder, HashEncoder()).log_records == 1
    assert len(Index.load(folder, HashEncoder()).documents) == 9


def test_a_torn_last_record_is_dropped_and_overwritten(tmp_path):
    folder = tmp_path / "idx"
    engine = _engine(folder)
    kept = engine.add_document(_doc(1)).added[0]
    engine.close()
    with open(folder / LOG_NAME, "ab") as f:
        f.write(b'0badc0de {"op": "add", "documents": [{"doc_')  # a crash mid-append
    engine = _engine(folder)
    assert kept in {d.doc_id for d in engine.documents()}
    later = engine.add_document(_doc(2)).added[0]
    engine.close()
    assert {kept, later} <= set(Index.load(folder, HashEncoder()).documents)


def test_a_document_with_nothing_to_index_is_refused(tmp_path):
    engine = _engine(tmp_path / "idx")
    with pytest.raises(InputError, match="only punctuation") as err:
        engine.add_document(document_from_text("标点", "。。。！！？？……——", source="test"))
    assert err.value.param == "text"
    assert len(engine.documents()) == 5


# ---- recovery wherever the folder is opened ------------------------------------------------
def test_an_interrupted_swap_is_recovered_by_the_engine_not_rebuilt_from_the_corpus(tmp_path):
    folder = tmp_path / "idx"
    engine = _engine(folder)
    added = engine.add_document(_doc(1)).added[0]
    engine.compact()
    engine.close()
    os.rename(folder, tmp_path / "idx.old-99999")  # the state right after the first rename
    (tmp_path / "idx.tmp-99999-1").mkdir()  # and a half-written new base
    engine = _engine(folder)
    assert added in {d.doc_id for d in engine.documents()}
    assert not list(tmp_path.glob("idx.old-*")) and not list(tmp_path.glob("idx.tmp-*"))


def test_ingest_recovers_an_interrupted_swap_before_looking_for_the_index(tmp_path):
    """`rag ingest` (Engine.ingest) used to see no manifest and build a new index over it."""
    folder = tmp_path / "idx"
    engine = _engine(folder)
    added = engine.add_document(_doc(1)).added[0]
    engine.close()
    os.rename(folder, tmp_path / "idx.old-99999")
    extra = tmp_path / "extra.txt"
    extra.write_text("一篇新文章\n\n这是正文，讲工会服务。\n", encoding="utf-8")
    engine = Engine(_config(folder), encoder=HashEncoder())
    report = engine.ingest([extra])
    engine.close()
    documents = Index.load(folder, HashEncoder()).documents
    assert added in documents and set(report.added) <= set(documents) and len(documents) == 7
    assert not list(tmp_path.glob("idx.old-*"))


# ---- one writer per folder ---------------------------------------------------------------
def test_a_second_writer_in_this_process_is_refused_and_a_reader_is_not(tmp_path):
    folder = tmp_path / "idx"
    writer = _engine(folder)
    with pytest.raises(IndexLockedError, match="already open for writing"):
        _engine(folder)
    reader = _engine(folder, read_only=True)
    assert len(reader.documents()) == 5
    writer.close()
    _engine(folder).close()  # free again once the writer is closed


_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from rag.embedding.fake import HashEncoder
from rag.engine import Engine, EngineConfig
from pathlib import Path
engine = Engine(EngineConfig(index_dir=Path({folder!r}), corpus=(Path({page!r}),)),
                encoder=HashEncoder())
engine.warm_up()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_second_writer_process_is_refused_and_a_dead_ones_lock_is_taken_over(
    tmp_path, caplog, capsys, fake_model
):
    from api.cli import main

    folder = tmp_path / "idx"
    code = _HOLDER.format(root=str(ROOT), folder=str(folder), page=str(BUNDLED_PAGE))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        engine = Engine(_config(folder), encoder=HashEncoder())
        with pytest.raises(IndexLockedError, match=f"another process \\(pid {child.pid}"):
            engine.ingest([BUNDLED_PAGE])
        with pytest.raises(IndexLockedError, match="read-only"):
            engine.warm_up()
        # `rag ingest` into the folder of a running writable server: refused, saying why.
        assert main(["ingest", str(BUNDLED_PAGE), "--index-dir", str(folder)]) == 2
        assert f"being written by another process (pid {child.pid}" in capsys.readouterr().err
        # `rag search` is a reader and works beside the writer.
        assert main(["search", "工会", "--index-dir", str(folder)]) == 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with caplog.at_level(logging.WARNING, logger="rag.index.lock"):
        engine = _engine(folder)
    assert f"from process {child.pid}" in caplog.text
    engine.add_document(_doc(1))
    engine.close()


# ---- crashes at every point of a write -----------------------------------------------------
_CRASHER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from rag.index import files, store, wal
from tests.test_reliability import _doc, _engine

point, nth = {point!r}, {nth}
seen = 0
def crash(name):
    global seen
    if name == point:
        seen += 1
        if seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)
for module in (files, store, wal):
    module.crash_point = crash

engine = _engine(Path({folder!r}))
print("built", flush=True)
bundled = [d.doc_id for d in engine.documents()]
for i in range(4):
    doc_id = engine.add_document(_doc(i)).added[0]
    print("added", doc_id, flush=True)
    if i == 1:
        engine.delete_document(bundled[0])
        print("deleted", bundled[0], flush=True)
    if i % 2:
        engine.compact()
        print("compacted", flush=True)
print("done", flush=True)
"""

# (point, which occurrence): the build at start-up saves once, so swap points count from 2.
CRASH_POINTS = [
    ("log-written", 2),
    ("log-synced", 1),
    ("log-synced", 3),
    ("base-written", 2),
    ("swap-before", 2),
    ("swap-between-renames", 1),
    ("swap-between-renames", 2),
    ("swap-after", 2),
    ("swap-after", 3),
]


@pytest.mark.parametrize(("point", "nth"), CRASH_POINTS)
def test_a_crash_at_any_point_loses_no_acknowledged_write(tmp_path, point, nth):
    folder = tmp_path / "idx"
    code = _CRASHER.format(root=str(ROOT), point=point, nth=nth, folder=str(folder))
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    lines = child.stdout.split()
    assert "built" in lines and "done" not in lines
    added = [lines[i + 1] for i, w in enumerate(lines) if w == "added"]
    deleted = [lines[i + 1] for i, w in enumerate(lines) if w == "deleted"]
    engine = _engine(folder)
    documents = {d.doc_id for d in engine.documents()}
    assert set(added) <= documents
    assert not set(deleted) & documents
    _check_consistent(engine.index)
    assert not list(tmp_path.glob("idx.old-*")) and not list(tmp_path.glob("idx.tmp-*"))
    assert engine.search("职工服务中心", top_k=3).hits
    engine.close()


# ---- readers during writes -----------------------------------------------------------------
def test_readers_see_whole_writes_only(tmp_path):
    """Threads search and ask while one adds and deletes: no error, no half-made state."""
    engine = _engine(tmp_path / "idx")
    stop = time.monotonic() + 6
    errors: list[BaseException] = []
    deleted: set[str] = set()

    def read(question: str) -> None:
        while time.monotonic() < stop:
            try:
                gone = set(deleted)
                answer = engine.ask(question, top_k=5)
                for c in answer.citations:
                    assert c.doc_id not in gone, f"cited deleted document {c.doc_id}"
                for hit in engine.search(question, top_k=10).hits:
                    assert hit.chunk.doc_id not in gone, "hit from a deleted document"
            except BaseException as e:  # noqa: BLE001 (collected and reported below)
                errors.append(e)
                return

    def write() -> None:
        i = 0
        while time.monotonic() < stop:
            try:
                doc_id = engine.add_document(_doc(i, chars=1500)).added[0]
                if i % 2:
                    engine.delete_document(doc_id)
                    deleted.add(doc_id)
                i += 1
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read, args=(q,))
        for q in ("职工服务中心有哪些新举措", "第3号新闻稿讲了什么", "北京工会")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    _check_consistent(engine.index)
    with pytest.raises(NotFoundError):
        engine.document(next(iter(deleted)))


def test_a_format_1_index_is_read_and_upgraded_by_a_writer(tmp_path):
    import json
    from dataclasses import asdict

    folder = tmp_path / "idx"
    engine = _engine(folder)
    chunks = engine.index.chunks
    engine.close()
    # Format 1 stored whole chunks, and a bm25/ folder the new code does not need.
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format_version": 1}))
    assert Index.load(folder, HashEncoder()).chunks == chunks
    reader = _engine(folder, read_only=True)
    assert reader.index.chunks == chunks and json.loads((folder / "chunks.jsonl").open().readline())
    writer = _engine(folder)
    assert writer.index.chunks == chunks
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 2
    assert isinstance(json.loads((folder / "chunks.jsonl").open().readline()), list)
    writer.close()


def test_a_reader_waits_for_a_live_writers_swap_to_finish(tmp_path):
    from rag.index.files import recover

    folder = tmp_path / "idx"
    engine = _engine(folder)  # holds the writer lock: a live writer
    os.rename(folder, tmp_path / "idx.old-1")  # its swap, between the two renames
    threading.Timer(3.0, os.rename, (tmp_path / "idx.old-1", folder)).start()
    # A reader must neither restore the folder itself (the writer is alive) nor give up.
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from rag.index.files import recover
recover(Path({str(folder)!r}))
print(Path({str(folder)!r}).exists())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr[-1000:]
    recover(folder)
    engine.close()
