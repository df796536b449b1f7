"""Invariants every answer holds, shared by the tests of each stage that makes answers."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rag.types import Answer, Document


def check_citations(answer: Answer, documents: Mapping[str, Document]) -> None:
    """Each citation is a verbatim slice of its document with that slice's source lines, and
    the text's markers are ``[1]..[N]`` in order of first use, one number per citation."""
    for c in answer.citations:
        doc = documents[c.doc_id]
        assert doc.text[c.start : c.end] == c.quote
        assert c.lines == doc.lines_for(c.start, c.end)
    markers = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", answer.text)))
    assert markers == list(range(1, len(answer.citations) + 1))


def check_answer(answer: Answer, documents: Mapping[str, Document]) -> None:
    """:func:`check_citations`, and what an extractive answer adds: each citation names its
    section and title, is numbered in order, quotes a distinct span, and an answer cites
    something exactly when it is answerable."""
    check_citations(answer, documents)
    for c in answer.citations:
        doc = documents[c.doc_id]
        assert c.section == doc.section_at(c.start)
        assert c.title == doc.title
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    quotes = [(c.doc_id, c.start, c.end) for c in answer.citations]
    assert len(quotes) == len(set(quotes)), "identical quotes must share one number"
    if answer.answerable:
        assert answer.citations, "an answer must cite something"
    else:
        assert answer.citations == ()
