"""Answerability thresholds belong to the model they were calibrated for (issue 14)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace

from rag.embedding.encoder import DEFAULT_MODEL_NAME
from rag.search import Searcher, SearchSettings
from rag.search.answerability import (
    COVERAGE_ONLY,
    AnswerabilityThresholds,
    Evidence,
    is_answerable,
    thresholds_for,
)


def test_the_default_model_has_calibrated_thresholds_and_another_model_borrows_none():
    assert thresholds_for(DEFAULT_MODEL_NAME) == (AnswerabilityThresholds(), True)
    assert thresholds_for("BAAI/bge-small-zh-v1.5") == (COVERAGE_ONLY, False)


def test_coverage_only_ignores_the_cosine_scale():
    covered = Evidence(top_cosine=0.01, coverage=0.6, language="zh")
    uncovered = Evidence(top_cosine=0.99, coverage=0.1, language="zh")
    assert is_answerable(covered, COVERAGE_ONLY) and not is_answerable(uncovered, COVERAGE_ONLY)
    # e5's thresholds judge the same evidence on its cosine.
    assert not is_answerable(covered, AnswerabilityThresholds())
    assert is_answerable(uncovered, AnswerabilityThresholds())


def test_a_searcher_over_another_model_uses_coverage_only_and_says_so(index, caplog, monkeypatch):
    from rag.search import answerability

    monkeypatch.setattr(answerability, "_warned", set())  # said once per model and process
    with caplog.at_level(logging.WARNING, logger="rag.search.answerability"):
        searcher = Searcher(index)
        Searcher(index)
    assert index.encoder.name != DEFAULT_MODEL_NAME
    assert searcher.thresholds == COVERAGE_ONLY
    warnings = [r.getMessage() for r in caplog.records if "coverage only" in r.getMessage()]
    assert len(warnings) == 1 and index.encoder.name in warnings[0]


def test_configured_thresholds_win(index):
    mine = AnswerabilityThresholds(0.5, 0.4, 0.3, 0.2, 0.1)
    assert Searcher(index, SearchSettings(thresholds=mine)).thresholds == mine


def test_a_search_that_retrieves_nothing_is_not_answerable(index):
    from rag.search.filters import Filters

    result = Searcher(index).search("职业伤害保障", filters=Filters(source="nowhere://"))
    assert result.hits == () and result.answerable is False


def test_the_manifest_records_the_thresholds_with_their_model(index, tmp_path):
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["answerability"] == {
        "model": None,
        "thresholds": None,
        "rule": "word coverage only",
    }
    e5 = replace(index.snapshot, encoder=_Named(index.encoder, DEFAULT_MODEL_NAME))
    assert Searcher(e5).thresholds == AnswerabilityThresholds()


def test_the_manifest_of_an_e5_index_names_e5_and_its_thresholds(tmp_path):
    from rag.index.store import _answerability

    assert _answerability(DEFAULT_MODEL_NAME) == {
        "model": DEFAULT_MODEL_NAME,
        "thresholds": asdict(AnswerabilityThresholds()),
        "rule": "cosine and word coverage",
    }


class _Named:
    """An encoder under another name (the thresholds are looked up by model name)."""

    def __init__(self, inner, name: str) -> None:
        self._inner, self.name = inner, name

    def __getattr__(self, attr):
        return getattr(self._inner, attr)
