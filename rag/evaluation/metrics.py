"""Ranking metrics over plain ranked id lists and qrels, and their aggregate.

Conventions shared by every function here:

* ``ranked`` is a sequence of ids, best first. Duplicate ids are counted once: the
  ranking is deduplicated keeping each id's first occurrence *before* scoring, so a
  retriever cannot earn credit twice for one document (or lose a slot to a repeat
  of an irrelevant one).
* ``relevant`` is either a collection of ids (binary relevance, every id has gain 1)
  or a mapping ``id -> grade`` (graded relevance, as in BEIR qrels). Ids with a grade
  of 0 or less are judged *not* relevant, which is how TREC-style qrels mark
  judged-irrelevant documents.
* Ranks are 1-based.

The metrics themselves come from ``pytrec_eval`` (trec_eval, the reference implementation
BEIR reports with); this module is the glue around it (deduplication, the conventions above,
MRR at a cut-off) and the bootstrap intervals. ``pytrec_eval`` rather than ``ranx``: the same
figures (checked against each other in tests/test_metrics.py), but ranx compiles its metrics
with numba on first use (95 s on the project's machine, then 4-9 s to import per process).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytrec_eval

from rag.errors import InputError

logger = logging.getLogger(__name__)

Relevant = Mapping[str, int] | Collection[str]

#: Cut-off of the ``mrr@10`` and ``ndcg@10`` entries of :func:`summarise`.
SUMMARY_CUTOFF = 10
#: Bootstrap settings of :func:`mean_interval`; fixed so reruns give identical intervals.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class QueryResult:
    """One query's ranked ids and its judgments, as handed over by the runner.

    Attributes:
        query_id: The query's id; error messages name it.
        ranked: Retrieved ids, best first. Empty when the system returned nothing,
            which scores zero on every metric.
        qrels: ``doc_id -> grade`` judgments, or ``None`` when the query has none.
    """

    query_id: str
    ranked: tuple[str, ...]
    qrels: Mapping[str, int] | None = None


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Drop repeated ids, keeping each id's first (best) occurrence.

    Args:
        ranked: Ids, best first.

    Returns:
        The ids in their original order, each once.
    """
    return list(dict.fromkeys(ranked))


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive integer. Currently, k is {k!r}")


def _grades(relevant: Relevant) -> dict[str, int]:
    """Positive grades only: binary collections become grade 1 for each id."""
    if isinstance(relevant, Mapping):
        return {doc: int(g) for doc, g in relevant.items() if g > 0}
    return dict.fromkeys(relevant, 1)


def _run(ranked: Sequence[str]) -> dict[str, float]:
    """A trec_eval run for one query: deduplicated ids with strictly falling scores.

    trec_eval orders a run by score and breaks ties by id, so distinct scores keep the
    retriever's order exactly.
    """
    ids = dedupe(ranked)
    return {doc: float(len(ids) - i) for i, doc in enumerate(ids)}


def _evaluate(
    rankings: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    measures: set[str],
) -> dict[str, dict[str, float]]:
    """trec_eval's per-query figures; a query with an empty ranking scores 0 on each."""
    evaluator = pytrec_eval.RelevanceEvaluator({q: dict(g) for q, g in qrels.items()}, measures)
    scored = evaluator.evaluate({q: _run(r) for q, r in rankings.items() if r})
    names = {name for per_query in scored.values() for name in per_query}
    return {q: scored.get(q) or dict.fromkeys(names, 0.0) for q in rankings}


def _measure(ranked: Sequence[str], grades: Mapping[str, int], measure: str, key: str) -> float:
    return _evaluate({"q": ranked}, {"q": grades}, {measure})["q"].get(key, 0.0)


def _mrr_at(rankings: Mapping[str, Sequence[str]], qrels, k: int) -> dict[str, float]:
    # trec_eval's recip_rank has no cut-off: MRR@k is recip_rank of the run cut at k.
    cut = {q: dedupe(r)[:k] for q, r in rankings.items()}
    scored = _evaluate(cut, qrels, {"recip_rank"})
    return {q: scored[q].get("recip_rank", 0.0) for q in rankings}


def _judged(relevant: Relevant, k: int, metric: str) -> dict[str, int]:
    """The grades of ``relevant``, after checking ``k`` and that some id is relevant."""
    _check_k(k)
    grades = _grades(relevant)
    if not grades:
        raise InputError(
            f"{metric} is undefined without at least one relevant id (grade > 0); "
            "pass the query's qrels or leave it out on purpose"
        )
    return grades


