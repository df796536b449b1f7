"""`rag eval` end to end with the real model: a CMRC 2018 sample and the project's question set."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from tests.conftest import QUESTIONS, ROOT

pytestmark = pytest.mark.slow

SAMPLE = ROOT / "tests" / "data" / "cmrc_sample"
METRICS = {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "hit_rate", "queries"}


def test_eval_on_a_cmrc_sample_reports_every_mode_and_writes_a_report(tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["eval", "--dataset", str(SAMPLE), "--split", "tune", "--json", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"hybrid", "dense", "keyword"}
    for mode, s in summary.items():
        assert set(s) >= METRICS, mode
        assert s["queries"] == 40
        assert 0 <= s["recall@1"]["lo"] <= s["recall@1"]["mean"] <= s["recall@1"]["hi"] <= 1
    assert summary["hybrid"]["recall@5"]["mean"] >= 0.9
    assert summary["hybrid"]["mrr@10"]["mean"] >= summary["dense"]["mrr@10"]["mean"] - 0.02
    assert {p.name for p in out.iterdir()} >= {
        "per_query.jsonl",
        "summary.json",
        "summary.md",
        "summary.png",
    }
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in (out / "per_query.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 40
    # The second run reuses the cached index instead of embedding again.
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert main(argv[:-2] + ["--cache-dir", str(tmp_path / "cache"), "--mode", "dense"]) == 0
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_eval_on_the_question_set_reports_languages_and_the_flag(tmp_path, capsys):
    argv = ["eval", "--questions", str(QUESTIONS), "--mode", "hybrid", "--k", "1,5",
            "--json", "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    s = json.loads(capsys.readouterr().out)["hybrid"]
    assert s["hit@5/zh"]["mean"] >= 0.95 and s["hit@5/en"]["mean"] >= 0.95
    assert s["unanswerable_precision"] == 1.0 and s["unanswerable_recall"] >= 0.5


def test_eval_refuses_bad_arguments(capsys):
    assert main(["eval", "--questions", str(QUESTIONS), "--k", "one"]) == 2
    assert "--k must be comma-separated integers" in capsys.readouterr().err
    assert main(["eval"]) == 2
    assert "exactly one of --dataset" in capsys.readouterr().err


def test_eval_with_reworded_queries_runs_only_those_in_their_wording(tmp_path, capsys):
    # A translation of some of the dataset's queries, same ids: an English question set over
    # the same judgments (tests/data/cmrc-en-tune.jsonl is one for the CMRC tuning half).
    reworded = tmp_path / "queries-en.jsonl"
    lines = [{"_id": "TRIAL_796_QUERY_0", "text": "When was the Blue Horde formed?"},
             {"_id": "TRIAL_300_QUERY_1", "text": "What are the scale factors of ellipsoidal coordinates?"},
             {"_id": "NOT_IN_THE_SAMPLE", "text": "Ignored: no judgment for it."}]  # fmt: skip
    reworded.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    argv = ["eval", "--dataset", str(SAMPLE), "--split", "tune", "--queries", str(reworded),
            "--mode", "hybrid", "--json", "--out", str(out), "--cache-dir", str(tmp_path / "c")]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["hybrid"]["queries"] == 2
    rows = [json.loads(line) for line in (out / "per_query.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == [lines[0]["text"], lines[1]["text"]]


def test_eval_refuses_reworded_queries_that_fit_nothing(tmp_path, capsys):
    stray = tmp_path / "stray.jsonl"
    stray.write_text(json.dumps({"_id": "NOPE", "text": "Why?"}) + "\n", encoding="utf-8")
    argv = ["eval", "--dataset", str(SAMPLE), "--split", "tune", "--queries", str(stray),
            "--mode", "hybrid", "--cache-dir", str(tmp_path / "c")]  # fmt: skip
    assert main(argv) == 2
    assert "none of its 1 query ids" in capsys.readouterr().err
    assert main(["eval", "--questions", str(QUESTIONS), "--queries", str(stray)]) == 2
    assert "use it with --dataset" in capsys.readouterr().err
