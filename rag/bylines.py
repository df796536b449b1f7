"""Bylines: whether a question asks about an article's author, and where the author note is.

Chinese news prints its authors in a note (``（作者为…）``, ``（作者单位：…）``); a question about
the author's position or unit is answered from it. Both the searcher (which ranks the note's
chunk first for such a question) and the answerer (which quotes it) read it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from rag.index.pinyin import mentions
from rag.lexicon import fold
from rag.types import Chunk, Document

_ABOUT_AUTHOR = re.compile(r"作者|谁写|撰写|执笔|author|wrote|writer|written by", re.IGNORECASE)
_ASKS = re.compile(
    r"是谁|谁写|哪位|是什么人|叫什么名字|职务|职位|任职|担任什么|担任哪|头衔|身份|哪个单位|什么单位|"
    r"哪个机构|哪家单位|在哪.{0,3}工作|来自哪|\bwho\b|position|\bposts?\b|\brole|\bjob\b|"
    r"affiliat|organi[sz]ation|work(?:s|ed)? (?:for|at)|institution|\bunit\b",
    re.IGNORECASE,
)
NOTE = re.compile(r"[(（]\s*作者[^()（）\n]{1,120}[)）]")


def asks_about_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question asks who wrote an article, or an author's position or unit."""
    return asks_about(question, (n for d in documents.values() for n in d.authors))


def asks_about(question: str, author_names: Iterable[str]) -> bool:
    """:func:`asks_about_author` given the corpus's authors' names (a searcher keeps them)."""
    q = fold(question)
    if not _ASKS.search(q):
        return False
    if _ABOUT_AUTHOR.search(q):
        return True
    return any(mentions(q, name) for name in author_names)


def names_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question names one of the articles' authors (鲁全担任什么职务？, or in pinyin: What
    positions does Lu Quan hold?)."""
    q = fold(question)
    return any(mentions(q, name) for d in documents.values() for name in d.authors)


def note_span(document: Document) -> tuple[int, int] | None:
    """Where the document's author note is in its text, if it prints one."""
    m = NOTE.search(document.text)
    return (m.start(), m.end()) if m else None


def asked_document(
    question: str, documents: Mapping[str, Document], ranked: Iterable[str]
) -> Document | None:
    """The article an author question is about: the one whose author it names, else whose
    title it quotes, else the best-ranked one (``ranked``: document ids, best first) that
    prints an author note."""
    q = fold(question)
    named = (d for d in documents.values() if any(mentions(q, n) for n in d.authors))
    titled = (d for d in documents.values() if d.title and fold(d.title) in q)
    in_rank = (documents[i] for i in ranked if i in documents)
    for doc in (*named, *titled, *in_rank):
        if note_span(doc) is not None:
            return doc
    return None


def asked_note(
    question: str, documents: Mapping[str, Document], ranked: Iterable[str]
) -> tuple[Document, int, int] | None:
    """The article an author question is about (:func:`asked_document`) and where its author
    note is, or None."""
    doc = asked_document(question, documents, ranked)
    span = note_span(doc) if doc is not None else None
    return (doc, *span) if doc is not None and span is not None else None


def note_chunk(
    question: str,
    documents: Mapping[str, Document],
    ranked: Iterable[str],
    chunks_of: Callable[[str], list[Chunk]],
) -> Chunk | None:
    """The chunk holding the author note of the article an author question is about, or None."""
    found = asked_note(question, documents, ranked)
    if found is None:
        return None
    doc, start, _ = found
    return next((c for c in chunks_of(doc.doc_id) if c.start <= start < c.end), None)