def first_relevant_rank(ranked: Sequence[str], relevant: Relevant) -> int | None:
    """1-based rank of the first relevant id in the deduplicated ranking.

    Args:
        ranked: Ids, best first.
        relevant: Relevant ids, or ``id -> grade`` judgments.

    Returns:
        The rank, or ``None`` when no relevant id was retrieved.
    """
    grades = _grades(relevant)
    for rank, doc in enumerate(dedupe(ranked), start=1):
        if doc in grades:
            return rank
    return None


def recall_at_k(ranked: Sequence[str], relevant: Relevant, k: int) -> float:
    """Fraction of the relevant ids found in the top ``k``.

    Args:
        ranked: Ids, best first; duplicates count once.
        relevant: Relevant ids, or ``id -> grade`` judgments (grade > 0 is relevant).
        k: Cut-off, at least 1.

    Returns:
        A value in ``[0, 1]``.

    Raises:
        InputError: ``k`` is not a positive integer, or no id is relevant.
    """
    grades = _judged(relevant, k, "recall")
    return _measure(ranked, grades, f"recall.{k}", f"recall_{k}")


def mrr_at_k(ranked: Sequence[str], relevant: Relevant, k: int) -> float:
    """Reciprocal rank of the first relevant id, or 0 if none is in the top ``k``.

    Args:
        ranked: Ids, best first; duplicates count once.
        relevant: Relevant ids, or ``id -> grade`` judgments (grade > 0 is relevant).
        k: Cut-off, at least 1.

    Returns:
        ``1 / rank`` of the first relevant id within the top ``k``, else 0.

    Raises:
        InputError: ``k`` is not a positive integer, or no id is relevant.
    """
    grades = _judged(relevant, k, "MRR")
    return _mrr_at({"q": ranked}, {"q": grades}, k)["q"]


def ndcg_at_k(ranked: Sequence[str], relevant: Relevant, k: int) -> float:
    """Normalised discounted cumulative gain at ``k``, with linear gains.

    ``DCG = sum(grade_i / log2(i + 1))`` over ranks ``i = 1..k``; the gain is the
    grade itself (as in trec_eval and BEIR, not ``2**grade - 1``). The ideal DCG
    places the *graded* judgments in descending order over ``min(#relevant, k)``
    positions, so a perfect top ``k`` scores 1 even when more than ``k`` ids are
    relevant.

    Args:
        ranked: Ids, best first; duplicates count once.
        relevant: Relevant ids (gain 1 each), or ``id -> grade`` judgments.
        k: Cut-off, at least 1.

    Returns:
        A value in ``[0, 1]``.

    Raises:
        InputError: ``k`` is not a positive integer, or no id is relevant.
    """
    grades = _judged(relevant, k, "nDCG")
    return _measure(ranked, grades, f"ndcg_cut.{k}", f"ndcg_cut_{k}")


def hit_rate(ranked: Sequence[str], relevant: Relevant, k: int) -> float:
    """1.0 if any relevant id is in the top ``k``, else 0.0 (averaged, a hit rate).

    Args:
        ranked: Ids, best first; duplicates count once.
        relevant: Relevant ids, or ``id -> grade`` judgments (grade > 0 is relevant).
        k: Cut-off, at least 1.

    Returns:
        1.0 or 0.0.

    Raises:
        InputError: ``k`` is not a positive integer, or no id is relevant.
    """
    grades = _judged(relevant, k, "hit rate")
    return _measure(ranked, grades, f"success.{k}", f"success_{k}")


