"""Ranking metrics checked against values worked out by hand in the comments."""

from __future__ import annotations

import math

import pytest

from rag.errors import InputError
from rag.evaluation.metrics import (
    QueryResult,
    dedupe,
    first_relevant_rank,
    hit_rate,
    mean_interval,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    summarise,
)

LOG2_3 = math.log2(3)  # 1.5849..., so 1/log2(3) = 0.63093


def test_recall_counts_fraction_of_relevant_in_top_k() -> None:
    ranked = ["d1", "d2", "d3", "d4"]
    relevant = {"d2", "d4", "d9"}
    # top1 = {d1}: 0 of 3; top2 adds d2: 1/3; top4 adds d4: 2/3 (d9 never retrieved).
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 100) == pytest.approx(2 / 3)


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k() -> None:
    ranked = ["x", "a", "b"]
    # First relevant (a) sits at rank 2: 1/2 when k >= 2, 0 when k = 1.
    assert mrr_at_k(ranked, {"a", "b"}, 10) == 0.5
    assert mrr_at_k(ranked, {"a", "b"}, 1) == 0.0


def test_ndcg_ideal_uses_min_of_relevant_and_k_positions() -> None:
    ranked = ["a", "x", "b", "c"]
    relevant = {"a", "b", "c"}
    # DCG@2 = 1/log2(2) + 0/log2(3) = 1.
    # Ideal over min(3, 2) = 2 positions: 1 + 1/log2(3) = 1.63093, so nDCG = 0.61315.
    # (An ideal over all 3 relevant, 1 + 0.63093 + 0.5 = 2.13093, would give 0.46928.)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(0.61315, abs=1e-5)
    # A perfect top 2 scores 1 even though a third relevant document exists.
    assert ndcg_at_k(["a", "b", "x"], relevant, 2) == pytest.approx(1.0)


def test_ndcg_uses_graded_gains_in_dcg_and_ideal() -> None:
    qrels = {"a": 3, "b": 1, "c": 2}
    ranked = ["b", "a", "x"]
    # k=2: DCG = 1/1 + 3/log2(3) = 1 + 1.89279 = 2.89279
    #      ideal order a(3), c(2): IDCG = 3/1 + 2/log2(3) = 3 + 1.26186 = 4.26186
    #      nDCG = 2.89279 / 4.26186 = 0.67876
    assert ndcg_at_k(ranked, qrels, 2) == pytest.approx(0.67876, abs=1e-5)
    # k=3: DCG unchanged (x is not relevant) = 2.89279
    #      IDCG = 3 + 2/log2(3) + 1/log2(4) = 4.26186 + 0.5 = 4.76186
    #      nDCG = 2.89279 / 4.76186 = 0.60749
    assert ndcg_at_k(ranked, qrels, 3) == pytest.approx(0.60749, abs=1e-5)


def test_zero_grade_judgments_are_not_relevant() -> None:
    qrels = {"a": 0, "b": 1}
    # Only b is relevant; it is at rank 2.
    assert recall_at_k(["a", "b"], qrels, 1) == 0.0
    assert mrr_at_k(["a", "b"], qrels, 10) == 0.5
    assert first_relevant_rank(["a", "b"], qrels) == 2


def test_duplicate_ids_are_counted_once() -> None:
    assert dedupe(["a", "a", "b", "a", "c"]) == ["a", "b", "c"]
    relevant = {"a", "b"}
    # [a, a, b] dedupes to [a, b]: both relevant in the top 2, recall@2 = 2/2 = 1
    # (counting the repeat would push b out: 1/2).
    assert recall_at_k(["a", "a", "b"], relevant, 2) == 1.0
    # [a, a] dedupes to [a]: DCG@2 = 1; IDCG@2 = 1 + 0.63093; nDCG = 0.61315
    # (counting the repeat would give a perfect, and wrong, 1.0).
    assert ndcg_at_k(["a", "a"], relevant, 2) == pytest.approx(0.61315, abs=1e-5)
    # [x, x, a]: a is second after dedupe, so MRR = 1/2 and it is within k = 2.
    assert mrr_at_k(["x", "x", "a"], relevant, 2) == 0.5
    assert hit_rate(["x", "x", "a"], relevant, 2) == 1.0


