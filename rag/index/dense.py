"""The dense leg: FAISS over L2-normalised vectors, kept as immutable segments.

Vectors are normalised and searched by inner product, which then equals cosine
similarity: scores are comparable across queries, which the unanswerable check needs.

The raw vectors are the source of truth; each FAISS structure is derived from them. Like a
Lucene index, the rows live in segments that never change once built: adding documents appends
a segment (searched alongside the others, the top rows merged by score), deleting rebuilds only
the segments that lost rows, and small segments are merged now and then. A reader searching a
:class:`DenseIndex` therefore never sees a structure being changed under it; a writer works on
a :meth:`DenseIndex.copy` and publishes it whole.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import faiss
import numpy as np

from rag.errors import InputError
from rag.index.segments import keep_rows

logger = logging.getLogger(__name__)

ANN_KINDS = ("auto", "flat", "hnsw", "ivf")
# Below this many vectors exact search is fast enough (about 9 ms at 100k on one core) and has
# perfect recall; above it exact search eats the /search latency budget (docs/benchmarks.md).
AUTO_APPROX_THRESHOLD = 100_000
# Appended segments smaller than this are searched exactly: cheap at that size, and an IVF
# structure cannot even be trained on a handful of rows.
SMALL_SEGMENT = 20_000
# More segments than this and the appended ones are merged into one (each costs a search call).
MAX_SEGMENTS = 8
# A filtered search over at most this many rows is exact (a matrix product over the subset);
# over more, each segment's structure searches with a FAISS ID selector.
EXACT_SUBSET_MAX = 20_000


class _Segment:
    """Consecutive rows and the FAISS structure over them; neither changes once built."""

    __slots__ = ("vectors", "kind", "_structure", "_lock", "hnsw_m", "ef_search")

    def __init__(
        self,
        vectors: np.ndarray,
        kind: str,
        hnsw_m: int,
        ef_search: int,
        structure: faiss.Index | None = None,
    ) -> None:
        self.vectors = vectors
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._structure = structure
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.vectors)

    def structure(self) -> faiss.Index:
        # Built once; the lock only matters for an index searched before it was prepared.
        if self._structure is None:
            with self._lock:
                if self._structure is None:
                    self._structure = build_faiss(
                        self.vectors, self.kind, self.hnsw_m, self.ef_search
                    )
        return self._structure


class DenseIndex:
    """Rows of ``vectors`` are searched by inner product; row i is chunk i of the store."""

    def __init__(self, dim: int, ann: str = "auto", hnsw_m: int = 32, ef_search: int = 256) -> None:
        if ann not in ANN_KINDS:
            raise InputError(f"ann must be one of {', '.join(ANN_KINDS)}, got {ann!r}")
        self.dim = dim
        self.ann = ann
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._segments: tuple[_Segment, ...] = ()

    @property
    def kind(self) -> str:
        """The structure actually used: ``flat`` unless an approximate one was asked or needed."""
        return self._kind_for(len(self))

    def _kind_for(self, n: int) -> str:
        if self.ann == "auto":
            return "hnsw" if n >= AUTO_APPROX_THRESHOLD else "flat"
        return self.ann

    def __len__(self) -> int:
        return sum(len(s) for s in self._segments)

    @property
    def vectors(self) -> np.ndarray:
        """All rows, in order (a view of the only segment, else a concatenated copy)."""
        if not self._segments:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(self._segments) == 1:
            return self._segments[0].vectors
        return np.concatenate([s.vectors for s in self._segments])

    @property
    def segments(self) -> int:
        return len(self._segments)

    def copy(self) -> DenseIndex:
        """A new index sharing this one's (immutable) segments: what a writer changes."""
        other = DenseIndex(self.dim, self.ann, self.hnsw_m, self.ef_search)
        other._segments = self._segments
        return other

    def _segment(self, vectors: np.ndarray, kind: str | None = None) -> _Segment:
        return _Segment(vectors, kind or self._kind_for(len(vectors)), self.hnsw_m, self.ef_search)

    def set_vectors(self, vectors: np.ndarray) -> None:
        """Replace all vectors (rows must already be unit length)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._segments = (self._segment(vectors),) if len(vectors) else ()

    def add(self, vectors: np.ndarray) -> None:
        """Append rows as a new segment; the existing segments are not rebuilt."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not len(vectors):
            return
        if not self._segments:
            self.set_vectors(vectors)
            return
        kind = "flat" if len(vectors) < SMALL_SEGMENT else self._kind_for(len(vectors))
        segments = (*self._segments, self._segment(vectors, kind))
        if len(segments) > MAX_SEGMENTS:
            segments = self._merge_tail(segments)
        self._segments = segments
        if self.ann == "auto" and self._kind_for(len(self)) != segments[0].kind:
            # "auto" crossed the size where it switches to an approximate structure.
            self.set_vectors(self.vectors)

    def _merge_tail(self, segments: tuple[_Segment, ...]) -> tuple[_Segment, ...]:
        # Tiered in the simplest way: the appended segments become one; once they outgrow the
        # first, everything becomes one. Each row is copied O(log n) times over its life.
        head, tail = segments[0], segments[1:]
        merged = np.concatenate([s.vectors for s in tail])
        if len(merged) >= len(head):
            return (self._segment(np.concatenate([head.vectors, merged])),)
        kind = "flat" if len(merged) < SMALL_SEGMENT else self._kind_for(len(merged))
        return (head, self._segment(merged, kind))

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true; only segments that lose rows are rebuilt."""

        def rebuild(seg: _Segment, part: np.ndarray) -> _Segment:
            kept = np.ascontiguousarray(seg.vectors[part])
            kind = seg.kind if seg.kind != "ivf" or len(kept) >= SMALL_SEGMENT else "flat"
            return self._segment(kept, kind)

        self._segments = keep_rows(self._segments, mask, rebuild)

    def prepare(self) -> None:
        """Build every segment's structure now, so that no search pays for it."""
        for seg in self._segments:
            seg.structure()

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` inner-product scores and row numbers (-1 where fewer rows exist).

        With ``allowed`` (sorted row numbers), only those rows are searched: the best ``k``
        among them, not the best overall filtered afterwards.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        segments = self._segments
        n = len(queries)
        if not segments or (allowed is not None and not len(allowed)):
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        if allowed is not None:
            return self._search_within(queries, k, segments, np.asarray(allowed, dtype=np.int64))
        k = min(k, sum(len(s) for s in segments))
        if len(segments) == 1:
            return segments[0].structure().search(queries, k)
        scores, rows, offset = [], [], 0
        for seg in segments:
            s, r = seg.structure().search(queries, min(k, len(seg)))
            scores.append(s)
            rows.append(np.where(r >= 0, r + offset, -1))
            offset += len(seg)
        return _best(scores, rows, k)

    def _search_within(
        self, queries: np.ndarray, k: int, segments: tuple[_Segment, ...], allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(allowed))
        exact = len(allowed) <= EXACT_SUBSET_MAX or all(s.kind == "flat" for s in segments)
        scores, rows, offset = [], [], 0
        for seg in segments:
            lo, hi = np.searchsorted(allowed, [offset, offset + len(seg)])
            local = allowed[lo:hi] - offset
            if len(local):
                if exact:
                    # Exact over the allowed rows: cost in proportion to them, perfect recall.
                    s = queries @ np.asarray(seg.vectors[local]).T
                    top = np.argsort(-s, axis=1, kind="stable")[:, : min(k, len(local))]
                    s, r = np.take_along_axis(s, top, axis=1), local[top]
                else:
                    # Many allowed rows in an approximate structure: FAISS skips the others.
                    structure = seg.structure()
                    params = _search_params(structure, seg.kind, faiss.IDSelectorBatch(local))
                    s, r = structure.search(queries, min(k, len(local)), params=params)
                scores.append(s)
                rows.append(np.where(r >= 0, r + offset, -1))
            offset += len(seg)
        return _best(scores, rows, k)

    def save(self, folder: Path) -> None:
        """Write the rows as one segment: ``vectors.npy`` and the FAISS structure over them."""
        if len(self._segments) == 1:
            seg = self._segments[0]
        else:
            seg = self._segment(np.ascontiguousarray(self.vectors))
        np.save(folder / "vectors.npy", seg.vectors)
        faiss.write_index(seg.structure(), str(folder / "dense.faiss"))

    @classmethod
    def load(cls, folder: Path, dim: int, ann: str = "auto") -> DenseIndex:
        index = cls(dim, ann)
        # Memory-mapped: FAISS holds its own copy; this one is only read to rebuild it.
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        if not len(vectors):
            return index
        structure = faiss.read_index(str(folder / "dense.faiss"))
        if structure.ntotal != len(vectors):
            logger.warning("dense.faiss does not match vectors.npy; rebuilding it")
            structure = None
        seg = index._segment(vectors)
        seg._structure = structure
        index._segments = (seg,)
        return index


def _best(
    scores: list[np.ndarray], rows: list[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of several segments' results, merged."""
    all_scores = np.concatenate(scores, axis=1)
    all_rows = np.concatenate(rows, axis=1)
    all_scores = np.where(all_rows >= 0, all_scores, -np.inf)
    # Best score first; equal scores in row order, as one exact structure would give them.
    order = np.lexsort((all_rows, -all_scores), axis=1)[:, :k]
    return (
        np.take_along_axis(all_scores, order, axis=1).astype(np.float32),
        np.take_along_axis(all_rows, order, axis=1).astype(np.int64),
    )


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
