"""The dense leg: FAISS over L2-normalised vectors.

Vectors are normalised and searched by inner product, which then equals cosine
similarity: scores are comparable across queries, which the unanswerable check needs.

The raw vectors (``vectors.npy``) are the source of truth; the FAISS structure is derived
from them. Adding or deleting documents never re-embeds anything: the exact index is
appended to or compacted, and an approximate one is rebuilt from the stored vectors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np

from rag.errors import InputError

logger = logging.getLogger(__name__)

ANN_KINDS = ("auto", "flat", "hnsw", "ivf")
# Below this many vectors exact search is fast enough (about 9 ms at 100k on one core) and has
# perfect recall; above it exact search eats the /search latency budget (docs/benchmarks.md).
AUTO_APPROX_THRESHOLD = 100_000
# A filtered search over at most this many rows is exact (a matrix product over the subset);
# over more, an approximate structure searches with a FAISS ID selector.
EXACT_SUBSET_MAX = 20_000


class DenseIndex:
    """Rows of ``vectors`` are searched by inner product; row i is chunk i of the store."""

    def __init__(self, dim: int, ann: str = "auto", hnsw_m: int = 32, ef_search: int = 256) -> None:
        if ann not in ANN_KINDS:
            raise InputError(f"ann must be one of {', '.join(ANN_KINDS)}, got {ann!r}")
        self.dim = dim
        self.ann = ann
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self._faiss: faiss.Index | None = None
        self._faiss_kind = ""

    @property
    def kind(self) -> str:
        """The structure actually used: ``flat`` unless an approximate one was asked or needed."""
        if self.ann == "auto":
            return "hnsw" if len(self.vectors) >= AUTO_APPROX_THRESHOLD else "flat"
        return self.ann

    def __len__(self) -> int:
        return len(self.vectors)

    def set_vectors(self, vectors: np.ndarray) -> None:
        """Replace all vectors (rows must already be unit length)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self.vectors = vectors
        self._faiss = None

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self.vectors = np.concatenate([self.vectors, vectors]) if len(self.vectors) else vectors
        if self._faiss is not None and self._faiss_kind == self.kind:
            # Flat, HNSW and IVF all take new vectors in place; only deletions (and crossing
            # the size at which "auto" switches structure) need a rebuild.
            self._faiss.add(vectors)
        else:
            self._faiss = None

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true (deletes the others)."""
        self.vectors = np.ascontiguousarray(self.vectors[mask])
        self._faiss = None

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner-product scores and row numbers (-1 where fewer rows exist).

        With ``allowed`` (sorted row numbers), only those rows are searched: the best ``k``
        among them, not the best overall filtered afterwards.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        n = len(queries)
        if not len(self.vectors) or (allowed is not None and not len(allowed)):
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        if allowed is None:
            return self._structure().search(queries, min(k, len(self.vectors)))
        k = min(k, len(allowed))
        if self.kind == "flat" or len(allowed) <= EXACT_SUBSET_MAX:
            # Exact search over the allowed rows: cost in proportion to them, perfect recall.
            scores = queries @ np.asarray(self.vectors[allowed]).T
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            return np.take_along_axis(scores, top, axis=1), allowed[top]
        # Many allowed rows in an approximate structure: let FAISS skip the others as it goes.
        index = self._structure()
        params = _search_params(index, self.kind, faiss.IDSelectorBatch(allowed))
        return index.search(queries, k, params=params)

    def _structure(self) -> faiss.Index:
        if self._faiss is None:
            self._faiss = build_faiss(self.vectors, self.kind, self.hnsw_m, self.ef_search)
            self._faiss_kind = self.kind
        return self._faiss

    def save(self, folder: Path) -> None:
        np.save(folder / "vectors.npy", self.vectors)
        faiss.write_index(self._structure(), str(folder / "dense.faiss"))

    @classmethod
    def load(cls, folder: Path, dim: int, ann: str = "auto") -> DenseIndex:
        index = cls(dim, ann)
        # Memory-mapped: FAISS holds its own copy; this one is only read to rebuild it.
        index.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        index._faiss = faiss.read_index(str(folder / "dense.faiss"))
        index._faiss_kind = index.kind
        if index._faiss.ntotal != len(index.vectors):
            logger.warning("dense.faiss does not match vectors.npy; rebuilding it")
            index._faiss = None
        return index


def _search_params(
    index: faiss.Index, kind: str, selector: faiss.IDSelector
) -> faiss.SearchParameters:
    """Search parameters restricting ``index`` to ``selector``, keeping its own settings."""
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if kind == "ivf":
        return faiss.SearchParametersIVF(sel=selector, nprobe=faiss.extract_index_ivf(index).nprobe)
    return faiss.SearchParameters(sel=selector)


def build_faiss(
    vectors: np.ndarray, kind: str, hnsw_m: int = 32, ef_search: int = 128
) -> faiss.Index:
    """Build an inner-product FAISS index of the given kind over ``vectors``."""
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = ef_search
    elif kind == "ivf":
        nlist = max(1, min(4096, int(4 * np.sqrt(max(n, 1)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = (
            vectors
            if n <= 50 * nlist
            else vectors[np.random.default_rng(0).choice(n, 50 * nlist, replace=False)]
        )
        index.train(sample)
        index.nprobe = max(1, nlist // 8)
    else:
        raise InputError(f"unknown FAISS index kind {kind!r}")
    if n:
        index.add(vectors)
    return index