def test_metrics_reject_bad_k_and_empty_judgments() -> None:
    with pytest.raises(InputError, match="k must be a positive integer"):
        recall_at_k(["a"], {"a"}, 0)
    with pytest.raises(InputError, match="relevant"):
        ndcg_at_k(["a"], {"a": 0}, 5)


def test_summarise_means_match_hand_computation() -> None:
    results = [
        # q1: gold d2 at rank 2.
        QueryResult("q1", ("d1", "d2"), {"d2": 1}),
        # q2: 2 relevant, only d5 retrieved at rank 1.
        QueryResult("q2", ("d5",), {"d5": 1, "d6": 1}),
    ]
    summary = summarise(results, ks=(1, 2))
    # recall@1: q1 0, q2 1/2 -> 0.25;  recall@2: q1 1, q2 1/2 -> 0.75
    # mrr@10: q1 1/2, q2 1 -> 0.75
    # ndcg@10: q1 (1/log2 3)/1 = 0.63093; q2 1/(1 + 0.63093) = 0.61315 -> 0.62204
    # hit_rate (k = 2, the largest): both hit -> 1.0
    assert summary["queries"] == 2
    assert summary["unjudged"] == 0
    assert summary["recall@1"]["mean"] == pytest.approx(0.25)
    assert summary["recall@2"]["mean"] == pytest.approx(0.75)
    assert summary["mrr@10"]["mean"] == pytest.approx(0.75)
    assert summary["ndcg@10"]["mean"] == pytest.approx(0.62204, abs=1e-5)
    assert summary["hit_rate"] == {"mean": 1.0, "lo": 1.0, "hi": 1.0}
    for name in ("recall@1", "recall@2", "mrr@10", "ndcg@10"):
        entry = summary[name]
        assert entry["lo"] <= entry["mean"] <= entry["hi"]


def test_query_with_qrels_but_no_results_scores_zero() -> None:
    summary = summarise([QueryResult("q1", (), {"d1": 1})], ks=(1, 10))
    assert summary["queries"] == 1
    for name in ("recall@1", "recall@10", "mrr@10", "ndcg@10", "hit_rate"):
        assert summary[name]["mean"] == 0.0


def test_query_without_qrels_raises_naming_it() -> None:
    results = [QueryResult("q1", ("d1",), {"d1": 1}), QueryResult("q-unjudged", ("d1",), None)]
    with pytest.raises(InputError, match="q-unjudged"):
        summarise(results)


def test_query_without_qrels_counts_as_zero_when_asked() -> None:
    results = [QueryResult("q1", ("d1",), {"d1": 1}), QueryResult("q2", ("d1",), {})]
    summary = summarise(results, ks=(1,), missing="zero")
    # q1 perfect (1.0), q2 counted as 0 -> every mean is 0.5, nothing dropped.
    assert summary["queries"] == 2
    assert summary["unjudged"] == 1
    assert summary["recall@1"]["mean"] == 0.5
    assert summary["mrr@10"]["mean"] == 0.5


def test_hit_rate_uses_largest_k() -> None:
    result = [QueryResult("q1", ("x", "y", "a"), {"a": 1})]
    assert summarise(result, ks=(1, 3))["hit_rate"]["mean"] == 1.0
    assert summarise(result, ks=(1, 2))["hit_rate"]["mean"] == 0.0


