"""The single-question ask path: retrieve, expand requested lists, answer extractively.

:meth:`rag.engine.Engine.ask` and the evaluator (``rag eval --answers``) both call
:func:`ask`, so what is measured is what ``/ask`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from rag.answering.extractive import ExtractiveAnswerer
from rag.search.enumeration import expand_result
from rag.search.searcher import Searcher
from rag.types import Answer, Chunk, Document, SearchResult


def retrieve(searcher: Searcher, question: str, top_k: int = 5) -> SearchResult:
    """Hybrid retrieval followed by the list-expansion stage (what ``/ask`` answers from)."""
    result = searcher.search(question, top_k=top_k, mode="hybrid")
    return expand_result(result, searcher.index.chunks_of)


def ask(
    searcher: Searcher,
    documents: Mapping[str, Document],
    question: str,
    top_k: int = 5,
    answerer: ExtractiveAnswerer | None = None,
    chunks_of: Callable[[str], list[Chunk]] | None = None,
) -> tuple[SearchResult, Answer]:
    """Retrieve for ``question`` and answer it from the hits; timings in the answer."""
    t0 = time.perf_counter()
    result = retrieve(searcher, question, top_k)
    t1 = time.perf_counter()
    answerer = answerer or ExtractiveAnswerer(encoder=searcher.index.encoder)
    answer = answerer.answer(result.query, result, documents)
    timings = dict(result.timings_ms)
    timings["search"] = round((t1 - t0) * 1000, 2)
    timings["answer"] = round((time.perf_counter() - t1) * 1000, 2)
    return result, Answer(**{**answer.__dict__, "timings_ms": timings})
