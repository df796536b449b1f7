"""The seams of the question pipeline: what each swappable part must offer.

A question goes through four parts, each behind a narrow protocol so that another
implementation can stand in for it (a test's fake, another model, another backend):

- :class:`~rag.embedding.base.Encoder` turns text into vectors (e5 on ONNX or torch, or the
  fake hash encoder in fast tests);
- :class:`Retriever` ranks passages for a query (:class:`~rag.search.Searcher` over one
  snapshot, or the whole :class:`~rag.engine.Engine`);
- :class:`AnswerStage` turns the passages into a cited answer
  (:class:`~rag.answering.extractive.ExtractiveAnswerer`);
- :class:`Generator` optionally rephrases that answer with a language model
  (:class:`~rag.answering.generation.ChatGenerator`).

Every part has a cheap constructor and an idempotent ``warm_up()`` that loads what it needs,
called once at start-up (the API's lifespan, the CLI), so the first request pays for
nothing. The protocols are ``runtime_checkable``: ``isinstance(x, Retriever)`` checks that
the methods exist (not their signatures; the type checker does that).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag.embedding.base import Encoder
from rag.types import Answer, Document, SearchResult, Turn

if TYPE_CHECKING:
    from rag.answering.generation import AnswerEvent
    from rag.search.filters import Filters

__all__ = ["AnswerStage", "Encoder", "Generator", "Retriever"]


@runtime_checkable
class Retriever(Protocol):
    """Ranks the indexed passages for a query."""

    def warm_up(self) -> None:
        """Load what the first search would otherwise load; later calls return at once."""
        ...

    def search(
        self, query: str, top_k: int = 5, mode: str = "hybrid", filters: Filters | None = None
    ) -> SearchResult:
        """The ``top_k`` best passages for ``query`` and whether they look like an answer;
        with ``filters``, the best among the documents that match them.

        Raises:
            InputError: An empty query, ``top_k`` out of range or an unknown ``mode``.
        """
        ...


@runtime_checkable
class AnswerStage(Protocol):
    """Turns retrieved passages into an answer whose citations are verbatim slices."""

    def warm_up(self) -> None:
        """Load what answering needs; later calls return at once."""
        ...

    def answer(
        self, question: str, result: SearchResult, documents: Mapping[str, Document]
    ) -> Answer:
        """Answer ``question`` from the hits of ``result`` ("not found" when they do not).

        ``documents`` are the index's documents by id; every citation quotes
        ``documents[doc_id].text[start:end]``.
        """
        ...


@runtime_checkable
class Generator(Protocol):
    """Phrases an answer with a language model, falling back to the extractive one."""

    def warm_up(self) -> None:
        """Make the client (no request is sent); later calls return at once."""
        ...

    def generate(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        fallback: Answer,
    ) -> Answer:
        """The model's answer from the hits of ``result``, or ``fallback`` when it fails."""
        ...

    def stream(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        fallback: Answer,
    ) -> Iterator[AnswerEvent]:
        """:meth:`generate`, streamed: text pieces as written, then the whole answer."""
        ...

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        """A follow-up ``question`` rewritten as a standalone one, or None on failure."""
        ...

    def translate(self, question: str) -> str | None:
        """A question without Chinese put into Chinese for searching, or None on failure."""
        ...
