"""Search over any :class:`rag.index.backend.IndexBackend` (chunk ids, not rows).

The default FAISS set-up keeps the row-based :class:`rag.search.Searcher` (its convex fusion
is tuned on the question set). This one serves backends that search remotely, Milvus first:
the hybrid ranking is the backend's own (Milvus fuses both legs by RRF inside one request);
each leg is also asked on its own so every hit reports its per-leg scores and ranks, and the
best cosine feeds the answerability check exactly as in the default searcher. List expansion
is the engine's stage after retrieval (rag.search.enumeration.expand_result), as for FAISS.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection

from rag import bylines
from rag.index.backend import AUTHOR_MARK, IndexBackend, Scored, Vocabulary
from rag.index.crosslingual import DICTIONARY, without_stopwords
from rag.index.tokenize import bigrams, has_han
from rag.search.answerability import (
    content_words,
    gather_evidence,
    is_answerable,
    resolve_thresholds,
)
from rag.search.searcher import SearchSettings, validate_search
from rag.types import Chunk, Hit, SearchResult


class BackendSearcher:
    """Ranks a backend's chunks for a query in one of :data:`rag.search.searcher.MODES`
    (a :class:`rag.components.Retriever`)."""

    def __init__(self, index: IndexBackend, settings: SearchSettings | None = None) -> None:
        self.index = index
        self.settings = settings or SearchSettings()
        # Per model: e5's calibration is never borrowed by another model.
        self.thresholds = resolve_thresholds(self.settings.thresholds, index.encoder.name)

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: str = "hybrid",
        filters=None,
        doc_ids: Collection[str] | None = None,
    ) -> SearchResult:
        """The ``top_k`` best chunks (of ``doc_ids`` only, or of the documents ``filters``
        (:class:`rag.search.filters.Filters`) match, if given) and whether the evidence
        looks strong enough.

        Raises:
            InputError: Empty query, ``top_k`` out of range or unknown mode.
        """
        query = validate_search(query, top_k, mode)
        timings: dict[str, float] = {}
        if filters is not None and getattr(filters, "active", False):
            doc_ids = self._matching(filters, doc_ids)
        n = self.settings.candidates
        vocabulary = Vocabulary(self.index)
        t0 = time.perf_counter()
        translation = (
            None if has_han(query) else DICTIONARY.translate(query, vocabulary)  # type: ignore[arg-type]
        )
        # As the default searcher, an English question is embedded with its words as the corpus
        # writes them; a backend keeps no document frequencies at hand, so each word's first.
        embedded = f"{query} {translation.reading()}".rstrip() if translation else query
        if translation is not None:
            timings["translate"] = _ms(t0)
        t_embed = time.perf_counter()
        qvec = self.index.encoder.encode_queries([embedded])[0]
        timings["embed"] = _ms(t_embed)
        t1 = time.perf_counter()
        dense = self.index.dense_search(qvec, n, doc_ids)
        timings["dense"] = _ms(t1)
        t2 = time.perf_counter()
        terms, coverage = (
            (list(translation.terms), translation.coverage)
            if translation
            else (
                [t for ts in DICTIONARY.acronym_terms(query, vocabulary).values() for t in ts],  # type: ignore[arg-type]
                None,
            )
        )
        kw_text = query if has_han(query) else without_stopwords(query)
        keyword = self.index.keyword_search(kw_text, terms, n, doc_ids)
        timings["keyword"] = _ms(t2)
        if mode == "dense":
            ranked = dense
        elif mode == "keyword":
            ranked = keyword
        else:
            t3 = time.perf_counter()
            # An English question whose words the dictionary cannot place in the corpus has no
            # keyword evidence: rank it by meaning alone (the default searcher weighs the
            # leg by that coverage; RRF inside Milvus has no weights).
            kw_terms = terms if coverage is None or coverage > 0 else None
            if kw_terms is None:
                ranked = dense[: max(top_k, n)]
            else:
                ranked = self.index.hybrid_search(qvec, kw_text, kw_terms, n, doc_ids)
            timings["fusion"] = _ms(t3)
        chunks = [s.chunk for s in ranked]
        fused = {s.chunk.chunk_id: s.score for s in ranked}
        # An English question names an author through its translation (Lu Quan -> 鲁全).
        names = self._author_names(query if has_han(query) else " ".join(terms))
        if mode == "hybrid" and bylines.asks_about(query, names):
            chunks = self._byline_first(query, chunks)
        d_rank, d_score = _legs(dense)
        k_rank, k_score = _legs(keyword)
        hits = []
        for rank, chunk in enumerate(chunks[:top_k], start=1):
            cid = chunk.chunk_id
            scores, ranks = {}, {}
            if cid in d_rank:
                scores["dense"], ranks["dense"] = d_score[cid], d_rank[cid]
            if cid in k_rank:
                scores["keyword"], ranks["keyword"] = k_score[cid], k_rank[cid]
            hits.append(Hit(chunk, rank, float(fused.get(cid, 0.0)), scores, ranks))
        if has_han(query):
            words = content_words(query)
            vocabulary.prefetch(words + [b for w in words for b in bigrams(w)])
        top_cosine = dense[0].score if dense else 0.0
        evidence = gather_evidence(query, top_cosine, vocabulary, coverage, names)  # type: ignore[arg-type]
        timings["total"] = _ms(t0)
        return SearchResult(
            query=query,
            mode=mode,
            hits=tuple(hits),
            answerable=is_answerable(evidence, self.thresholds, retrieved=bool(hits)),
            timings_ms=timings,
            embedded="" if embedded == query else embedded,
        )

    def warm_up(self) -> None:
        """Load the encoder and pay the first query's lazy set-up now (jieba's dictionary,
        the Milvus connection's first round trips) rather than in the first request."""
        self.index.encoder.warm_up()
        self.search("预热 warm-up", top_k=1)

    def _matching(self, filters, doc_ids: Collection[str] | None) -> set[str]:
        """Ids of the documents ``filters`` admit (within ``doc_ids`` if given).

        Only document ids become a Milvus expression directly; dates, source and kind are
        checked against each document, which reads every document: fine for thousands, to be
        replaced by scalar fields on the chunks before filtering a million articles by date.
        """
        ids = set(filters.doc_ids) if filters.doc_ids else None
        if doc_ids is not None:
            ids = set(doc_ids) if ids is None else ids & set(doc_ids)
        candidates = ids if ids is not None else set(self.index.documents)
        docs = self.index.documents
        return {d for d in candidates if d in docs and filters.matches(docs[d])}

    def _byline_first(self, query: str, chunks: list[Chunk]) -> list[Chunk]:
        """The author note's chunk first for an author question (as the embedded searcher
        does). Only the ranked articles are considered: reading every document to find the one
        whose author is named would not scale to a distributed store."""
        docs = self.index.documents
        ranked = list(dict.fromkeys(c.doc_id for c in chunks[:20]))
        subset = {d: docs[d] for d in ranked if d in docs}
        holder = bylines.note_chunk(query, subset, ranked, self.index.chunks_of)
        if holder is None:
            return chunks
        return [holder, *(c for c in chunks if c.chunk_id != holder.chunk_id)]

    def _author_names(self, text: str) -> list[str]:
        """Authors of indexed documents named in ``text`` (a Chinese query, or an English
        one's Chinese terms): its 2- to 4-character Han runs looked up as marked terms (one
        request), not by reading every document."""
        spans = {
            run[i : i + n]
            for run in re.findall(r"[\u3400-\u9fff]+", text)
            for n in (2, 3, 4)
            for i in range(len(run) - n + 1)
        }
        found = self.index.known_terms(AUTHOR_MARK + s for s in spans)
        return [t.removeprefix(AUTHOR_MARK) for t in found]


def _legs(leg: list[Scored]) -> tuple[dict[str, int], dict[str, float]]:
    ranks = {s.chunk.chunk_id: i + 1 for i, s in enumerate(leg)}
    scores = {s.chunk.chunk_id: s.score for s in leg}
    return ranks, scores


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
