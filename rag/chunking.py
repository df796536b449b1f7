"""Splitting documents into overlapping, sentence-aligned chunks with exact offsets."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import asdict, dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.errors import InputError
from rag.types import Chunk, Document

# Text keeps its punctuation as printed: full-width ！？；，： in Chinese text, ASCII ones in
# Latin text (and in text cleaned before full-width marks were kept), so both forms split.
# A sentence mark stays with its sentence, and closing quotes stay with the mark.
_SENTENCE_END = r"[。!?;…！？；]+[”’」』)）》]*"
_CLAUSE_END = r"[,、:，：]"
_LEADING_PUNCT = set("。!?;…,、:”’」』)》.！？；，：）．")


@dataclass(frozen=True)
class ChunkerSettings:
    """Chunk size and overlap in characters (recorded in every index manifest)."""

    chunk_size: int = 300
    chunk_overlap: int = 60

    def __post_init__(self) -> None:
        if self.chunk_size < 50:
            raise InputError(f"chunk_size must be at least 50 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise InputError(
                f"chunk_overlap must be between 0 and chunk_size ({self.chunk_size}), "
                f"got {self.chunk_overlap}"
            )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Chunker:
    """Paragraphs first, then sentences (mark kept), then clauses; never a leading mark."""

    def __init__(self, settings: ChunkerSettings | None = None) -> None:
        self.settings = settings or ChunkerSettings()
        self._splitter = RecursiveCharacterTextSplitter(
            separators=["\n", _SENTENCE_END, _CLAUSE_END, ""],
            is_separator_regex=True,
            keep_separator="end",
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            strip_whitespace=True,
        )

    def split(self, doc: Document) -> list[Chunk]:
        """Chunk one document; every chunk satisfies ``doc.text[c.start:c.end] == c.text``.

        Sections are chunked one at a time, so a heading always opens a chunk and never
        dangles at the end of the previous section's last chunk.
        """
        bounds = sorted({0, *(s.start for s in doc.sections), len(doc.text)})
        spans: list[tuple[int, int]] = []
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            spans.extend((lo + a, lo + b) for a, b in self._spans(doc.text[lo:hi]))
        return [self._make_chunk(doc, start, end) for start, end in spans]

    def split_all(self, docs: list[Document]) -> list[Chunk]:
        return [chunk for doc in docs for chunk in self.split(doc)]

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        cursor = 0
        for piece in self._splitter.split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # the splitter only strips whitespace, so this cannot happen
                raise AssertionError(f"chunk not found in its document: {piece[:30]!r}")
            spans.append((start, start + len(piece)))
            cursor = start + 1
        return _move_leading_punctuation(text, spans)

    @staticmethod
    def _make_chunk(doc: Document, start: int, end: int) -> Chunk:
        text = doc.text[start:end]
        return Chunk(
            chunk_id=make_chunk_id(doc.doc_id, start, text),
            doc_id=doc.doc_id,
            title=doc.title,
            text=text,
            start=start,
            end=end,
            authors=doc.authors,
            section=doc.section_at(start),
            lines=doc.lines_for(start, end),
        )


def _move_leading_punctuation(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A chunk must not start with a mark: hand leading marks to the chunk before it."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        new_start = start
        while new_start < end and (text[new_start] in _LEADING_PUNCT or text[new_start].isspace()):
            new_start += 1
        if new_start == end:  # nothing but marks: glue them to the previous chunk
            if out:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            continue
        if new_start > start and out and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], new_start))
        out.append((new_start, end))
    return out


def make_chunk_id(doc_id: str, start: int, text: str) -> str:
    """Stable id from the document id, the offset and the text."""
    return hashlib.sha1(f"{doc_id}\x00{start}\x00{text}".encode()).hexdigest()[:16]


# A byline longer than this would crowd the chunk's own text out of the model's input (and be
# tokenised again for every chunk); the first names find the article as well as all of them.
MAX_BYLINE_AUTHORS = 8


def embedding_text(chunk: Chunk) -> str:
    """What gets embedded and keyword-indexed for a chunk: its text under a short header.

    The header carries the title, byline and section, so questions about who wrote an
    article or what a section covers find its chunks; citations still quote only the text.
    Width is folded (NFKC) here, for matching only: the vectors and keyword tokens do not
    depend on whether the source printed ``，`` or ``,``.
    """
    header = [chunk.title]
    if chunk.authors:
        header.append(" ".join(chunk.authors[:MAX_BYLINE_AUTHORS]))
    if chunk.section:
        header.append(chunk.section)
    return unicodedata.normalize("NFKC", " | ".join(h for h in header if h) + "\n" + chunk.text)
