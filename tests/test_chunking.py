"""Chunks: exact offsets, sentence alignment, stable ids."""

from __future__ import annotations

import unicodedata

import pytest

from rag.chunking import Chunker, ChunkerSettings, embedding_text
from rag.errors import InputError
from rag.parsing import load_documents
from tests.conftest import BUNDLED_PAGE, REARRANGED_PAGE

PUNCT = set("。!?;…,、:”’」』)》.！？；，：）")


@pytest.fixture(scope="module", params=[BUNDLED_PAGE, REARRANGED_PAGE])
def docs_and_chunks(request):
    docs = load_documents([request.param])
    return {d.doc_id: d for d in docs}, Chunker().split_all(docs)


def test_every_chunk_is_an_exact_slice_of_its_document(docs_and_chunks):
    docs, chunks = docs_and_chunks
    assert len(chunks) > 20
    for c in chunks:
        assert docs[c.doc_id].text[c.start : c.end] == c.text


def test_chunks_cover_every_document_completely(docs_and_chunks):
    docs, chunks = docs_and_chunks
    for doc_id, doc in docs.items():
        covered = [False] * len(doc.text)
        for c in chunks:
            if c.doc_id == doc_id:
                covered[c.start : c.end] = [True] * (c.end - c.start)
        gaps = [doc.text[i] for i, ok in enumerate(covered) if not ok]
        assert set(gaps) <= {"\n", " "}, (doc.title, gaps[:10])


def test_no_chunk_starts_with_punctuation_and_chunks_end_on_a_sentence(docs_and_chunks):
    docs, chunks = docs_and_chunks
    for c in chunks:
        assert c.text[0] not in PUNCT, c.text[:20]
        text = docs[c.doc_id].text
        # A chunk ends where a sentence, a heading or its document ends.
        assert c.end == len(text) or text[c.end - 1] in "。!?;)" or text[c.end] == "\n", c.text[
            -20:
        ]


def test_chunk_sizes_respect_the_settings():
    docs = load_documents([BUNDLED_PAGE])
    for size in (200, 300, 500):
        chunks = Chunker(ChunkerSettings(chunk_size=size, chunk_overlap=size // 5)).split_all(docs)
        assert max(len(c.text) for c in chunks) <= size + 5  # marks moved from the next chunk


def test_consecutive_chunks_of_a_long_paragraph_overlap_by_a_sentence():
    doc = load_documents([BUNDLED_PAGE])[3]
    chunks = Chunker(ChunkerSettings(chunk_size=200, chunk_overlap=80)).split(doc)
    overlaps = [b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False)]
    assert any(overlaps)
    for a, b in zip(chunks, chunks[1:], strict=False):
        if b.start < a.end:  # the shared part is whole sentences
            assert doc.text[b.start - 1] in "。\n!?;！？；" or b.start == 0


def test_chunks_carry_metadata_section_and_raw_lines(docs_and_chunks):
    docs, chunks = docs_and_chunks
    for c in chunks:
        doc = docs[c.doc_id]
        assert c.title == doc.title and c.authors == doc.authors
        assert c.section == doc.section_at(c.start)
        assert c.lines == doc.lines_for(c.start, c.end) and c.lines[0] <= c.lines[1]
    headed = [c for c in chunks if c.text.startswith("顶层设计，政策引领")]
    assert headed and headed[0].section == "顶层设计，政策引领"


def test_chunk_ids_are_stable_and_change_with_content():
    docs = load_documents([BUNDLED_PAGE])
    a = Chunker().split_all(docs)
    b = Chunker().split_all(load_documents([BUNDLED_PAGE]))
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)
    changed = Chunker(ChunkerSettings(chunk_size=250)).split_all(docs)
    assert {c.chunk_id for c in changed} != {c.chunk_id for c in a}


def test_embedding_text_carries_title_authors_and_section():
    chunk = Chunker().split_all(load_documents([BUNDLED_PAGE]))[-2]
    text = embedding_text(chunk)
    # Width folded for matching only: the text people see keeps its full-width marks.
    assert "，" in chunk.text and "，" not in text
    assert text.startswith(chunk.title) and text.endswith(unicodedata.normalize("NFKC", chunk.text))


@pytest.mark.parametrize(("size", "overlap"), [(10, 0), (300, 300), (300, -1)])
def test_bad_chunker_settings_are_refused(size, overlap):
    with pytest.raises(InputError):
        ChunkerSettings(chunk_size=size, chunk_overlap=overlap)
