"""Questions about the article itself: who wrote it, and the author's position or unit.

The answer comes from the document's metadata (``authors``, ``affiliation``), and the citation
is the text that states it: the ``（作者为…）`` / ``（作者单位：…）`` note printed with the article,
as a verbatim slice. The article is the one the question names (an author's name, or the
title), else the best-ranked retrieved article that has such a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.bylines import asked_note, asks_about_author, names_author
from rag.types import Document, Hit

__all__ = ["asks_about_author", "names_author", "find_author_note", "author_line"]


@dataclass(frozen=True)
class MetadataAnswer:
    """The article asked about, its authors, and where its author note sits in its text."""

    document: Document
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.document.text[self.start : self.end]


def find_author_note(
    question: str, hits: Sequence[Hit], documents: Mapping[str, Document]
) -> MetadataAnswer | None:
    """The author note of the article the question is about, if it has one."""
    found = asked_note(question, documents, (h.chunk.doc_id for h in hits))
    return MetadataAnswer(*found) if found is not None else None


def author_line(doc: Document, english: bool) -> str:
    """The metadata sentence leading the answer ("作者：鲁全。"), or "" without authors."""
    if not doc.authors:
        return ""
    if english:
        return f"Author: {', '.join(doc.authors)}."
    return f"作者：{'、'.join(doc.authors)}。"
