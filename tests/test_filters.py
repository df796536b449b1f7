"""Filtered search: the best passages among the matching documents, checked by brute force."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rag.errors import InputError
from rag.index.dense import EXACT_SUBSET_MAX, DenseIndex
from rag.parsing import load_documents
from rag.search.filters import Filters
from rag.search.searcher import Searcher
from rag.types import DOCUMENT_KINDS
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "cmrc_sample" / "corpus.jsonl"
QUERIES = ["蓝甲虫降落到了哪里", "世界杯冠军", "大学成立于哪一年", "火车站", "电影导演", "河流"]


@pytest.fixture(scope="module")
def corpus_index():
    """167 documents given dates over 2020-2024, four sources and every kind, by position."""
    from rag.embedding.fake import HashEncoder
    from rag.index.store import Index

    docs = []
    for i, doc in enumerate(load_documents([CORPUS])):
        published = "" if i % 11 == 0 else f"{2020 + i % 5}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        source = ["https://www.people.com.cn/n1/", "https://www.gov.cn/zhengce/", "a.pdf", "b.txt"][
            i % 4
        ]
        source = source + str(i) if source.startswith("https") else source
        docs.append(replace(doc, published=published, source=source, kind=DOCUMENT_KINDS[i % 5]))
    index = Index(HashEncoder())
    index.add_documents(docs)
    return index


FILTERS = [
    Filters(published_after="2022-01-01"),
    Filters(published_before="2021-06-30"),
    Filters(published_after="2021-03-01", published_before="2022-12-31"),
    Filters(source="https://www.gov.cn/"),
    Filters(source="a.pdf"),
    Filters(kind="web"),
    Filters(kind="pdf", published_after="2022-06-01"),
]


def _allowed_by_hand(index, filters: Filters) -> list[int]:
    """Rows of the matching documents, decided here without the code under test."""
    rows = []
    for row, chunk in enumerate(index.chunks):
        doc = index.documents[chunk.doc_id]
        ok = True
        if filters.published_after or filters.published_before:
            ok = bool(doc.published)
            ok = ok and (not filters.published_after or doc.published >= filters.published_after)
            ok = ok and (not filters.published_before or doc.published <= filters.published_before)
        ok = ok and (not filters.source or doc.source.startswith(filters.source))
        ok = ok and (not filters.kind or doc.kind == filters.kind)
        ok = ok and (not filters.doc_ids or doc.doc_id in filters.doc_ids)
        if ok:
            rows.append(row)
    return rows


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
@pytest.mark.parametrize("query", QUERIES)
def test_dense_filtered_search_equals_brute_force_over_the_allowed_rows(
    corpus_index, filters, query
):
    allowed = _allowed_by_hand(corpus_index, filters)
    assert 0 < len(allowed) < len(corpus_index)
    result = Searcher(corpus_index).search(query, top_k=10, mode="dense", filters=filters)
    qvec = corpus_index.encoder.encode_queries([query])[0]
    scores = np.asarray(corpus_index.dense.vectors)[allowed] @ qvec
    expected = sorted(scores, reverse=True)[:10]
    got = [h.scores["dense"] for h in result.hits]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert {corpus_index.row(h.chunk.chunk_id) for h in result.hits} <= set(allowed)


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
@pytest.mark.parametrize("query", QUERIES)
def test_keyword_filtered_search_equals_brute_force_over_the_allowed_rows(
    corpus_index, filters, query
):
    from rag.index.tokenize import tokenize

    allowed = _allowed_by_hand(corpus_index, filters)
    result = Searcher(corpus_index).search(query, top_k=10, mode="keyword", filters=filters)
    all_scores = corpus_index.keyword.scores(tokenize(query))
    pairs = sorted(((float(all_scores[r]), r) for r in allowed if all_scores[r] > 0), reverse=True)
    expected = [s for s, _ in pairs[:10]]
    got = [h.scores["keyword"] for h in result.hits]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert {corpus_index.row(h.chunk.chunk_id) for h in result.hits} <= set(allowed)


def test_filtered_hybrid_search_fills_top_k_from_a_small_part_of_the_index(corpus_index):
    searcher = Searcher(corpus_index)
    query = QUERIES[0]
    unfiltered = searcher.search(query, top_k=10)
    # Documents that do not reach the unfiltered top 10: filtering afterwards gives nothing.
    top_docs = {h.chunk.doc_id for h in unfiltered.hits}
    others = [d for d in corpus_index.documents if d not in top_docs][:5]
    filters = Filters(doc_ids=tuple(others))
    result = searcher.search(query, top_k=10, filters=filters)
    n_allowed = len(_allowed_by_hand(corpus_index, filters))
    assert len(result.hits) == min(10, n_allowed) > 0
    assert {h.chunk.doc_id for h in result.hits} <= set(others)


def test_filters_matching_nothing_give_no_hits(corpus_index):
    result = Searcher(corpus_index).search(
        "蓝甲虫", top_k=5, filters=Filters(source="https://nowhere.example/")
    )
    assert result.hits == () and not result.answerable


def test_approximate_structure_searches_within_the_allowed_rows():
    rng = np.random.default_rng(0)
    n, dim = EXACT_SUBSET_MAX + 6000, 32
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = DenseIndex(dim, ann="hnsw")
    dense.set_vectors(vectors)
    allowed = np.flatnonzero(rng.random(n) < 0.85)  # more than EXACT_SUBSET_MAX: FAISS selector
    assert len(allowed) > EXACT_SUBSET_MAX
    queries = rng.normal(size=(20, dim)).astype(np.float32)
    _, rows = dense.search(queries, 10, allowed)
    assert set(rows.ravel()) <= set(allowed)
    exact = np.argsort(-(queries @ vectors[allowed].T), axis=1)[:, :10]
    recall = np.mean([len(set(r) & set(allowed[e])) / 10 for r, e in zip(rows, exact, strict=True)])
    assert recall >= 0.9


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"published_after": "2023/10/26"}, "published_after"),
        ({"published_before": "2023-02-30"}, "published_before"),
        ({"published_after": "2024-01-01", "published_before": "2023-01-01"}, "published_after"),
        ({"kind": "video"}, "kind"),
    ],
)
def test_bad_filters_are_input_errors_naming_the_field(kwargs, field):
    with pytest.raises(InputError) as e:
        Filters(**kwargs)
    assert e.value.param == field and field in str(e.value)


def test_no_filter_values_mean_no_filters():
    assert Filters.make(None, "", None, "", []) is None
    assert Filters.make(source="a.pdf") == Filters(source="a.pdf")


def test_http_filters_and_document_dates_and_kinds(tmp_path):
    import httpx

    from rag.embedding.fake import HashEncoder
    from rag.engine import Engine, EngineConfig
    from tests.conftest import serve

    engine = Engine(EngineConfig(index_dir=tmp_path / "idx"), encoder=HashEncoder())
    engine.warm_up()
    posts = [
        {"title": "社区食堂试点扩大", "text": "本市社区食堂试点扩大到20个街道。", "source": "https://a.example/1",
         "published": "2023-10-26", "kind": "web"},
        {"title": "社区食堂价格", "text": "社区食堂每餐价格不超过15元。", "source": "b.pdf", "kind": "pdf",
         "published": "2021-05-01"},
        {"title": "社区食堂选址", "text": "2024年3月1日\n\n社区食堂应设在步行可达处。", "source": "c.txt"},
    ]  # fmt: skip
    with serve(engine) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        for body in posts:
            assert c.post("/documents", json=body).status_code == 201, body
        listed = {d["title"]: d for d in c.get("/documents").json()}
        assert listed["社区食堂试点扩大"]["published"] == "2023-10-26"
        assert listed["社区食堂价格"]["kind"] == "pdf"
        assert listed["社区食堂选址"]["published"] == "2024-03-01"  # stated at its top
        assert listed["社区食堂选址"]["kind"] == "text"

        def titles(path, **filters):
            key = "query" if path == "/search" else "question"
            r = c.post(path, json={key: "社区食堂", "top_k": 5, **filters})
            assert r.status_code == 200, r.text
            hits = r.json()["hits"] if path == "/search" else r.json()["passages"]
            return {h["title"] for h in hits}

        assert titles("/search") == set(listed)
        assert titles("/search", published_after="2022-01-01") == {
            "社区食堂试点扩大",
            "社区食堂选址",
        }
        assert titles("/search", published_before="2023-12-31", kind="pdf") == {"社区食堂价格"}
        assert titles("/search", source="https://a.example/") == {"社区食堂试点扩大"}
        doc_id = listed["社区食堂选址"]["id"]
        assert titles("/ask", doc_ids=[doc_id]) <= {"社区食堂选址"}
        for body, field in [
            ({"query": "食堂", "published_after": "26/10/2023"}, "published_after"),
            ({"query": "食堂", "kind": "video"}, "kind"),
        ]:
            r = c.post("/search", json=body)
            assert 400 <= r.status_code < 500 and field in r.text, r.text
        bad = posts[0] | {"published": "2023-13-01"}
        r = c.post("/documents", json=bad)
        assert 400 <= r.status_code < 500 and "published" in r.text


def test_cli_documents_show_date_kind_and_source(tmp_path, capsys):
    from api.cli import main

    (tmp_path / "a.md").write_text("# 标题\n\n2023年10月26日\n\n正文。\n")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    assert main(["documents", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "2023-10-26" in out and "text" in out and "a.md" in out
    assert "skipped" in err and "bad.txt" in err and "binary" in err