def test_summarise_rejects_duplicate_queries_and_bad_arguments() -> None:
    q = QueryResult("q1", ("a",), {"a": 1})
    with pytest.raises(InputError, match="q1"):
        summarise([q, q])
    with pytest.raises(InputError):
        summarise([])
    with pytest.raises(InputError):
        summarise([q], ks=())
    with pytest.raises(InputError, match="missing"):
        summarise([q], missing="drop")  # type: ignore[arg-type]


def test_mean_interval_is_deterministic_and_brackets_the_mean() -> None:
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.25, 1.0]
    first = mean_interval(values)
    assert first == mean_interval(values)
    assert first["mean"] == pytest.approx(sum(values) / len(values))
    assert 0.0 <= first["lo"] < first["mean"] < first["hi"] <= 1.0
    assert mean_interval([0.4, 0.4]) == pytest.approx({"mean": 0.4, "lo": 0.4, "hi": 0.4})
    assert mean_interval([]) == {"mean": None, "lo": None, "hi": None}


@pytest.mark.slow  # ranx compiles its metrics with numba on first use (about a minute)
def test_metrics_match_ranx_on_random_runs() -> None:
    """Every per-query figure and summary mean agrees with ranx, a second implementation."""
    import random
    import warnings

    ranx = pytest.importorskip("ranx")
    rng = random.Random(7)
    pool = [f"d{i}" for i in range(40)]
    results = []
    for q in range(60):
        judged = rng.sample(pool, rng.randint(1, 8))
        qrels = {doc: rng.choice([0, 1, 1, 2, 3]) for doc in judged}
        qrels[judged[0]] = rng.randint(1, 3)  # at least one relevant id
        # repeats on purpose: both sides see the deduplicated ranking
        ranked = tuple(rng.choice(pool) for _ in range(rng.randint(1, 25)))
        results.append(QueryResult(f"q{q}", ranked, qrels))

    run = {r.query_id: {d: float(100 - i) for i, d in enumerate(dedupe(r.ranked))} for r in results}
    positive = {r.query_id: {d: g for d, g in r.qrels.items() if g > 0} for r in results}
    metrics = ["recall@1", "recall@5", "recall@10", "mrr@10", "mrr@3", "ndcg@10", "ndcg@3"]
    metrics += ["hit_rate@10"]
    ranx_run = ranx.Run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety chatter
        ranx.evaluate(ranx.Qrels(positive), ranx_run, metrics, return_mean=False)
    # ranx sorts queries by id; its per-query scores are kept by id in run.scores
    expected = {m: [ranx_run.scores[m][r.query_id] for r in results] for m in metrics}
    ours = {
        "recall@1": [recall_at_k(r.ranked, r.qrels, 1) for r in results],
        "recall@5": [recall_at_k(r.ranked, r.qrels, 5) for r in results],
        "recall@10": [recall_at_k(r.ranked, r.qrels, 10) for r in results],
        "mrr@10": [mrr_at_k(r.ranked, r.qrels, 10) for r in results],
        "mrr@3": [mrr_at_k(r.ranked, r.qrels, 3) for r in results],
        "ndcg@10": [ndcg_at_k(r.ranked, r.qrels, 10) for r in results],
        "ndcg@3": [ndcg_at_k(r.ranked, r.qrels, 3) for r in results],
        "hit_rate@10": [hit_rate(r.ranked, r.qrels, 10) for r in results],
    }
    for name in metrics:
        assert ours[name] == pytest.approx(expected[name], abs=1e-9), name
    assert any(0 < v < 1 for v in ours["ndcg@10"])  # the runs are neither all hits nor misses
    summary = summarise(results, ks=(1, 5, 10))
    for name, key in [("recall@5", "recall@5"), ("mrr@10", "mrr@10"), ("ndcg@10", "ndcg@10")]:
        assert summary[name]["mean"] == pytest.approx(sum(expected[key]) / len(results), abs=1e-9)
    hits = expected["hit_rate@10"]
    assert summary["hit_rate"]["mean"] == pytest.approx(sum(hits) / len(results), abs=1e-9)
