"""The one search function behind the CLI, the HTTP API and the evaluator."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rag import bylines
from rag.errors import InputError
from rag.index.crosslingual import DICTIONARY, Translation, without_stopwords
from rag.index.pinyin import mentions
from rag.index.snapshot import Snapshot
from rag.index.store import Index
from rag.index.tokenize import has_han, tokenize
from rag.search.answerability import (
    AnswerabilityThresholds,
    Evidence,
    gather_evidence,
    is_answerable,
    resolve_thresholds,
)
from rag.search.filters import Filters
from rag.search.fusion import convex, rrf
from rag.types import Hit, SearchResult

MODES = ("hybrid", "dense", "keyword")
FUSIONS = ("rrf", "convex")
MAX_TOP_K = 100


@dataclass(frozen=True)
class SearchSettings:
    """How the two legs are fused (weights apply to both fusion methods)."""

    fusion: str = "convex"
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100
    # None: the thresholds calibrated for the index's embedding model (see answerability.py).
    thresholds: AnswerabilityThresholds | None = None

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.dense_weight < 0 or self.keyword_weight < 0:
            raise InputError("fusion weights must be zero or positive")


@dataclass(frozen=True)
class _Leg:
    rows: list[int]
    scores: list[float]


class Searcher:
    """Ranks an index's chunks for a query in one of :data:`MODES`.

    Give it a :class:`Snapshot` to search one consistent state while writes go on (the
    engine does); an :class:`Index` is read afresh at each step, which is fine without writers.
    """

    def __init__(self, index: Snapshot | Index, settings: SearchSettings | None = None) -> None:
        self.index = index
        self.settings = settings or SearchSettings()
        # A snapshot never changes, so its authors' names are gathered once rather than by
        # scanning every document on every query; a live Index is read afresh each time.
        self._authors: tuple[str, ...] | None = (
            _author_names(index) if isinstance(index, Snapshot) else None
        )
        # Per model: e5's calibration is never borrowed by another model.
        self.thresholds = resolve_thresholds(self.settings.thresholds, index.encoder.name)

    def search(
        self, query: str, top_k: int = 5, mode: str = "hybrid", filters: Filters | None = None
    ) -> SearchResult:
        """Return the ``top_k`` best chunks and whether the evidence looks strong enough.

        With ``filters``, the best chunks among the matching documents' (each leg searches
        within them; see :mod:`rag.search.filters`).

        Raises:
            InputError: Empty query, ``top_k`` out of range or unknown mode.
        """
        query = validate_search(query, top_k, mode)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        n = self.settings.candidates
        allowed = None
        if filters is not None and filters.active:
            index = self.index
            allowed = filters.allowed_rows(
                index.documents, lambda d: (index.row(c.chunk_id) for c in index.chunks_of(d))
            )
            timings["filter"] = _ms(t0)
        t_translate = time.perf_counter()
        translation = self._translate(query)
        embedded = query
        if translation is not None:
            embedded = f"{query} {translation.reading(self.index.keyword.frequency)}".rstrip()
            timings["translate"] = _ms(t_translate)
        t_embed = time.perf_counter()
        qvec = self.index.encoder.encode_queries([embedded])
        timings["embed"] = _ms(t_embed)
        t1 = time.perf_counter()
        d_scores, d_rows = self.index.dense.search(qvec, n, allowed)
        found = [(int(r), float(s)) for r, s in zip(d_rows[0], d_scores[0], strict=True) if r >= 0]
        dense = _Leg([r for r, _ in found], [s for _, s in found])
        timings["dense"] = _ms(t1)
        t2 = time.perf_counter()
        tokens, coverage = self.keyword_query(query, translation)
        k_scores, k_rows = self.index.keyword.search(tokens, n, allowed)
        keyword = _Leg([int(r) for r in k_rows], [float(s) for s in k_scores])
        timings["keyword"] = _ms(t2)

        fused = self._fuse(coverage, dense, keyword, mode)
        order = sorted(fused, key=lambda row: (-fused[row], row))
        if mode == "hybrid":
            order = self._byline_first(query, order)
        chunks = self.index.chunks
        ranked = [chunks[row] for row in order]
        d_rank = {row: i + 1 for i, row in enumerate(dense.rows)}
        d_score = dict(zip(dense.rows, dense.scores, strict=True))
        k_rank = {row: i + 1 for i, row in enumerate(keyword.rows)}
        k_score = dict(zip(keyword.rows, keyword.scores, strict=True))
        hits = []
        for rank, chunk in enumerate(ranked[:top_k], start=1):
            row = self.index.row(chunk.chunk_id)
            scores, ranks = {}, {}
            if row in d_rank:
                scores["dense"], ranks["dense"] = d_score[row], d_rank[row]
            if row in k_rank:
                scores["keyword"], ranks["keyword"] = k_score[row], k_rank[row]
            hits.append(Hit(chunk, rank, float(fused.get(row, 0.0)), scores, ranks))
        evidence = self.evidence(query, dense.scores[0] if dense.scores else 0.0, coverage)
        timings["total"] = _ms(t0)
        return SearchResult(
            query=query,
            mode=mode,
            hits=tuple(hits),
            answerable=is_answerable(evidence, self.thresholds, retrieved=bool(hits)),
            timings_ms=timings,
            embedded="" if embedded == query else embedded,
        )

    def _byline_first(self, query: str, order: list[int]) -> list[int]:
        """For a question about an article's author (鲁全担任什么职务？, which institution are
        the authors from?), the chunk holding that article's author note ranks first: the
        note states it, while the question's words match the article's body at least as well."""
        authors = self._authors if self._authors is not None else _author_names(self.index)
        if not bylines.asks_about(query, authors):
            return order
        chunks = self.index.chunks
        holder = bylines.note_chunk(
            query,
            self.index.documents,
            (chunks[r].doc_id for r in order[:20]),
            self.index.chunks_of,
        )
        if holder is None:
            return order
        row = self.index.row(holder.chunk_id)
        return [row, *(r for r in order if r != row)]

    def _translate(self, query: str) -> Translation | None:
        """A question without Chinese translated into the corpus's words; None otherwise."""
        if has_han(query):
            return None
        return DICTIONARY.translate(query, self.index.keyword.vocabulary)

    def keyword_query(
        self, query: str, translation: Translation | None = None
    ) -> tuple[list[str], float | None]:
        """The keyword leg's tokens for a query, and (for a query without Chinese) how much of
        it the corpus vocabulary covers once translated; None for Chinese queries."""
        translation = translation or self._translate(query)
        if translation is None:
            # A Chinese question's acronyms also search what they stand for (GDP: 国内生产总值).
            acronyms = DICTIONARY.acronym_terms(query, self.index.keyword.vocabulary)
            expanded = [t for terms in acronyms.values() for t in terms]
            return tokenize(query) + self.index.keyword.term_tokens(expanded), None
        tokens = tokenize(without_stopwords(query))
        return tokens + self.index.keyword.term_tokens(translation.terms), translation.coverage

    def evidence(self, query: str, top_cosine: float, coverage: float | None = None) -> Evidence:
        """What the answerability flag is decided on, given the best passage's cosine."""
        if coverage is None and not has_han(query):
            coverage = self.keyword_query(query)[1]
        authors = self._authors if self._authors is not None else _author_names(self.index)
        names = [n for n in authors if mentions(query, n)]
        return gather_evidence(query, top_cosine, self.index.keyword, coverage, names)

    def warm_up(self) -> None:
        """Load the encoder and pay the first query's lazy set-up (jieba's dictionary, the
        keyword matrices) now rather than in the first request."""
        self.index.encoder.warm_up()
        self.search("预热 warm-up", top_k=1)

    def _fuse(self, coverage: float | None, dense: _Leg, keyword: _Leg, mode: str) -> dict:
        s = self.settings
        if mode == "dense":
            return dict(zip(dense.rows, dense.scores, strict=True))
        if mode == "keyword":
            return dict(zip(keyword.rows, keyword.scores, strict=True))
        kw_weight = s.keyword_weight
        if coverage is not None:
            # A question without Chinese reaches the Chinese keyword index only through its
            # dictionary translation: weigh the leg by how much of the question it covers.
            kw_weight *= coverage
        weights = {"dense": s.dense_weight, "keyword": kw_weight}
        if s.fusion == "rrf":
            return rrf({"dense": dense.rows, "keyword": keyword.rows}, weights, s.rrf_k)
        return convex(
            {"dense": (dense.rows, dense.scores), "keyword": (keyword.rows, keyword.scores)},
            weights,
        )


MAX_QUERY_CHARS = 2000


def validate_search(query: str, top_k: int, mode: str) -> str:
    """The stripped query, once the query, ``top_k`` and ``mode`` are checked (every searcher).

    Raises:
        InputError: Empty or overlong query, ``top_k`` out of range or unknown mode.
    """
    query = validate_query(query)
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}", "top_k")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}", "mode")
    return query


def validate_query(query: str, field: str = "query") -> str:
    """Strip a query and refuse empty or overlong ones with a message saying what to do."""
    if not isinstance(query, str) or not query.strip():
        raise InputError(
            f"{field} must not be empty: ask a question, e.g. 职业伤害保障试点有哪些亮点？", field
        )
    query = query.strip()
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(
            f"{field} is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}: shorten it",
            field,
        )
    return query


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def _author_names(index: Snapshot | Index) -> tuple[str, ...]:
    """Every author's name in the index, in document order (a name once per document)."""
    return tuple(n for d in index.documents.values() for n in d.authors)
