"""The index backend seam: what search and answers need from wherever the index lives.

Two implementations:

* ``faiss`` (the default): today's embedded index folder (:class:`rag.index.store.Index`:
  FAISS + bm25s in the serving process), wrapped by :class:`FaissBackend`;
* ``milvus``: a Milvus collection (:class:`rag.index.milvus.MilvusBackend`), embedded
  Milvus Lite for a local path or a Milvus server/cluster for ``http://host:19530``, so that
  several service replicas share one index.

Both speak in chunk ids, never in row numbers, so that a distributed engine can sit behind
the seam. The contract every backend keeps is tested once, on both
(``tests/test_backend_contract.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from rag.errors import IndexMismatchError, InputError
from rag.index.tokenize import tokenize
from rag.search.fusion import rrf
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.embedding.base import Encoder
    from rag.index.store import Index, IngestReport

BACKENDS = ("faiss", "milvus")
# known_terms("@author:鲁全"): whether some document has that author (authors are metadata,
# not indexed text, but a question naming one is about the corpus).
AUTHOR_MARK = "@author:"
DEFAULT_MILVUS_URI = "index/milvus.db"


@dataclass(frozen=True)
class Scored:
    """One chunk found by a search leg, with that leg's score (higher is better)."""

    chunk: Chunk
    score: float


