"""Typed, frozen records passed between the library's stages."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# page: an article found on a (OCR'd) newspaper page; web: a saved web page; pdf, docx: a
# file of that type; text: plain text, Markdown, a BEIR record or a document sent over HTTP.
DOCUMENT_KINDS = ("page", "web", "pdf", "docx", "text")


@dataclass(frozen=True)
class Section:
    """A section heading inside a document; it covers ``text[start:]`` up to the next one."""

    title: str
    start: int


@dataclass(frozen=True)
class Document:
    """One article (or file) after cleaning.

        ``source`` is the file name or URL it came from, ``kind`` what it was read from (one of
        :data:`DOCUMENT_KINDS`), ``published`` the date the source states (``YYYY-MM-DD``; ``""``
        when it states none), ``site`` the site or publication a web page names, ``editors`` the
    editors its metadata lines name (``（责任编辑：李四）``).

        ``line_map`` is a sorted tuple of ``(offset, raw_line)`` pairs: the cleaned text from
        ``offset`` up to the next pair's offset comes from 1-based line ``raw_line`` of the
        source file. It is how a citation points back at the original.
    """

    doc_id: str
    title: str
    text: str
    authors: tuple[str, ...] = ()
    affiliation: str = ""
    column: str = ""
    standfirst: str = ""
    sections: tuple[Section, ...] = ()
    source: str = ""
    line_map: tuple[tuple[int, int], ...] = ()
    published: str = ""
    kind: str = "text"
    site: str = ""
    title_lines: tuple[int, ...] = field(default=(), compare=False)
    editors: tuple[str, ...] = ()

    def line_at(self, offset: int) -> int:
        """Raw line number holding cleaned character ``offset`` (0 when unknown)."""
        if not self.line_map:
            return 0
        offsets = [o for o, _ in self.line_map]
        i = bisect.bisect_right(offsets, offset) - 1
        return self.line_map[max(i, 0)][1]

    def lines_for(self, start: int, end: int) -> tuple[int, int]:
        """Raw line range ``(first, last)`` covering ``text[start:end]``."""
        return (self.line_at(start), self.line_at(max(start, end - 1)))

    def section_at(self, offset: int) -> str:
        """Heading of the section holding ``offset`` ("" before the first heading)."""
        title = ""
        for section in self.sections:
            if section.start > offset:
                break
            title = section.title
        return title


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    authors: tuple[str, ...] = ()
    section: str = ""
    lines: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and each leg's score and rank."""

    chunk: Chunk
    rank: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits for one query, and whether the evidence looks strong enough."""

    query: str
    mode: str
    hits: tuple[Hit, ...]
    answerable: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: The text the dense leg embedded when it is not ``query`` itself (an English question
    #: with its words as the corpus writes them in Chinese); the answerer compares sentences
    #: with the same text.
    embedded: str = ""


@dataclass(frozen=True)
class Citation:
    """A cited quote: ``document.text[start:end] == quote``."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    quote: str
    start: int
    end: int
    authors: tuple[str, ...] = ()
    section: str = ""
    lines: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Answer:
    """An answer text carrying ``[n]`` markers, and the citations those markers point at."""

    question: str
    text: str
    answerable: bool
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...] = ()
    note: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation: the question asked and the answer given to it.

    Follow-up questions ("第二个亮点具体指什么？", "Tell me more about the second one") are
    resolved against these: their topic and the documents their citations point at.
    """

    question: str
    answer: str = ""
    citations: tuple[Citation, ...] = ()
