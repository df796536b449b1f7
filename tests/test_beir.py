"""BEIR loader on tiny datasets written into tmp_path."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag.errors import SourceError
from rag.evaluation.beir import BeirDataset, load_beir

CORPUS = [
    {"_id": "d1", "title": "碳达峰", "text": "国务院发布碳达峰行动方案。"},
    {"_id": "d2", "title": "", "text": "Green bonds grew in 2023."},
    {"_id": 3, "text": "A numeric id and no title."},
]
QUERIES = [
    {"_id": "q1", "text": "碳达峰方案"},
    {"_id": "q2", "text": "green bonds"},
    {"_id": "q3", "text": "a query nobody judged"},
]
QRELS = [("q1", "d1", 2), ("q2", "d2", 1), ("q2", "3", 0)]


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )


def _tsv(path: Path, rows: list[tuple[str, str, int]], header: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] if header else []
    lines += [f"{q}\t{d}\t{s}" for q, d, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _flat(root: Path, header: bool = True) -> Path:
    _jsonl(root / "corpus.jsonl", CORPUS)
    _jsonl(root / "queries.jsonl", QUERIES)
    _tsv(root / "qrels.tsv", QRELS, header=header)
    return root


def _check(ds: BeirDataset) -> None:
    assert ds.corpus == {
        "d1": ("碳达峰", "国务院发布碳达峰行动方案。"),
        "d2": ("", "Green bonds grew in 2023."),
        "3": ("", "A numeric id and no title."),
    }
    # q3 has no judgments in this split, so it is left out.
    assert ds.queries == {"q1": "碳达峰方案", "q2": "green bonds"}
    assert ds.qrels == {"q1": {"d1": 2}, "q2": {"d2": 1, "3": 0}}


@pytest.mark.parametrize("header", [True, False])
def test_load_flat_layout_with_and_without_header(tmp_path: Path, header: bool) -> None:
    _check(load_beir(_flat(tmp_path, header=header)))


def test_dropped_queries_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rag.evaluation.beir"):
        load_beir(_flat(tmp_path))
    assert "1 of 3 queries have no judgments" in caplog.text


def test_load_flat_split_files(tmp_path: Path) -> None:
    _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    _jsonl(tmp_path / "queries-dev.jsonl", QUERIES)
    _tsv(tmp_path / "qrels-dev.tsv", QRELS)
    _check(load_beir(tmp_path, split="dev"))


def test_load_beir_own_layout(tmp_path: Path) -> None:
    _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    _jsonl(tmp_path / "queries.jsonl", QUERIES)
    _tsv(tmp_path / "qrels" / "test.tsv", QRELS)
    _tsv(tmp_path / "qrels" / "dev.tsv", [("q3", "d1", 1)])
    _check(load_beir(tmp_path, split="test"))
    dev = load_beir(tmp_path, split="dev")
    assert dev.queries == {"q3": "a query nobody judged"}
    # Without a split, the error says which splits exist.
    with pytest.raises(SourceError, match="dev, test"):
        load_beir(tmp_path)


def test_missing_split_names_both_candidates(tmp_path: Path) -> None:
    _flat(tmp_path)
    with pytest.raises(SourceError, match=r"qrels-train\.tsv.*qrels/train\.tsv"):
        load_beir(tmp_path, split="train")


def test_missing_file_is_named(tmp_path: Path) -> None:
    _flat(tmp_path)
    (tmp_path / "corpus.jsonl").unlink()
    with pytest.raises(SourceError, match=r"corpus\.jsonl: file not found"):
        load_beir(tmp_path)
    with pytest.raises(SourceError, match="dataset folder not found"):
        load_beir(tmp_path / "nope")


def test_malformed_qrels_line_names_file_and_line(tmp_path: Path) -> None:
    _flat(tmp_path)
    (tmp_path / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n", encoding="utf-8"
    )
    with pytest.raises(SourceError, match=r"qrels\.tsv:3: expected 3 tab-separated fields"):
        load_beir(tmp_path)


def test_non_integer_score_names_line(tmp_path: Path) -> None:
    _flat(tmp_path)
    (tmp_path / "qrels.tsv").write_text("q1\td1\t1\nq2\td2\thigh\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"qrels\.tsv:2: .*integer score"):
        load_beir(tmp_path)


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    _flat(tmp_path)
    with (tmp_path / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"_id": "d9", "text": \n')
    with pytest.raises(SourceError, match=r"corpus\.jsonl:4: malformed JSON"):
        load_beir(tmp_path)


def test_record_without_text_names_line(tmp_path: Path) -> None:
    _flat(tmp_path)
    _jsonl(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "ok"}, {"_id": "q2"}])
    with pytest.raises(SourceError, match=r"queries\.jsonl:2: \"text\" must be a string"):
        load_beir(tmp_path)


def test_orphan_judgments_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _flat(tmp_path)
    _tsv(tmp_path / "qrels.tsv", [*QRELS, ("q-ghost", "d1", 1)])
    with caplog.at_level(logging.WARNING, logger="rag.evaluation.beir"):
        ds = load_beir(tmp_path)
    assert "q-ghost" not in ds.qrels
    assert "q-ghost" in caplog.text
