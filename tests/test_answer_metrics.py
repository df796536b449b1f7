"""The answer metrics of `rag eval --answers`, on answers written by hand (no model)."""

from __future__ import annotations

from rag.evaluation.answers import folded_corpus, quotable
from rag.evaluation.runner import run_answers
from rag.types import Answer, Citation, Document

# A passage cut into two corpus documents, as CMRC 2018's chunked corpus cuts its passages.
DOCS = [
    Document(doc_id="p_C0", title="占旭刚", text="2004年，他第三次参加奥运会，卫冕失败。"),
    Document(doc_id="p_C1", title="占旭刚", text="赛后，他正式结束运动生涯，着手行政工作。"),
]
CASES = [
    (
        "q1",
        "zh",
        "他何时结束运动生涯？",
        ("2004年，他第三次参加奥运会，卫冕失败。赛后，他正式结束",),
    ),
    ("q2", "zh", "他赛后做了什么？", ("着手行政工作",)),
]


def _answer(question: str) -> Answer:
    doc = DOCS[1]
    quote = doc.text
    citation = Citation(1, doc.doc_id, f"{doc.doc_id}:0", doc.title, quote, 0, len(quote))
    return Answer(question, quote + "[1]", True, (citation,))


def test_a_gold_text_across_two_documents_is_not_quotable():
    corpus = folded_corpus(d.text for d in DOCS)
    assert quotable(CASES[1][3], corpus)
    assert quotable(("赛后, 他正式结束",), corpus)  # compared after NFKC, as recall is
    assert not quotable(CASES[0][3], corpus)  # starts in one document, ends in the next


def test_answer_quotable_is_the_ceiling_of_recall():
    summary, rows = run_answers(CASES, _answer, documents=DOCS)
    assert [(r.recall, r.quotable) for r in rows] == [(False, False), (True, True)]
    assert summary["answer_recall"] == 0.5 and summary["answer_quotable"] == 0.5
    # Without the corpus nothing is known of it: every gold counts as quotable.
    assert run_answers(CASES, _answer)[0]["answer_quotable"] == 1.0
