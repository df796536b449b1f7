"""Questions about the article itself: who wrote it, and the author's position or unit.

The answer comes from the document's metadata (``authors``, ``affiliation``), and the citation
is the text that states it: the ``（作者为…）`` / ``（作者单位：…）`` note printed with the article,
as a verbatim slice. The article is the one the question names (an author's name, or the
title), else the best-ranked retrieved article that has such a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.lexicon import fold
from rag.types import Document, Hit

_ABOUT_AUTHOR = re.compile(r"作者|谁写|撰写|执笔|author|wrote|writer|written by", re.IGNORECASE)
_ASKS = re.compile(
    r"是谁|谁写|哪位|是什么人|叫什么名字|职务|职位|任职|担任什么|担任哪|头衔|身份|哪个单位|什么单位|"
    r"哪个机构|哪家单位|在哪.{0,3}工作|来自哪|\bwho\b|position|\bposts?\b|\brole|\bjob\b|"
    r"affiliat|organi[sz]ation|work(?:s|ed)? (?:for|at)|institution|\bunit\b",
    re.IGNORECASE,
)
_NOTE = re.compile(r"[(（]\s*作者[^()（）\n]{1,120}[)）]")


@dataclass(frozen=True)
class MetadataAnswer:
    """The article asked about, its authors, and where its author note sits in its text."""

    document: Document
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.document.text[self.start : self.end]


def asks_about_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question asks who wrote an article, or an author's position or unit."""
    q = fold(question)
    if not _ASKS.search(q):
        return False
    if _ABOUT_AUTHOR.search(q):
        return True
    return any(name and name in q for d in documents.values() for name in d.authors)


def names_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question names one of the articles' authors (鲁全担任什么职务？)."""
    q = fold(question)
    return any(name and name in q for d in documents.values() for name in d.authors)


def find_author_note(
    question: str, hits: Sequence[Hit], documents: Mapping[str, Document]
) -> MetadataAnswer | None:
    """The author note of the article the question is about, if it has one."""
    q = fold(question)
    named = [d for d in documents.values() if any(n and n in q for n in d.authors)]
    titled = [d for d in documents.values() if d.title and fold(d.title) in q]
    ranked = [documents[h.chunk.doc_id] for h in hits if h.chunk.doc_id in documents]
    for doc in (*named, *titled, *ranked):
        m = _NOTE.search(doc.text)
        if m:
            return MetadataAnswer(doc, m.start(), m.end())
    return None


def author_line(doc: Document, english: bool) -> str:
    """The metadata sentence leading the answer ("作者：鲁全。"), or "" without authors."""
    if not doc.authors:
        return ""
    if english:
        return f"Author: {', '.join(doc.authors)}."
    return f"作者：{'、'.join(doc.authors)}。"
