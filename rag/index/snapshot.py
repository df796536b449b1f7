"""An immutable, point-in-time view of an index: what every search and answer reads.

Like a Lucene ``DirectoryReader`` or a Tantivy ``Searcher`` generation, a :class:`Snapshot`
never changes once published. A write builds the next snapshot beside it (sharing every part it
does not change) and the writer publishes it with one reference assignment, so a request that
took a snapshot at its start sees the documents, chunks, row maps and both search structures of
one state, before or after a write, never between, and needs no lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from rag.chunking import Chunker
from rag.embedding.base import Encoder
from rag.errors import NotFoundError
from rag.index.dense import DenseIndex
from rag.index.keyword import KeywordIndex
from rag.types import Chunk, Document


@dataclass(frozen=True)
class Addition:
    """Documents to add (replacing any with the same id) with their chunks' vectors and tokens.

    It is everything a write needs and the unit the write-ahead log stores, so replaying the
    log rebuilds the same snapshots without the model.
    """

    documents: tuple[Document, ...]
    hashes: tuple[str, ...]
    spans: tuple[tuple[int, int, int], ...]  # (document position, start, end) of each chunk
    vectors: np.ndarray
    tokens: tuple[tuple[str, ...], ...]

    def chunks(self) -> list[Chunk]:
        # A chunk is a pure function of its document and offsets (Chunker.split makes it so),
        # so neither the log nor the chunk store repeats the text, title or byline per chunk.
        return [make_chunk(self.documents[i], start, end) for i, start, end in self.spans]


def make_chunk(doc: Document, start: int, end: int) -> Chunk:
    """The chunk of ``doc`` spanning ``text[start:end]``, as the chunker made it."""
    return Chunker._make_chunk(doc, start, end)  # noqa: SLF001 (one definition of a chunk)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Documents, their chunks and the dense and keyword structures over them, at one point.

    Row ``i`` of :attr:`dense` and :attr:`keyword` is :attr:`chunks` ``[i]``. Nothing here is
    changed after publication: treat every attribute as read-only.
    """

    encoder: Encoder
    chunker: Chunker
    documents: Mapping[str, Document]
    hashes: Mapping[str, str]
    chunks: tuple[Chunk, ...]
    dense: DenseIndex
    keyword: KeywordIndex
    built_at: str = ""
    generation: int = 0
    _by_id: Mapping[str, int] = field(default_factory=dict, repr=False)
    _by_doc: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        encoder: Encoder,
        chunker: Chunker,
        documents: dict[str, Document],
        hashes: dict[str, str],
        chunks: tuple[Chunk, ...],
        dense: DenseIndex,
        keyword: KeywordIndex,
        built_at: str = "",
        generation: int = 0,
        prepare: bool = True,
    ) -> Snapshot:
        """A snapshot ready for readers: row maps computed, search structures built (unless
        ``prepare`` is false: an intermediate state no reader will see)."""
        by_id: dict[str, int] = {}
        by_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            by_id[chunk.chunk_id] = row
            by_doc.setdefault(chunk.doc_id, []).append(row)
        if prepare:
            dense.prepare()
            keyword.prepare()
        return cls(
            encoder,
            chunker,
            MappingProxyType(documents),
            MappingProxyType(hashes),
            chunks,
            dense,
            keyword,
            built_at,
            generation,
            MappingProxyType(by_id),
            MappingProxyType({d: tuple(rows) for d, rows in by_doc.items()}),
        )

    @classmethod
    def empty(cls, encoder: Encoder, chunker: Chunker, ann: str = "auto") -> Snapshot:
        return cls.create(
            encoder, chunker, {}, {}, (), DenseIndex(encoder.dim, ann), KeywordIndex()
        )

    # ---- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.chunks)

    def document(self, doc_id: str) -> Document:
        try:
            return self.documents[doc_id]
        except KeyError:
            raise NotFoundError(
                f"no document with id {doc_id!r}; list them with GET /documents or `rag documents`"
            ) from None

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        return [self.chunks[row] for row in self._by_doc.get(doc_id, ())]

    def row(self, chunk_id: str) -> int:
        """Row of a chunk in the search structures."""
        return self._by_id[chunk_id]

    def fingerprint(self) -> str:
        """Identifies the indexed corpus: same documents, same fingerprint."""
        h = hashlib.sha256()
        for doc_id in sorted(self.hashes):
            h.update(f"{doc_id}:{self.hashes[doc_id]}\n".encode())
        return h.hexdigest()[:16]

    # ---- the next snapshot ---------------------------------------------------------------
    def added(self, addition: Addition, prepare: bool = True) -> Snapshot:
        """The snapshot after ``addition``: replaced documents' chunks go, new ones are appended.

        Costs in proportion to what is added (a new dense segment, new rows in the maps), plus
        a rebuild of the segments a replacement removes rows from and of the BM25 statistics.
        """
        doc_ids = {d.doc_id for d in addition.documents}
        base = self.deleted(doc_ids, prepare=False)
        dense, keyword = base.dense.copy(), base.keyword.copy()
        if len(addition.spans):
            dense.add(addition.vectors)
            keyword.add([list(t) for t in addition.tokens])
        documents = dict(base.documents)
        hashes = dict(base.hashes)
        for doc, digest in zip(addition.documents, addition.hashes, strict=True):
            documents[doc.doc_id] = doc
            hashes[doc.doc_id] = digest
        return Snapshot.create(
            self.encoder,
            self.chunker,
            documents,
            hashes,
            base.chunks + tuple(addition.chunks()),
            dense,
            keyword,
            self.built_at,
            self.generation + 1,
            prepare,
        )

    def deleted(self, doc_ids: set[str], prepare: bool = True) -> Snapshot:
        """The snapshot without these documents and their chunks (unknown ids are ignored)."""
        doc_ids = doc_ids & set(self.documents)
        if not doc_ids:
            return self
        rows = [r for d in doc_ids for r in self._by_doc.get(d, ())]
        dense, keyword = self.dense.copy(), self.keyword.copy()
        chunks = self.chunks
        if rows:
            mask = np.ones(len(self.chunks), dtype=bool)
            mask[rows] = False
            dense.keep(mask)
            keyword.keep(mask)
            chunks = tuple(c for c, keep in zip(self.chunks, mask, strict=True) if keep)
        documents = {k: v for k, v in self.documents.items() if k not in doc_ids}
        hashes = {k: v for k, v in self.hashes.items() if k not in doc_ids}
        return Snapshot.create(
            self.encoder,
            self.chunker,
            documents,
            hashes,
            chunks,
            dense,
            keyword,
            self.built_at,
            self.generation + 1,
            prepare,
        )
