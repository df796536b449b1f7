"""A chat frontend's conversation: its messages, and what the earlier answers cited.

Chat frontends send the whole conversation with every request, as OpenAI-style messages,
and keep none of the service's structured citations: what comes back is the text shown.
The citations of an earlier answer are recovered from that text, by finding its quotes in
the documents (every sentence of an extractive answer, and every line of a Sources list, is
a verbatim slice of an article), so background tasks know which articles the conversation
is about without searching again. (Follow-up questions are resolved by
:mod:`rag.conversation`, which reads the earlier answers the same way.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rag.answering.markers import make_citation
from rag.parsing.cleaning import fold_in_place
from rag.types import Citation, Document

# A Sources line as the OpenAI route writes it: ``[n] Title · section: “quote”``.
_SOURCE_LINE = re.compile(r"^\s*\[\d+\][^“\n]*:\s*“(?P<quote>.+)”\s*$", re.MULTILINE)
_MARKERS = re.compile(r"\[\d+\]")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.、)])\s*")
# Shorter pieces than this match too many places to say which article they come from.
_MIN_QUOTE = 8
_MAX_PIECES = 12  # pieces of one answer looked up (an answer cites a handful of sentences)


@dataclass(frozen=True)
class Message:
    """One message of a conversation: ``user``, ``assistant`` or ``system``, and its text."""

    role: str
    text: str


def quoted_citations(text: str, documents: Mapping[str, Document]) -> tuple[Citation, ...]:
    """Citations for the quotes an earlier answer's text holds, numbered in order.

    Each quote is looked up as a verbatim slice of a document (its first occurrence); a
    paraphrase finds nothing and is left out.
    """
    citations: list[Citation] = []
    seen: set[tuple[str, int]] = set()
    for piece in _pieces(text):
        # Width folded on both sides: an answer copied with ASCII commas still finds text
        # printed with full-width ones; the citation quotes the document as printed.
        piece = fold_in_place(piece)
        for doc in documents.values():
            start = fold_in_place(doc.text).find(piece)
            if start < 0:
                continue
            if (doc.doc_id, start) not in seen:
                seen.add((doc.doc_id, start))
                citation = make_citation(len(citations) + 1, doc, "", start, start + len(piece))
                citations.append(citation)
            break
    return tuple(citations)


def _pieces(text: str) -> list[str]:
    """The quotes of an answer: its Sources lines if it has them, else its sentences."""
    quotes = [m.group("quote").strip() for m in _SOURCE_LINE.finditer(text)]
    if not quotes:
        for line in text.splitlines():
            line = _LIST_PREFIX.sub("", line)
            for part in _MARKERS.split(line):
                part = part.strip().strip('_*“”"')
                if part:
                    quotes.append(part)
    return [q for q in dict.fromkeys(quotes) if len(q) >= _MIN_QUOTE][:_MAX_PIECES]
