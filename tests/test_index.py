"""The index folder: round trips, incremental updates, atomic saves, manifest checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rag.chunking import Chunker, ChunkerSettings
from rag.embedding.fake import HashEncoder
from rag.errors import IndexMismatchError, NotFoundError
from rag.index.dense import DenseIndex, build_faiss
from rag.index.store import FORMAT_VERSION, Index
from rag.parsing import load_documents
from rag.search import Searcher
from rag.types import Document
from tests.conftest import BUNDLED_PAGE


@pytest.fixture()
def docs():
    return load_documents([BUNDLED_PAGE])


@pytest.fixture()
def index(docs):
    idx = Index(HashEncoder())
    idx.add_documents(docs)
    return idx


def _ranking(index, query="职业伤害保障试点有哪四个亮点", mode="hybrid"):
    return [h.chunk.chunk_id for h in Searcher(index).search(query, top_k=10, mode=mode).hits]


def test_save_and_load_round_trip(index, tmp_path):
    index.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx", HashEncoder())
    assert loaded.chunks == index.chunks
    assert loaded.documents == index.documents
    assert np.array_equal(loaded.dense.vectors, index.dense.vectors)
    for mode in ("hybrid", "dense", "keyword"):
        assert _ranking(loaded, mode=mode) == _ranking(index, mode=mode)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["model"] == "hash-bigram-64" and manifest["dim"] == 64
    assert manifest["documents"] == 5 and manifest["chunks"] == len(index.chunks)
    assert manifest["chunker"] == {"chunk_size": 300, "chunk_overlap": 60}
    assert manifest["format_version"] == FORMAT_VERSION == 2 and manifest["package_version"]
    assert len(manifest["fingerprint"]) == 16


def test_readding_the_same_documents_is_a_no_op(index, docs):
    before = list(index.chunks)
    report = index.add_documents(docs)
    assert report.unchanged == tuple(d.doc_id for d in docs) and report.chunks_added == 0
    assert list(index.chunks) == before


def test_a_changed_document_replaces_its_old_chunks(index, docs):
    old = docs[3]
    new = Document(doc_id=old.doc_id, title=old.title, text="全新的正文。只有两句话。")
    fingerprint = index.fingerprint()
    report = index.add_documents([new])
    assert report.replaced == (old.doc_id,) and report.chunks_removed > 0
    texts = [c.text for c in index.chunks_of(old.doc_id)]
    assert texts == ["全新的正文。只有两句话。"]
    assert index.fingerprint() != fingerprint
    assert len(index.dense) == len(index.keyword) == len(index.chunks)
    hits = Searcher(index).search("全新的正文", top_k=1, mode="keyword").hits
    assert hits[0].chunk.doc_id == old.doc_id


def test_a_deleted_document_leaves_no_chunk_behind(index, docs, tmp_path):
    removed = index.delete_document(docs[0].doc_id)
    assert removed > 0 and not index.chunks_of(docs[0].doc_id)
    index.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx", HashEncoder())
    assert docs[0].doc_id not in loaded.documents
    assert all(c.doc_id != docs[0].doc_id for c in loaded.chunks)
    for mode in ("dense", "keyword"):
        ids = {
            h.chunk.doc_id for h in Searcher(loaded).search("北京工会", top_k=20, mode=mode).hits
        }
        assert docs[0].doc_id not in ids
    with pytest.raises(NotFoundError, match="no document with id"):
        loaded.delete_document(docs[0].doc_id)


def test_loading_with_another_model_fails_with_rebuild_hint(index, tmp_path):
    index.save(tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="rag ingest --rebuild"):
        Index.load(tmp_path / "idx", HashEncoder(dim=32))


def test_loading_another_format_version_fails(index, tmp_path):
    index.save(tmp_path / "idx")
    path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(IndexMismatchError, match="format 99"):
        Index.load(tmp_path / "idx", HashEncoder())


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(NotFoundError, match="rag ingest"):
        Index.load(tmp_path / "none", HashEncoder())


def test_a_crash_mid_save_leaves_the_previous_index_usable(index, docs, tmp_path, monkeypatch):
    folder = tmp_path / "idx"
    index.save(folder)
    before = (folder / "chunks.jsonl").read_text()
    index.delete_document(docs[1].doc_id)

    def explode(self, folder):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Index, "_write", explode)
    with pytest.raises(RuntimeError):
        index.save(folder)
    monkeypatch.undo()
    assert (folder / "chunks.jsonl").read_text() == before
    assert not list(tmp_path.glob("idx.tmp-*"))
    assert len(Index.load(folder, HashEncoder()).documents) == 5


def test_a_crash_between_the_two_renames_is_recovered(index, tmp_path):
    folder = tmp_path / "idx"
    index.save(folder)
    os.rename(folder, tmp_path / "idx.old-123")  # the state right after the first rename
    loaded = Index.load(folder, HashEncoder())
    assert len(loaded.documents) == 5 and folder.exists()


def test_chunker_settings_come_back_from_the_manifest(docs, tmp_path):
    idx = Index(HashEncoder(), Chunker(ChunkerSettings(chunk_size=200, chunk_overlap=40)))
    idx.add_documents(docs)
    idx.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx", HashEncoder())
    assert loaded.chunker.settings == ChunkerSettings(chunk_size=200, chunk_overlap=40)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_search_recall_at_10_against_exact(kind):
    rng = np.random.default_rng(7)
    # Clustered data, like real embeddings (uniform random vectors are a needlessly hard case).
    centers = rng.normal(size=(50, 384)).astype(np.float32)
    data = centers[rng.integers(0, 50, 20_000)] + 0.6 * rng.normal(size=(20_000, 384)).astype(
        np.float32
    )
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[rng.choice(len(data), 200, replace=False)] + 0.1 * rng.normal(
        size=(200, 384)
    ).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, exact = build_faiss(data, "flat").search(queries, 10)
    _, approx = build_faiss(data, kind).search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.95, recall


def test_dense_index_kind_follows_setting_and_size():
    assert DenseIndex(8, "auto").kind == "flat"
    assert DenseIndex(8, "hnsw").kind == "hnsw"
    big = DenseIndex(4, "auto")
    big.set_vectors(np.zeros((150_000, 4), dtype=np.float32))
    assert big.kind == "hnsw"


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_adding_vectors_extends_the_faiss_structure_in_place(kind):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = DenseIndex(16, kind)
    dense.set_vectors(vectors[:400])
    dense.search(vectors[:1], 5)  # builds the structure
    built = dense._segments[0].structure()
    dense.add(vectors[400:])
    # No rebuild of a large index: the new rows go to a segment of their own.
    assert dense._segments[0].structure() is built and built.ntotal == 400
    assert len(dense) == 500
    _, rows = dense.search(vectors[450:451], 1)
    assert rows[0][0] == 450
    dense.keep(np.arange(500) % 2 == 0)  # deleting does rebuild, from the stored vectors
    _, rows = dense.search(vectors[450:451], 1)
    assert rows[0][0] == 225


def test_chunk_tokens_with_the_header_tokenised_once_equal_tokenising_each_chunk(docs):
    from collections import Counter

    from rag.chunking import embedding_text
    from rag.index.store import tokenize_chunks
    from rag.index.tokenize import tokenize

    numbered = Document(doc_id="n", title="2023", text="年度报告。全年增长5%。", authors=("甲",))
    texts = [embedding_text(c) for d in [*docs, numbered] for c in Chunker().split(d)]
    assert len({t.partition("\n")[0] for t in texts}) < len(texts)  # headers do repeat
    for text, tokens in zip(texts, tokenize_chunks(texts), strict=True):
        assert Counter(tokens) == Counter(tokenize(text))


def test_document_metadata_is_stored_once_not_per_chunk(tmp_path):
    authors = tuple(f"作者{i:03d}号" for i in range(300))
    text = "。".join(f"第{i}段讲述社区服务站的第{i}项新做法" for i in range(400)) + "。"
    doc = Document(doc_id="big", title="长署名的长文章", text=text, authors=authors)
    index = Index(HashEncoder())
    index.add_documents([doc])
    assert len(index.chunks) > 30 and index.chunks[0].authors == authors  # still on each chunk
    index.save(tmp_path / "idx")
    index = Index.load(tmp_path / "idx", HashEncoder())
    assert index.chunks[5].authors == authors and index.chunks[5].title == doc.title
    assert "作者299号" not in (tmp_path / "idx" / "chunks.jsonl").read_text()
    # The byline in each chunk's keyword tokens is capped, not 300 names long.
    from rag.chunking import MAX_BYLINE_AUTHORS

    for tokens in index.keyword.tokens:
        assert sum(t == "作者" for t in tokens) == 2 * MAX_BYLINE_AUTHORS  # jieba word + bigram
    index.add_documents([Document(doc_id="big2", title="另一篇", text=text, authors=authors)])
    log = (tmp_path / "idx" / "wal.jsonl").read_text()
    assert log.count("作者299号") == 1


def test_segmented_bm25_scores_equal_bm25s_lucene_exactly(index):
    """The reference implementation: one bm25s model built over all rows at once."""
    import bm25s

    from rag.index.keyword import KeywordIndex
    from rag.index.tokenize import tokenize

    tokens = index.keyword.tokens + [[]]  # and an empty chunk, which bm25s indexes as [""]
    segmented = KeywordIndex()
    for lo in range(0, len(tokens), 7):  # many segments, merged along the way
        segmented.add(tokens[lo : lo + 7])
    mask = np.arange(len(tokens)) % 5 != 2
    segmented.keep(mask)  # deletions rebuild some segments
    kept = [t for t, k in zip(tokens, mask, strict=True) if k]
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index([t or [""] for t in kept], show_progress=False)
    assert segmented.segments > 1 and len(segmented) == len(kept)
    for query in ["职业伤害保障试点有哪四个亮点", "北京工会 工会 服务", "668万人", "2023年 快递员"]:
        q = [t for t in tokenize(query) if t in segmented.vocabulary]
        expected = reference.get_scores(q) if q else np.zeros(len(kept), dtype=np.float32)
        np.testing.assert_array_equal(segmented.scores(tokenize(query)), expected)
