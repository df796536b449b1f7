"""Report folder contents and terminal table formatting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.evaluation.metrics import QueryResult, summarise
from rag.evaluation.report import (
    QueryRecord,
    ScoredId,
    format_table,
    worst_misses,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _summaries() -> dict[str, dict]:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    runs = {
        "bm25": {"q1": ("d1", "d9"), "q2": ("d9", "d8")},
        "dense": {"q1": ("d9", "d1"), "q2": ("d2",)},
    }
    return {
        mode: summarise([QueryResult(q, ranked[q], qrels[q]) for q in qrels], ks=(1, 2))
        for mode, ranked in runs.items()
    }


def _records() -> list[QueryRecord]:
    return [
        QueryRecord("q1", "碳达峰方案", "bm25", 1, (ScoredId("d1", 12.5), ScoredId("d9", 3.0))),
        QueryRecord("q2", "green | bonds", "bm25", None, (ScoredId("d9", 7.25),)),
        QueryRecord("q1", "碳达峰方案", "dense", 2, (ScoredId("d9", 0.81), ScoredId("d1", 0.8))),
        QueryRecord("q2", "green | bonds", "dense", 1, (ScoredId("d2", 0.9),)),
    ]


def test_write_report_writes_every_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    files = write_report(out, _summaries(), _records(), meta={"dataset": "tiny", "split": "test"})

    assert files.chart.read_bytes()[:8] == PNG_MAGIC
    assert not list(out.glob("*.tmp"))

    lines = files.per_query.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 4
    assert rows[0] == {
        "query_id": "q1",
        "text": "碳达峰方案",
        "mode": "bm25",
        "gold_rank": 1,
        "top_hits": [{"id": "d1", "score": 12.5}, {"id": "d9", "score": 3.0}],
    }
    assert rows[1]["gold_rank"] is None
    assert "碳达峰方案" in lines[0]  # written as UTF-8, not \u escapes

    summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert summary["meta"] == {"dataset": "tiny", "split": "test"}
    assert list(summary["modes"]) == ["bm25", "dense"]
    # bm25: q1 hit at 1, q2 missed -> recall@1 mean 0.5.
    assert summary["modes"]["bm25"]["recall@1"]["mean"] == 0.5

    md = files.summary_md.read_text(encoding="utf-8")
    assert "| metric | bm25 | dense |" in md
    assert "| --- | ---: | ---: |" in md
    recall_row = next(line for line in md.splitlines() if line.startswith("| recall@1 |"))
    # bm25 recall@1 = 0.5, dense = 0.5 (q2 only); cells read "mean [lo, hi]".
    assert recall_row.count("0.500 [") == 2
    assert "| queries | 2 | 2 |" in md
    assert "**dataset**: tiny" in md
    assert "## Worst misses" in md
    # bm25's worst miss is q2 (never found) with its top hit; the pipe is escaped.
    assert "| q2 | green \\| bonds | missing | d9 (7.250) |" in md
    # dense's only miss is q1 at rank 2, topped by d9.
    assert "| q1 | 碳达峰方案 | 2 | d9 (0.810) |" in md


def test_write_report_without_records_still_writes_chart(tmp_path: Path) -> None:
    files = write_report(tmp_path, {"only": {"queries": 3}})
    assert files.chart.read_bytes()[:8] == PNG_MAGIC
    assert files.per_query.read_text(encoding="utf-8") == ""
    assert "No per-query records." in files.summary_md.read_text(encoding="utf-8")


def test_write_report_writes_numpy_scalars_as_numbers_and_refuses_other_objects(
    tmp_path: Path,
) -> None:
    import numpy as np

    files = write_report(tmp_path / "a", {"only": {"queries": np.int64(3), "mrr": np.float32(0.5)}})
    summary = json.loads(files.summary_json.read_text(encoding="utf-8"))
    assert summary["modes"]["only"] == {"queries": 3, "mrr": 0.5}
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        write_report(tmp_path / "b", {"only": {"queries": 3, "odd": object()}})


def test_format_table_puts_modes_side_by_side() -> None:
    table = format_table(_summaries())
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "bm25", "dense"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    recall = next(line for line in lines if line.startswith("recall@2"))
    # bm25 recall@2: q1 1, q2 0 -> 0.5; dense: both found by rank 2 -> 1.0 with [1.000, 1.000].
    assert "0.500 [" in recall
    assert "1.000 [1.000, 1.000]" in recall
    rows = format_table({"m": {"p": None, "n": 4, "r": 0.25}}).splitlines()[2:]
    assert [row.split() for row in rows] == [["p", "n/a"], ["n", "4"], ["r", "0.250"]]


def test_worst_misses_orders_missing_first_then_lowest_rank() -> None:
    records = [
        QueryRecord("a", "", "m", 1),
        QueryRecord("b", "", "m", 3),
        QueryRecord("c", "", "m", None),
        QueryRecord("d", "", "m", 7),
        QueryRecord("u", "", "m", None, has_gold=False),
    ]
    assert [r.query_id for r in worst_misses(records)] == ["c", "d", "b"]
    assert [r.query_id for r in worst_misses(records, n=1)] == ["c"]


def test_empty_summaries_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        format_table({})
    with pytest.raises(InputError):
        write_report(tmp_path, {})
