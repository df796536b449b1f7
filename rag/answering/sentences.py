"""Sentences with exact offsets, so that a quoted sentence can always be found again.

Text may arrive NFKC-normalised (full-width ``！？`` as ASCII ``! ?``) or as printed, with
full-width punctuation; both forms are read alike. A sentence keeps its closing mark and any closing quotes or brackets
after it (``……。”``), and never starts with punctuation or whitespace: marks stranded at
the start of a piece (a closing quote after a line break, a comma) belong to no sentence.
Opening quotes and brackets may start a sentence (``“健全就业公共服务体系…”``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.types import Chunk, Document

# A terminator run plus closing quotes/brackets, or a line break (a paragraph ends a
# sentence even without a mark: headings, bylines). ASCII "." only ends a sentence before
# whitespace, so decimals (94.9%) and dotted names stay whole. Semicolons do not end a
# sentence: the clauses they separate rarely stand on their own as a quote.
_CLOSERS = "”’」』)）》\"'"
_SENTENCE_END = re.compile(rf"(?:[。!?！？]+|…+|\.(?=\s|$))[{_CLOSERS}]*|\n")
# A "." after an initial (S.G. Tallentyre, J. K. Rowling) or a title (St. John, Dr. Sun) ends
# an abbreviation, not a sentence: Latin names inside Chinese text are cut there otherwise.
_ABBREVIATION = re.compile(
    r"(?<![A-Za-z])(?:[A-Z]|St|Dr|Mr|Mrs|Ms|Mt|Jr|Sr|Prof|Gen|Col|Capt|Lt|Rev|No|Vol|vs)$"
)
_LEADING = set("。!?;…,、:.”’」』)》-—·！？；，：）")


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``text == source[start:end]`` for the text it was split from."""

    text: str
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split ``text`` into sentences whose offsets are shifted by ``offset``.

    Args:
        text: The text to split (a chunk's text, a paragraph, a whole document).
        offset: Where ``text`` starts in the document, so that
            ``document.text[s.start:s.end] == s.text`` for every returned sentence.

    Returns:
        Sentences in text order; empty when the text holds nothing but marks and spaces.
    """
    sentences: list[Sentence] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        # A mark inside a title (《卡拉OK.LIVE！‧台北‧我》) is part of the name; a line break
        # still ends the sentence, so an unclosed 《 cannot swallow a paragraph.
        if m.group() != "\n" and text.count("《", pos, m.start()) > text.count(
            "》", pos, m.start()
        ):
            continue
        if m.group().startswith(".") and _ABBREVIATION.search(text, pos, m.start()):
            continue
        if m.group() != "\n" and _inside_quote(text, pos, m.end()):
            continue
        end = m.start() if m.group() == "\n" else m.end()
        _append(sentences, text, pos, end, offset)
        pos = m.end()
    _append(sentences, text, pos, len(text), offset)
    return _with_speakers(sentences, text, offset)


# A short quotation is one sentence: 钱谦益作《序》称：“文章者，…而成者也。与山水近，与市朝远；
# …其结习使然也。” cut at its first 。 leaves a half-quote that says nothing and a rest that
# opens mid-speech. A quotation longer than this, from its opening mark to its closing one, is
# a speech whose sentences stand on their own, and is cut as before.
_QUOTE_MAX = 160
_QUOTE_PAIRS = (("“", "”"), ("「", "」"), ("『", "』"))


def _inside_quote(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (a sentence so far, its mark included) leaves a short
    quotation open: one whose closing mark follows in the same paragraph, at most
    :data:`_QUOTE_MAX` characters from its opening one (a stray mark joins nothing)."""
    for opening, closing in _QUOTE_PAIRS:
        at = text.rfind(opening, start, end)
        if at < 0 or closing in text[at:end]:
            continue
        line_end = text.find("\n", end)
        closed = text.find(closing, end, len(text) if line_end < 0 else line_end)
        return closed >= 0 and closed - at <= _QUOTE_MAX
    return False


# Who said a quote that comes first: “家乡有前景，回来不后悔。”陈思远说。
_SPEAKER = re.compile(
    r"^[^，,。！？!?“”\n]{1,16}(?:说|表示|指出|介绍|认为|强调|坦言|感慨|告诉记者|说道)[。！!]?$"
)


def _with_speakers(sentences: list[Sentence], text: str, offset: int) -> list[Sentence]:
    """A quote and the speaker tag after it (“……。”某某说。) as one sentence: the tag alone says
    nothing, the quote alone not who said it."""
    out: list[Sentence] = []
    for s in sentences:
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.text.endswith(("”", '"', "’"))
            and _SPEAKER.match(s.text)
            and not text[previous.end - offset : s.start - offset].strip(" \t\u3000")
        ):
            start, end = previous.start, s.end
            out[-1] = Sentence(text[start - offset : end - offset], start, end)
        else:
            out.append(s)
    return out


def _append(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    while start < end and (text[start] in _LEADING or text[start].isspace()):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append(Sentence(text[start:end], offset + start, offset + end))


def chunk_sentences(chunk: Chunk, document: Document | None = None) -> list[Sentence]:
    """The sentences of a chunk, with offsets into its document.

    Without ``document`` the chunk's own text is split, so a chunk that starts or ends in
    the middle of a sentence yields a fragment there. With ``document``, the paragraphs
    around the chunk are split instead and every sentence overlapping the chunk is
    returned whole, even where it runs past the chunk's edges.

    Args:
        chunk: A retrieved chunk.
        document: The chunk's document (``document.doc_id == chunk.doc_id``).

    Returns:
        Sentences in document order.
    """
    if document is None:
        return split_sentences(chunk.text, chunk.start)
    return [
        s
        for s in paragraph_sentences(document, chunk.start, chunk.end)
        if s.start < chunk.end and s.end > chunk.start
    ]


def paragraph_sentences(document: Document, start: int, end: int) -> list[Sentence]:
    """The sentences of the paragraphs that ``document.text[start:end]`` lies in, whole, with
    document offsets."""
    text = document.text
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    hi = len(text) if hi < 0 else hi
    return split_sentences(text[lo:hi], lo)


def paragraph_start(document: Document, offset: int) -> bool:
    """True when ``offset`` opens a paragraph (only whitespace before it on its line)."""
    line_start = document.text.rfind("\n", 0, offset) + 1
    return not document.text[line_start:offset].strip()
