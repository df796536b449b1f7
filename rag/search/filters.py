"""Which documents a search may draw from: a date range, a source, a kind, a list of ids.

A filtered search returns the best passages among the matching documents, not the best
overall with the others struck out afterwards (which comes up short, or empty, when the
matching documents are a small part of the index): each leg searches within the allowed
rows only (see :meth:`rag.index.dense.DenseIndex.search` and
:meth:`rag.index.keyword.KeywordIndex.search`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from rag.errors import InputError
from rag.types import DOCUMENT_KINDS, Document


@dataclass(frozen=True)
class Filters:
    """Conditions a document must meet; every one given must hold.

    Attributes:
        published_after: ``YYYY-MM-DD``, inclusive; documents without a date never match.
        published_before: ``YYYY-MM-DD``, inclusive.
        source: The document's source (file name or URL) exactly, or a prefix of it.
        kind: One of :data:`rag.types.DOCUMENT_KINDS`.
        doc_ids: Only these documents.
    """

    published_after: str = ""
    published_before: str = ""
    source: str = ""
    kind: str = ""
    doc_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("published_after", "published_before"):
            check_date(getattr(self, name), name)
        after, before = self.published_after, self.published_before
        if after and before and after > before:
            raise InputError(
                f"published_after ({self.published_after}) is later than published_before "
                f"({self.published_before}): swap them",
                "published_after",
            )
        if self.kind and self.kind not in DOCUMENT_KINDS:
            raise InputError(
                f"kind must be one of {', '.join(DOCUMENT_KINDS)}, got {self.kind!r}", "kind"
            )

    @classmethod
    def make(
        cls,
        published_after: str | None = None,
        published_before: str | None = None,
        source: str | None = None,
        kind: str | None = None,
        doc_ids: Iterable[str] | None = None,
    ) -> Filters | None:
        """Filters from optional values (None or empty: no condition); None when none given."""
        filters = cls(
            published_after=(published_after or "").strip(),
            published_before=(published_before or "").strip(),
            source=(source or "").strip(),
            kind=(kind or "").strip(),
            doc_ids=tuple(dict.fromkeys(d for d in (doc_ids or ()) if d)),
        )
        return filters if filters.active else None

    @property
    def active(self) -> bool:
        return any(
            (self.published_after, self.published_before, self.source, self.kind, self.doc_ids)
        )

    def matches(self, doc: Document) -> bool:
        """True when ``doc`` meets every condition."""
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.kind and doc.kind != self.kind:
            return False
        if self.source and not doc.source.startswith(self.source):
            return False
        if self.published_after or self.published_before:
            if not doc.published:
                return False
            # ISO dates compare correctly as strings.
            if self.published_after and doc.published < self.published_after:
                return False
            if self.published_before and doc.published > self.published_before:
                return False
        return True

    def allowed_rows(
        self, documents: Mapping[str, Document], rows_of: Callable[[str], Iterable[int]]
    ) -> np.ndarray:
        """Row numbers (ascending) of the chunks of the matching documents.

        Args:
            documents: The index's documents by id.
            rows_of: The rows of one document's chunks.
        """
        if self.doc_ids:  # usually a handful: no need to look at every document
            candidates = (documents[d] for d in self.doc_ids if d in documents)
        else:
            candidates = iter(documents.values())
        rows = [row for doc in candidates if self.matches(doc) for row in rows_of(doc.doc_id)]
        return np.array(sorted(rows), dtype=np.int64)


def check_date(value: str, name: str) -> None:
    """Refuse anything but a real ``YYYY-MM-DD`` date (empty is fine), naming the field."""
    if not value:
        return
    try:
        dt.date.fromisoformat(value)
        if len(value) != 10:
            raise ValueError(value)
    except ValueError:
        raise InputError(
            f"{name} must be a date written YYYY-MM-DD (e.g. 2023-10-26), got {value!r}", name
        ) from None
