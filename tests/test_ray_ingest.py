"""`rag ingest --ray`: the index built through Ray Data equals the one built the plain way.

A local Ray, kept small (2 CPUs, a 200 MB object store): the machine is shared.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.fake import HashEncoder
from rag.engine import Engine, EngineConfig
from rag.evaluation.questions import load_questions

pytest.importorskip("ray")
pytest.importorskip("pymilvus")

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_PAGE = ROOT / "data" / "articles.txt"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
NOTE = "# 量子通信\n\n国家量子通信骨干网已覆盖十八个省份，总长度超过一万二千公里。\n"


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(
        num_cpus=2,
        object_store_memory=200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The bundled page, a Markdown note, and a file no parser can read."""
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(BUNDLED_PAGE, folder / "articles.txt")
    (folder / "note.md").write_text(NOTE, encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00 not utf-8 \xc3\x28")
    return folder


def _good_files(corpus: Path) -> list[Path]:
    return [corpus / "articles.txt", corpus / "note.md"]


def _engine(tmp: Path, backend: str, encoder) -> Engine:
    config = EngineConfig(index_dir=tmp / "default", backend=backend, milvus_uri=str(tmp / "m.db"))
    return Engine(config, encoder=encoder)


def _ray_ingest(engine: Engine, corpus: Path, factory):
    from rag.ingest_ray import RayIngest

    return RayIngest(batch_size=16, encoder_factory=factory).run(engine, [corpus], rebuild=True)


@pytest.mark.slow
def test_ray_ingest_equals_plain_ingest_with_the_real_model(
    ray_local, corpus, real_encoder, tmp_path
):
    from conftest import _model_cache

    from rag.embedding.encoder import default_encoder

    plain = _engine(tmp_path / "plain", "faiss", real_encoder)
    plain.ingest(_good_files(corpus), rebuild=True)
    ray_engine = _engine(tmp_path / "ray", "faiss", real_encoder)
    report = _ray_ingest(ray_engine, corpus, partial(default_encoder, _model_cache()))

    # The broken file is reported by name; the rest went in.
    assert [Path(p).name for p, _ in report.failures] == ["broken.txt"]
    assert "UTF-8" in report.failures[0][1]
    assert report.ingest.chunks_added == len(plain.index) == report.chunks_embedded

    a, b = plain.index, ray_engine.index
    assert [c.chunk_id for c in b.chunks] == [c.chunk_id for c in a.chunks]
    assert b.chunks == a.chunks
    cosines = np.sum(a.dense.vectors * b.dense.vectors, axis=1)
    assert cosines.min() >= 0.9999

    # Same answers to the project's question set, citations included.
    for q in load_questions(QUESTIONS):
        x, y = plain.ask(q.question), ray_engine.ask(q.question)
        assert (y.text, y.citations, y.answerable) == (x.text, x.citations, x.answerable), q.id

    # Saved like a plain ingest: a fresh engine loads it.
    ray_engine.close()
    plain.close()
    reloaded = _engine(tmp_path / "ray", "faiss", real_encoder)
    reloaded.warm_up(build_if_missing=False)
    assert len(reloaded.index) == len(a)
    reloaded.close()


@pytest.mark.slow
def test_ray_ingest_into_milvus_lite_equals_plain(ray_local, corpus, tmp_path):
    plain = _engine(tmp_path / "plain", "milvus", HashEncoder())
    plain.ingest(_good_files(corpus), rebuild=True)
    ray_engine = _engine(tmp_path / "ray", "milvus", HashEncoder())
    report = _ray_ingest(ray_engine, corpus, HashEncoder)

    assert [Path(p).name for p, _ in report.failures] == ["broken.txt"]
    a, b = plain.index, ray_engine.index
    assert sorted(b.documents) == sorted(a.documents)
    assert len(b) == len(a) == report.ingest.chunks_added
    for doc_id in a.documents:
        assert b.chunks_of(doc_id) == a.chunks_of(doc_id)
        assert b.document(doc_id) == a.document(doc_id)
    hits = ray_engine.search("量子通信骨干网覆盖了多少个省份", mode="keyword").hits
    assert "十八个省份" in hits[0].chunk.text

    # A second run changes nothing: same content, same hashes, nothing embedded again.
    from rag.ingest_ray import RayIngest

    again = RayIngest(batch_size=16, encoder_factory=HashEncoder).run(ray_engine, [corpus])
    assert again.chunks_embedded == 0
    assert sorted(again.ingest.unchanged) == sorted(a.documents)
    a.close()
    b.close()


@pytest.mark.slow
def test_ray_workers_write_straight_to_a_milvus_server(ray_local, corpus, tmp_path):
    from test_milvus_replicas import milvus_lite_server

    with milvus_lite_server(tmp_path / "milvus") as uri:
        config = EngineConfig(index_dir=tmp_path / "default", backend="milvus", milvus_uri=uri)
        engine = Engine(config, encoder=HashEncoder())
        report = _ray_ingest(engine, corpus, HashEncoder)
        assert [Path(p).name for p, _ in report.failures] == ["broken.txt"]

        plain = _engine(tmp_path / "plain", "faiss", HashEncoder())
        plain.ingest(_good_files(corpus), rebuild=True)
        assert report.chunks_embedded == report.ingest.chunks_added == len(plain.index)
        engine.warm_up(build_if_missing=False)  # reads what the workers wrote
        assert len(engine.index) == len(plain.index)
        for doc_id in plain.index.documents:
            assert engine.index.chunks_of(doc_id) == plain.index.chunks_of(doc_id)
            assert engine.index.document(doc_id) == plain.index.document(doc_id)
        engine.index.close()
