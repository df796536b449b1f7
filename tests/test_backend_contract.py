"""The contract every index backend keeps, run on each of them (FAISS and Milvus Lite).

One suite, a parametrised fixture (the way Haystack tests its document stores): whatever
the backend, documents go in and come out unchanged, replacing or deleting one loses
nothing else, each search leg finds the right passage, filters hold, and every chunk is a
verbatim slice of its document.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import pytest

from rag.chunking import Chunker, embedding_text
from rag.embedding.fake import HashEncoder
from rag.errors import IndexMismatchError, NotFoundError
from rag.index.backend import FaissBackend, IndexBackend, check_faiss_folder
from rag.index.store import Index
from rag.search.backend_searcher import BackendSearcher
from rag.types import Document

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

BACKENDS = ["faiss", "milvus"]
FOUR_HIGHLIGHTS = "职业伤害保障试点有哪四个亮点？"
BUNDLED_PAGE = Path(__file__).resolve().parents[1] / "data" / "articles.txt"
INJURY_TITLE = "建立和完善平台从业人员职业伤害保障的有益探索"


def make_backend(kind: str, folder, encoder=None) -> IndexBackend:
    encoder = encoder or HashEncoder()
    if kind == "faiss":
        return FaissBackend(Index(encoder))
    from rag.index.milvus import MilvusBackend

    return MilvusBackend.open(str(folder / "milvus.db"), encoder)


@pytest.fixture(params=BACKENDS)
def empty(request, tmp_path):
    backend = make_backend(request.param, tmp_path)
    yield backend
    if hasattr(backend, "close"):
        backend.close()


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request, bundled_docs, tmp_path_factory):
    """The bundled page in each backend (read-only in the tests using it)."""
    backend = make_backend(request.param, tmp_path_factory.mktemp(request.param))
    backend.add_documents(bundled_docs)
    yield backend
    if hasattr(backend, "close"):
        backend.close()


def _injury_doc(backend) -> Document:
    return next(d for d in backend.documents.values() if d.title == INJURY_TITLE)


# ---- what goes in comes out ------------------------------------------------------------------
def test_documents_and_chunks_come_back_unchanged(loaded, bundled_docs):
    chunker = Chunker()
    assert sorted(loaded.documents) == sorted(d.doc_id for d in bundled_docs)
    assert len(loaded) == sum(len(chunker.split(d)) for d in bundled_docs)
    for doc in bundled_docs:
        assert loaded.document(doc.doc_id) == doc
        assert loaded.chunks_of(doc.doc_id) == chunker.split(doc)


def test_every_chunk_is_a_verbatim_slice_at_its_offsets(loaded):
    for doc in loaded.documents.values():
        for chunk in loaded.chunks_of(doc.doc_id):
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.lines == doc.lines_for(chunk.start, chunk.end)


def test_unknown_document_is_not_found(loaded):
    with pytest.raises(NotFoundError, match="no document"):
        loaded.document("no-such-doc")
    assert "no-such-doc" not in loaded.documents
    assert loaded.chunks_of("no-such-doc") == []


# ---- search legs -------------------------------------------------------------------------------
def test_dense_search_ranks_a_chunk_first_for_its_own_text(loaded):
    doc = _injury_doc(loaded)
    for chunk in loaded.chunks_of(doc.doc_id)[:5]:
        qvec = loaded.encoder.encode_queries([embedding_text(chunk)])[0]
        hits = loaded.dense_search(qvec, 3)
        assert hits[0].chunk.chunk_id == chunk.chunk_id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_keyword_search_finds_a_rare_name(loaded):
    hits = loaded.keyword_search("曹操出行", [], 5)
    assert hits and "曹操出行" in hits[0].chunk.text
    assert all(h.score > 0 for h in hits)


def test_keyword_search_takes_translated_terms(loaded):
    # An English question reaches Chinese text through its dictionary terms only.
    assert all("曹操出行" not in h.chunk.text for h in loaded.keyword_search("ride hailing", [], 5))
    assert loaded.known_terms(["曹操"]) == {"曹操"}
    hits = loaded.keyword_search("ride hailing", ["曹操"], 5)
    assert "曹操" in hits[0].chunk.text


def test_a_name_asked_in_pinyin_is_found_in_few_lookups(loaded):
    from rag.index.backend import Vocabulary
    from rag.index.crosslingual import DICTIONARY

    class Counted(Vocabulary):
        batches: list[int] = []

        def prefetch(self, terms) -> None:
            terms = list(terms)
            self.batches.append(len(terms))
            super().prefetch(terms)

    vocabulary = Counted(loaded)
    translation = DICTIONARY.translate("What does Zhan Mengxia propose?", vocabulary)
    assert "战梦霞" in translation.terms
    # Looked up a level at a time among the commonest characters of each syllable: a few
    # dozen batches of at most 48 x 48 bigrams, not one request a bigram (nor a million).
    assert vocabulary.batches and len(vocabulary.batches) <= 32
    assert max(vocabulary.batches) <= 48 * 48 and sum(vocabulary.batches) <= 20_000


def test_hybrid_search_finds_the_right_article(loaded):
    qvec = loaded.encoder.encode_queries([FOUR_HIGHLIGHTS])[0]
    hits = loaded.hybrid_search(qvec, FOUR_HIGHLIGHTS, [], 5)
    assert hits[0].chunk.title == INJURY_TITLE
    assert len({h.chunk.chunk_id for h in hits}) == len(hits) == 5


def test_searches_agree_across_backends(loaded, bundled_docs, tmp_path):
    """The dense leg is exact on both at this size: same chunks, same cosines."""
    reference = make_backend("faiss", tmp_path)
    reference.add_documents(bundled_docs)
    for query in (FOUR_HIGHLIGHTS, "农业农村现代化", "平台企业"):
        qvec = loaded.encoder.encode_queries([query])[0]
        got = loaded.dense_search(qvec, 5)
        want = reference.dense_search(qvec, 5)
        assert [h.chunk.chunk_id for h in got] == [h.chunk.chunk_id for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-4)


def test_filters_keep_to_the_given_documents(loaded):
    doc = _injury_doc(loaded)
    others = [d for d in loaded.documents if d != doc.doc_id]
    qvec = loaded.encoder.encode_queries([FOUR_HIGHLIGHTS])[0]
    for hits in (
        loaded.dense_search(qvec, 5, doc_ids=others),
        loaded.keyword_search(FOUR_HIGHLIGHTS, [], 5, doc_ids=others),
        loaded.hybrid_search(qvec, FOUR_HIGHLIGHTS, [], 5, doc_ids=others),
    ):
        assert hits and all(h.chunk.doc_id in others for h in hits)
    only = loaded.dense_search(qvec, 100, doc_ids={doc.doc_id})
    assert {h.chunk.chunk_id for h in only} == {c.chunk_id for c in loaded.chunks_of(doc.doc_id)}


def test_known_terms_are_the_corpus_vocabulary(loaded):
    assert loaded.known_terms(["职业", "伤害", "火星殖民", "量子引力"]) == {"职业", "伤害"}
    assert not loaded.known_terms(["火星殖民", "量子引力"])
    # Authors are metadata, not text: known as marked terms (for the answerability check).
    author = next(a for d in loaded.documents.values() for a in d.authors)
    assert loaded.known_terms([f"@author:{author}", "@author:无名氏"]) == {f"@author:{author}"}


def test_backend_searcher_answers_with_verbatim_citations(loaded):
    from rag.answering.extractive import ExtractiveAnswerer

    searcher = BackendSearcher(loaded)
    for question in (
        FOUR_HIGHLIGHTS,
        "What are the four highlights of the injury-insurance pilot?",
    ):
        result = searcher.search(question, top_k=5)
        assert result.hits[0].chunk.title == INJURY_TITLE
        assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
        answer = ExtractiveAnswerer().answer(result.query, result, loaded.documents)
        for c in answer.citations:
            assert loaded.document(c.doc_id).text[c.start : c.end] == c.quote


# ---- writing ---------------------------------------------------------------------------------
def test_add_replace_delete_lose_nothing(empty, bundled_docs):
    report = empty.add_documents(bundled_docs)
    assert sorted(report.added) == sorted(d.doc_id for d in bundled_docs)
    total = len(empty)
    before = {d.doc_id: [c.chunk_id for c in empty.chunks_of(d.doc_id)] for d in bundled_docs}

    again = empty.add_documents(bundled_docs)
    assert sorted(again.unchanged) == sorted(before) and again.chunks_added == 0
    assert len(empty) == total

    target, *rest = bundled_docs
    marker = "补充说明：本试点新增一项夜间骑手专属保障条款。"
    changed = dataclasses.replace(target, text=target.text + "\n" + marker)
    report = empty.add_documents([changed])
    assert report.replaced == (target.doc_id,)
    assert report.chunks_removed == len(before[target.doc_id])
    assert empty.document(target.doc_id).text.endswith(marker)
    assert len(empty) == total - report.chunks_removed + report.chunks_added
    for doc in rest:  # nothing else lost
        assert [c.chunk_id for c in empty.chunks_of(doc.doc_id)] == before[doc.doc_id]
    hits = empty.keyword_search("夜间骑手专属保障条款", [], 3)
    assert hits[0].chunk.doc_id == target.doc_id

    assert empty.delete_document(target.doc_id) == report.chunks_added
    assert target.doc_id not in empty.documents
    assert empty.chunks_of(target.doc_id) == []
    assert len(empty) == total - len(before[target.doc_id])
    qvec = empty.encoder.encode_queries([marker])[0]
    assert all(h.chunk.doc_id != target.doc_id for h in empty.dense_search(qvec, 100))
    assert all(
        h.chunk.doc_id != target.doc_id
        for h in empty.keyword_search("夜间骑手专属保障条款", [], 10)
    )
    with pytest.raises(NotFoundError):
        empty.delete_document(target.doc_id)
    for doc in rest:
        assert empty.document(doc.doc_id) == doc


def test_precomputed_vectors_go_in_unchanged(empty, bundled_docs):
    chunks = Chunker().split_all(bundled_docs)
    vectors = HashEncoder().encode_documents([embedding_text(c) for c in chunks])
    vectors = vectors[:, ::-1].copy()  # not what the backend's encoder would compute
    empty.add_embedded(bundled_docs, chunks, vectors)
    assert len(empty) == len(chunks)
    for i in (0, len(chunks) // 2, len(chunks) - 1):
        hits = empty.dense_search(vectors[i], 1)
        assert hits[0].chunk.chunk_id == chunks[i].chunk_id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_long_document_survives_the_round_trip(empty):
    # Longer than one Milvus VARCHAR holds: stored in parts, read back whole.
    text = "".join(
        f"第{i}段：新就业形态劳动者权益保障的第{i}项措施落实情况。\n" for i in range(4000)
    )
    doc = Document(doc_id="long-1", title="长文", text=text, line_map=((0, 1), (50_000, 2)))
    empty.add_documents([doc])
    assert len(text) > 100_000
    assert empty.document("long-1") == doc
    chunks = empty.chunks_of("long-1")
    assert all(text[c.start : c.end] == c.text for c in chunks)


# ---- Milvus specifics: recorded set-up, shared state ---------------------------------------------
def test_milvus_refuses_an_index_built_with_another_model(tmp_path, bundled_docs):
    from rag.index.milvus import MilvusBackend

    uri = str(tmp_path / "m.db")
    backend = MilvusBackend.open(uri, HashEncoder(dim=64))
    backend.add_documents(bundled_docs[:1])
    backend.close()
    with pytest.raises(IndexMismatchError, match="hash-bigram-64.*rebuild"):
        MilvusBackend.open(uri, HashEncoder(dim=32))
    assert MilvusBackend.probe(uri)
    assert not MilvusBackend.probe(str(tmp_path / "other.db"))


def test_a_milvus_database_is_not_taken_for_a_faiss_folder(tmp_path, bundled_docs):
    from rag.index.milvus import MilvusBackend, connect

    uri = tmp_path / "m.db"
    MilvusBackend.open(str(uri), HashEncoder()).close()
    with pytest.raises(IndexMismatchError, match="--backend milvus"):
        check_faiss_folder(uri)
    faiss_dir = tmp_path / "default"
    index = Index(HashEncoder())
    index.add_documents(bundled_docs[:1])
    index.save(faiss_dir)
    with pytest.raises(IndexMismatchError, match="FAISS index folder"):
        connect(str(faiss_dir))


def test_engine_on_milvus_builds_reopens_and_writes(tmp_path):
    from conftest import BUNDLED_PAGE

    from rag.engine import Engine, EngineConfig

    config = EngineConfig(
        index_dir=tmp_path / "default",
        corpus=(BUNDLED_PAGE,),
        backend="milvus",
        milvus_uri=str(tmp_path / "m.db"),
    )
    engine = Engine(config, encoder=HashEncoder())
    engine.warm_up()
    assert not (tmp_path / "default").exists()  # nothing written to the FAISS folder
    n_docs = len(engine.documents())
    answer = engine.ask(FOUR_HIGHLIGHTS)
    assert answer.passages[0].chunk.title == INJURY_TITLE
    for hit in answer.passages:
        assert (
            engine.document(hit.chunk.doc_id).text[hit.chunk.start : hit.chunk.end]
            == hit.chunk.text
        )
    doc = Document(doc_id="note-1", title="测试", text="量子通信骨干网已覆盖八个省份。")
    engine.add_document(doc)
    engine.index.close()

    reopened = Engine(config, encoder=HashEncoder())
    reopened.warm_up(build_if_missing=False)
    assert len(reopened.documents()) == n_docs + 1
    assert reopened.search("量子通信骨干网", mode="keyword").hits[0].chunk.doc_id == "note-1"
    assert reopened.delete_document("note-1") == 1
    assert len(reopened.documents()) == n_docs
    health_like = (reopened.index.encoder.name, len(reopened.index), reopened.index.built_at)
    assert health_like[1] > 0 and health_like[2]
    reopened.index.close()


def test_unknown_backend_is_refused(tmp_path):
    from rag.engine import Engine, EngineConfig
    from rag.errors import InputError

    engine = Engine(EngineConfig(index_dir=tmp_path, backend="elastic"), encoder=HashEncoder())
    with pytest.raises(InputError, match="backend must be one of faiss, milvus"):
        engine.warm_up()


def test_backend_searcher_keeps_to_filtered_documents(loaded):
    from rag.search.filters import Filters

    doc = _injury_doc(loaded)
    others = tuple(d for d in loaded.documents if d != doc.doc_id)
    result = BackendSearcher(loaded).search(
        FOUR_HIGHLIGHTS, top_k=5, filters=Filters(doc_ids=others)
    )
    assert result.hits and all(h.chunk.doc_id in others for h in result.hits)
    only = BackendSearcher(loaded).search(
        FOUR_HIGHLIGHTS, top_k=5, filters=Filters(doc_ids=(doc.doc_id,))
    )
    assert {h.chunk.doc_id for h in only.hits} == {doc.doc_id}


def test_backend_searcher_is_a_retriever(loaded):
    from rag.components import Retriever

    searcher = BackendSearcher(loaded)
    assert isinstance(searcher, Retriever)
    searcher.warm_up()


def test_milvus_lite_reopens_in_another_process(tmp_path, bundled_docs):
    """A Milvus Lite folder written by one process is searchable from the next (its
    collections come back released and must be loaded): `rag ingest`, then `rag serve`."""
    import subprocess
    import sys

    uri = str(tmp_path / "m.db")
    head = (
        "from rag.embedding.fake import HashEncoder; from rag.index.milvus import MilvusBackend; "
        "from rag.parsing import load_documents; "
    )
    write = head + (
        f"b = MilvusBackend.open({uri!r}, HashEncoder()); "
        f"b.add_documents(load_documents([{str(BUNDLED_PAGE)!r}])); print(len(b))"
    )
    read = head + (
        f"assert MilvusBackend.probe({uri!r}); b = MilvusBackend.open({uri!r}, HashEncoder()); "
        "print(len(b), b.keyword_search('曹操出行', [], 1)[0].chunk.doc_id)"
    )
    run = partial(subprocess.run, capture_output=True, text=True, timeout=300, check=True)
    written = int(run([sys.executable, "-c", write]).stdout.split()[-1])
    out = run([sys.executable, "-c", read]).stdout.split()
    assert int(out[-2]) == written > 0
    assert out[-1] in {d.doc_id for d in bundled_docs}


@pytest.mark.parametrize("question", ["鲁全担任什么职务？", "What positions does Lu Quan hold?"])
def test_author_question_ranks_the_author_note_first(loaded, question):
    result = BackendSearcher(loaded).search(question, top_k=5, mode="hybrid")
    assert "作者为中国人民大学教授" in result.hits[0].chunk.text
    assert result.answerable  # the named author makes it a question about the corpus


_BIOGRAPHY = Document(
    doc_id="bio-1",
    title="人物简介",
    text="蒋巨峰，浙江诸暨人，1981年7月参加工作，现任全国人大环境与资源保护委员会副主任委员。",
)
_REFERENCES = Document(
    doc_id="refs-1",
    title="参考文献",
    text="What is the bias of a learner? Utgoff, P.E. (1984). Shift of bias for inductive "
    "concept learning. Which of these is the one that was used, and how does it work?",
)
_OTHER = Document(doc_id="other-1", title="新闻", text="天津市总工会发布职工技能培训计划。")


def test_english_question_finds_a_name_jieba_cuts_not_english_function_words(empty):
    # jieba cuts 蒋巨峰 as 蒋 + 巨峰, so the name read from pinyin is no token of the index and
    # is searched as its bigrams; the question's what/is/the must not match the English
    # reference list, which shares nothing else with it.
    empty.add_documents([_BIOGRAPHY, _REFERENCES, _OTHER])
    question = "What is Jiang Jufeng's current position?"
    hits = BackendSearcher(empty).search(question, top_k=3, mode="keyword").hits
    assert [h.chunk.doc_id for h in hits] == ["bio-1"]


def test_english_question_is_embedded_with_the_corpus_words_for_it(loaded):
    question = "What are the four highlights of the occupational injury pilot?"
    result = BackendSearcher(loaded).search(question, top_k=5, mode="hybrid")
    reading = result.embedded.removeprefix(question + " ").split()
    assert result.embedded.startswith(question) and reading
    for word in reading:  # words of this corpus, or chains of its bigrams (新闻 + 发布会)
        bigrams = {word[k : k + 2] for k in range(len(word) - 1)}
        assert loaded.known_terms([word]) == {word} or loaded.known_terms(bigrams) == bigrams
    assert BackendSearcher(loaded).search(FOUR_HIGHLIGHTS, top_k=5).embedded == ""
