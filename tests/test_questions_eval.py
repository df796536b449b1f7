"""Quote-keyed question sets: loading, validation and a hand-checked evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputError, SourceError
from rag.evaluation.questions import (
    Question,
    QuestionRun,
    evaluate_questions,
    find_quote_rank,
    load_questions,
)

QUESTIONS = [
    {
        "id": "z1",
        "question": "谁发布了通知？",
        "lang": "zh",
        "quotes": ["国务院 发布"],
        "answerable": True,
    },
    {
        "id": "z2",
        "question": "目标是什么？",
        "lang": "zh",
        "quotes": ["碳达峰"],
        "answerable": True,
    },
    {
        "id": "e1",
        "question": "What grew?",
        "lang": "en",
        "quotes": ["green bonds"],
        "answerable": True,
    },
    {
        "id": "e2",
        "question": "What fell?",
        "lang": "en",
        "quotes": ["rate cut", "inflation fell"],
        "answerable": True,
    },
    {"id": "u1", "question": "火星上的GDP是多少？", "lang": "zh", "answerable": False},
    {"id": "u2", "question": "Who won the 1930 World Cup?", "lang": "en", "answerable": False},
]


def _write(path: Path, records: list[object]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


def test_load_questions_reads_every_field(tmp_path: Path) -> None:
    questions = load_questions(_write(tmp_path / "q.jsonl", QUESTIONS))
    assert [q.id for q in questions] == ["z1", "z2", "e1", "e2", "u1", "u2"]
    assert questions[0] == Question(
        id="z1", question="谁发布了通知？", lang="zh", answerable=True, quotes=("国务院 发布",)
    )
    assert questions[4].quotes == ()
    assert not questions[4].answerable


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "question": "q", "lang": "fr", "quotes": ["x"], "answerable": True}, "lang"),
        ({"id": "a", "question": "q", "lang": "en", "answerable": True}, "quotes"),
        ({"id": "a", "question": "q", "lang": "en", "quotes": [], "answerable": True}, "quotes"),
        (
            {"id": "a", "question": "q", "lang": "en", "quotes": [" \n"], "answerable": True},
            "non-blank",
        ),
        (
            {"id": "a", "question": "q", "lang": "en", "quotes": ["x"], "answerable": False},
            "must not",
        ),
        (
            {"id": "a", "question": "q", "lang": "en", "quotes": ["x"], "answerable": "yes"},
            "answerable",
        ),
        ({"id": "a", "question": "", "lang": "en", "answerable": False}, "question"),
        ({"question": "q", "lang": "en", "answerable": False}, '"id"'),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_invalid_question_names_file_line_and_field(
    tmp_path: Path, record: object, message: str
) -> None:
    good = {"id": "ok", "question": "q", "lang": "en", "answerable": False}
    path = _write(tmp_path / "q.jsonl", [good, record])
    with pytest.raises(SourceError, match=r"q\.jsonl:2") as info:
        load_questions(path)
    assert message in str(info.value)


def test_malformed_json_and_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(QUESTIONS[0]) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"q\.jsonl:3: malformed JSON"):
        load_questions(path)
    _write(path, [QUESTIONS[0], QUESTIONS[1], QUESTIONS[0]])
    with pytest.raises(SourceError, match=r"q\.jsonl:3: question id 'z1' already used on line 1"):
        load_questions(path)
    with pytest.raises(SourceError, match="not found"):
        load_questions(tmp_path / "missing.jsonl")


def test_quote_matching_ignores_whitespace_on_both_sides() -> None:
    # Quote "国务院 发布" and chunk "昨日国务院\n发布了" both squash to contain "国务院发布".
    assert find_quote_rank(["无关", "昨日国务院\n发布了通知"], ["国务院 发布"]) == 2
    assert find_quote_rank(["碳 达\u3000峰目标"], ["碳达峰"]) == 1
    # Case still matters, and no chunk means no hit.
    assert find_quote_rank(["Green Bonds"], ["green bonds"]) is None
    assert find_quote_rank([], ["x"]) is None


def test_evaluate_questions_matches_hand_computation(tmp_path: Path) -> None:
    questions = load_questions(_write(tmp_path / "q.jsonl", QUESTIONS))
    runs = {
        "z1": QuestionRun(("无关段落", "昨日国务院\n发布了通知"), answerable=True),  # rank 2
        "z2": QuestionRun(("碳 达 峰目标", "其他"), answerable=True),  # rank 1
        "e1": QuestionRun(("a", "b", "c", "d"), answerable=False),  # miss, wrongly flagged
        "e2": QuestionRun(("x", "y", "prices: inflation\nfell sharply"), answerable=True),  # rank 3
        "u1": QuestionRun(("火星",), answerable=False),  # correctly flagged
        "u2": QuestionRun(("Uruguay",), answerable=True),  # not flagged: a miss of the flag
    }
    result = evaluate_questions(questions, runs, ks=(1, 3))
    ranks = {row.id: row.rank for row in result.rows}
    assert ranks == {"z1": 2, "z2": 1, "e1": None, "e2": 3, "u1": None, "u2": None}
    assert [row.flagged for row in result.rows] == [False, False, True, False, True, False]

    s = result.summary
    assert (s["questions"], s["answerable"], s["unanswerable"], s["flagged"]) == (6, 4, 2, 2)
    # Answerable ranks: z1 2, z2 1, e1 none, e2 3.
    # hit@1 = 1/4; hit@3 = 3/4; zh (z1, z2): 1/2 and 2/2; en (e1, e2): 0/2 and 1/2.
    assert s["hit@1"]["mean"] == pytest.approx(0.25)
    assert s["hit@3"]["mean"] == pytest.approx(0.75)
    assert s["hit@1/zh"]["mean"] == pytest.approx(0.5)
    assert s["hit@3/zh"]["mean"] == pytest.approx(1.0)
    assert s["hit@1/en"]["mean"] == pytest.approx(0.0)
    assert s["hit@3/en"]["mean"] == pytest.approx(0.5)
    # MRR = (1/2 + 1 + 0 + 1/3) / 4 = 0.458333; zh (1/2 + 1)/2 = 0.75; en (0 + 1/3)/2 = 0.166667.
    assert s["mrr"]["mean"] == pytest.approx(0.458333, abs=1e-6)
    assert s["mrr/zh"]["mean"] == pytest.approx(0.75)
    assert s["mrr/en"]["mean"] == pytest.approx(1 / 6)
    # Flagged: e1 (false positive) and u1 (true positive); unanswerable: u1, u2.
    # precision = 1/2, recall = 1/2.
    assert s["unanswerable_precision"] == pytest.approx(0.5)
    assert s["unanswerable_recall"] == pytest.approx(0.5)


def test_flag_metrics_are_none_when_undefined(tmp_path: Path) -> None:
    questions = load_questions(_write(tmp_path / "q.jsonl", QUESTIONS[:2]))
    runs = {q.id: QuestionRun((), answerable=True) for q in questions}
    s = evaluate_questions(questions, runs).summary
    # Nothing flagged and nothing unanswerable: both ratios are 0/0.
    assert s["unanswerable_precision"] is None
    assert s["unanswerable_recall"] is None
    assert s["hit@10"]["mean"] == 0.0
    assert "hit@1/en" not in s


def test_question_without_run_is_an_error(tmp_path: Path) -> None:
    questions = load_questions(_write(tmp_path / "q.jsonl", QUESTIONS))
    with pytest.raises(InputError, match="'z1'"):
        evaluate_questions(questions, {})
    with pytest.raises(InputError, match="ks"):
        evaluate_questions(questions, {}, ks=(0,))