def mean_interval(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, float | None]:
    """Mean of per-query values with a percentile-bootstrap confidence interval.

    The interval is a percentile bootstrap (``resamples`` resamples of the queries
    with replacement) with a fixed seed, so the same values always give the same
    interval. Bootstrap rather than a normal approximation because per-query
    metrics are bounded in ``[0, 1]`` and often piled up at 0 or 1, where a normal
    interval can spill outside the range.

    Args:
        values: One value per query.
        confidence: Coverage of the interval, in ``(0, 1)``.
        resamples: Number of bootstrap resamples.
        seed: Seed of the resampling generator.

    Returns:
        ``{"mean": m, "lo": lo, "hi": hi}``; all ``None`` when ``values`` is empty.

    Raises:
        InputError: ``confidence`` is not in ``(0, 1)`` or ``resamples`` < 1.
    """
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be in (0, 1). Currently, confidence is {confidence!r}")
    if resamples < 1:
        raise InputError(f"resamples must be at least 1. Currently, resamples is {resamples!r}")
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"mean": None, "lo": None, "hi": None}
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    # Resample in batches so that a large query set (BEIR has ~10k-query splits)
    # never materialises a resamples x n index matrix at once.
    batch = max(1, 2_000_000 // data.size)
    for start in range(0, resamples, batch):
        stop = min(resamples, start + batch)
        idx = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return {"mean": float(data.mean()), "lo": float(lo), "hi": float(hi)}


def summarise(
    per_query: Sequence[QueryResult],
    ks: tuple[int, ...] = (1, 5, 10),
    *,
    missing: Literal["raise", "zero"] = "raise",
) -> dict[str, Any]:
    """Mean metrics over queries, each with a 95% bootstrap interval.

    Every query is counted. A query with qrels but an empty ranking scores 0 on
    every metric. A query without qrels (``None``, empty, or no grade above 0)
    raises, or counts as all-zero with ``missing="zero"``.

    Args:
        per_query: One result per query; query ids must be unique.
        ks: Cut-offs for ``recall@k``; ``hit_rate`` uses the largest of them.
        missing: What to do with a query that has no relevant judgments.

    Returns:
        A dict with ``"queries"`` (count), ``"unjudged"`` (queries without
        judgments that were counted as zero), and, for ``recall@k`` for each ``k``,
        ``mrr@10``, ``ndcg@10`` and ``hit_rate``, a ``{"mean", "lo", "hi"}`` dict
        from :func:`mean_interval` (percentile bootstrap, 1000 resamples, seed 0).

    Raises:
        InputError: No queries, a bad ``k`` or ``missing``, a duplicate query id,
            or a query without judgments while ``missing="raise"``.
    """
    if missing not in ("raise", "zero"):
        raise InputError(f"missing must be 'raise' or 'zero'. Currently, missing is {missing!r}")
    if not ks:
        raise InputError("ks must name at least one cut-off, e.g. (1, 5, 10)")
    for k in ks:
        _check_k(k)
    if not per_query:
        raise InputError("summarise needs at least one query result")
    ks = tuple(sorted(set(ks)))

    seen: set[str] = set()
    unjudged: list[str] = []
    rankings: dict[str, Sequence[str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for result in per_query:
        if result.query_id in seen:
            raise InputError(f"query {result.query_id!r} appears twice; each query counts once")
        seen.add(result.query_id)
        grades = _grades(result.qrels or {})
        if not grades:
            unjudged.append(result.query_id)
            if missing == "raise":
                raise InputError(
                    f"query {result.query_id!r} has no relevant judgments in the qrels; "
                    "fix the qrels or pass missing='zero' to count it as a miss"
                )
            continue
        rankings[result.query_id], qrels[result.query_id] = result.ranked, grades

    # One trec_eval pass over every judged query; unjudged ones count as zero.
    cutoffs = ",".join(str(k) for k in ks)
    measures = {f"recall.{cutoffs}", f"ndcg_cut.{SUMMARY_CUTOFF}", f"success.{ks[-1]}"}
    scored = _evaluate(rankings, qrels, measures) if rankings else {}
    for q, rr in (_mrr_at(rankings, qrels, SUMMARY_CUTOFF) if rankings else {}).items():
        scored[q]["mrr"] = rr
    # summary name -> trec_eval's name, in the order the summary lists them
    names = {f"recall@{k}": f"recall_{k}" for k in ks} | {
        f"mrr@{SUMMARY_CUTOFF}": "mrr",
        f"ndcg@{SUMMARY_CUTOFF}": f"ndcg_cut_{SUMMARY_CUTOFF}",
        "hit_rate": f"success_{ks[-1]}",
    }
    columns = {
        name: [scored[r.query_id].get(key, 0.0) if r.query_id in scored else 0.0 for r in per_query]
        for name, key in names.items()
    }

    if unjudged:
        logger.warning(
            "%d queries have no relevant judgments and count as zero (first: %s)",
            len(unjudged),
            unjudged[0],
        )
    summary: dict[str, Any] = {"queries": len(per_query), "unjudged": len(unjudged)}
    for name, values in columns.items():
        summary[name] = mean_interval(values)
    return summary