@runtime_checkable
class IndexBackend(Protocol):
    """Documents, their chunks and vectors, and dense, keyword and hybrid search over them.

    ``doc_ids`` restricts a search to those documents (None: all of them).
    """

    name: str
    encoder: Encoder

    @property
    def documents(self) -> Mapping[str, Document]:
        """Every document by id (a live view for remote backends)."""
        ...

    @property
    def built_at(self) -> str: ...

    def __len__(self) -> int:
        """How many chunks are indexed."""
        ...

    def document(self, doc_id: str) -> Document:
        """One document; raises :class:`rag.errors.NotFoundError` if there is none."""
        ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in text order."""
        ...

    def add_documents(self, docs: list[Document], progress: bool = False) -> IngestReport:
        """Add new documents, replace changed ones, skip identical ones."""
        ...

    def add_embedded(
        self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray
    ) -> IngestReport:
        """Like :meth:`add_documents`, for chunks already split and embedded elsewhere."""
        ...

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and its chunks; return how many chunks went."""
        ...

    def dense_search(
        self, qvec: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        """The ``k`` chunks closest to a unit query vector (cosine), best first."""
        ...

    def keyword_search(
        self, text: str, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        """BM25 over the chunks for ``text`` plus extra ``terms`` (translations), best first."""
        ...

    def hybrid_search(
        self,
        qvec: np.ndarray,
        text: str,
        terms: Sequence[str],
        k: int,
        doc_ids: Collection[str] | None = None,
    ) -> list[Scored]:
        """Both legs fused by reciprocal rank (ranks only: scores of the legs differ)."""
        ...

    def known_terms(self, terms: Iterable[str]) -> set[str]:
        """Those of ``terms`` that occur in the corpus's keyword vocabulary."""
        ...

    def save(self, folder: Path) -> None:
        """Make the changes durable (a no-op where every write already is)."""
        ...


class Vocabulary:
    """A backend's keyword vocabulary as the ``in`` tests of the cross-lingual dictionary and
    the answerability check expect, looked up term by term and remembered for one query."""

    def __init__(self, backend: IndexBackend) -> None:
        self._backend = backend
        self._known: dict[str, bool] = {}

    def prefetch(self, terms: Iterable[str]) -> None:
        todo = [t for t in dict.fromkeys(terms) if t not in self._known]
        if todo:
            found = self._backend.known_terms(todo)
            self._known.update((t, t in found) for t in todo)

    def __contains__(self, term: object) -> bool:
        if not isinstance(term, str):
            return False
        if term not in self._known:
            self.prefetch([term])
        return self._known[term]

    @property
    def vocabulary(self) -> Vocabulary:
        # gather_evidence reads ``keyword.vocabulary``: this object stands in for the keyword index.
        return self


class FaissBackend:
    """The embedded index folder (:class:`rag.index.store.Index`) behind the seam.

    An adapter, not a rewrite: the store keeps its own row-based structures and the default
    :class:`rag.search.Searcher` keeps using them directly (the fast path).
    """

    name = "faiss"

    def __init__(self, index: Index) -> None:
        self.index = index
        self.encoder = index.encoder

    # ---- reading -------------------------------------------------------------------------
    @property
    def documents(self) -> Mapping[str, Document]:
        return self.index.documents

    @property
    def built_at(self) -> str:
        return self.index.built_at

    def __len__(self) -> int:
        return len(self.index)

    def document(self, doc_id: str) -> Document:
        return self.index.document(doc_id)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return self.index.chunks_of(doc_id)

    def dense_search(
        self, qvec: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        n = len(self.index) if doc_ids is not None else k
        if n == 0:
            return []
        scores, rows = self.index.dense.search(np.asarray(qvec, dtype=np.float32).reshape(1, -1), n)
        pairs = [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        return self._scored(pairs, k, doc_ids)

    def keyword_search(
        self, text: str, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        n = len(self.index) if doc_ids is not None else k
        keyword = self.index.keyword
        scores, rows = keyword.search(tokenize(text) + keyword.term_tokens(terms), n)
        return self._scored(
            [(int(r), float(s)) for r, s in zip(rows, scores, strict=True)], k, doc_ids
        )

    def hybrid_search(
        self,
        qvec: np.ndarray,
        text: str,
        terms: Sequence[str],
        k: int,
        doc_ids: Collection[str] | None = None,
    ) -> list[Scored]:
        return fuse_by_rank(
            self.dense_search(qvec, k, doc_ids), self.keyword_search(text, terms, k, doc_ids), k
        )

    def known_terms(self, terms: Iterable[str]) -> set[str]:
        vocabulary = self.index.keyword.vocabulary
        authors = {AUTHOR_MARK + a for d in self.index.documents.values() for a in d.authors}
        return {t for t in terms if t in vocabulary or t in authors}

    def _scored(
        self, pairs: list[tuple[int, float]], k: int, doc_ids: Collection[str] | None
    ) -> list[Scored]:
        chunks = self.index.chunks
        out = [Scored(chunks[row], score) for row, score in pairs]
        if doc_ids is not None:
            out = [s for s in out if s.chunk.doc_id in doc_ids]
        return out[:k]

    # ---- writing -------------------------------------------------------------------------
    def add_documents(self, docs: list[Document], progress: bool = False) -> IngestReport:
        return self.index.add_documents(docs, progress=progress)

    def add_embedded(
        self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray
    ) -> IngestReport:
        """Add documents whose chunks were embedded elsewhere (Ray workers), without
        re-embedding: the store embeds inside ``add_documents``, so it is handed an encoder
        that looks the vectors up by text for the length of the call."""
        real = self.index.encoder
        lookup = PrecomputedEncoder(real, chunks, vectors)
        self.index.encoder = lookup
        try:
            return self.index.add_documents(docs)
        finally:
            self.index.encoder = real
            lookup.release()

    def delete_document(self, doc_id: str) -> int:
        return self.index.delete_document(doc_id)

    def save(self, folder: Path) -> None:
        self.index.save(folder)


class PrecomputedEncoder:
    """An encoder answering ``encode_documents`` from vectors computed elsewhere (by Ray
    workers), looked up by each chunk's embedded text; queries go to the real encoder."""

    def __init__(self, encoder: Encoder, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        from rag.chunking import embedding_text

        self.name, self.dim, self._encoder = encoder.name, encoder.dim, encoder
        self._released = False
        self._by_text = {
            embedding_text(c): v for c, v in zip(chunks, np.asarray(vectors), strict=True)
        }

    def warm_up(self) -> None:
        self._encoder.warm_up()

    def __getattr__(self, name: str):
        # Whatever else the stores record about the encoder (its runtime, say) is the real one's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._encoder, name)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encoder.encode_queries(texts)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if self._released:
            return self._encoder.encode_documents(texts, progress=progress)
        missing = [t for t in dict.fromkeys(texts) if t not in self._by_text]
        if missing:
            # Chunks the workers did not see (other chunker settings): embed them here
            # rather than guess.
            extra = self._encoder.encode_documents(missing)
            self._by_text.update(zip(missing, extra, strict=True))
        return np.stack([self._by_text[t] for t in texts]).astype(np.float32)

    def release(self) -> None:
        """Drop the vectors; from now on documents are embedded by the real encoder."""
        self._by_text = {}
        self._released = True


def fuse_by_rank(
    dense: list[Scored], keyword: list[Scored], k: int, rrf_k: float = 60.0
) -> list[Scored]:
    """Reciprocal-rank fusion of two legs, as Milvus's RRFRanker does it (equal weights)."""
    by_id = {s.chunk.chunk_id: s.chunk for s in [*dense, *keyword]}
    fused = rrf(
        {
            "dense": [s.chunk.chunk_id for s in dense],
            "keyword": [s.chunk.chunk_id for s in keyword],
        },
        {"dense": 1.0, "keyword": 1.0},
        rrf_k,
    )
    order = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
    return [Scored(by_id[cid], fused[cid]) for cid in order]


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise InputError(
            f"backend must be one of {', '.join(BACKENDS)}, got {name!r} "
            "(set RAG_BACKEND or --backend)",
            "backend",
        )
    return name


def check_faiss_folder(folder: Path) -> None:
    """Refuse to use a Milvus Lite database as a FAISS index folder, with the fix."""
    if (folder / "collections").is_dir() and not (folder / "manifest.json").exists():
        raise IndexMismatchError(
            f"{folder} holds a Milvus Lite database, not a FAISS index folder: start with "
            f"--backend milvus --milvus-uri {folder}, or point --index-dir at another folder"
        )


# ---- chunks as JSON (Milvus rows, Ray rows; documents: rag.index.records) ------------------
def chunk_from_json(row: dict) -> Chunk:
    row = dict(row)
    row["authors"] = tuple(row.get("authors", ()))
    row["lines"] = tuple(row.get("lines", (0, 0)))
    return Chunk(**row)
