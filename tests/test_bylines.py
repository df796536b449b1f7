"""Author questions: the searcher ranks the asked article's author note first."""

from __future__ import annotations

import pytest

from rag import bylines
from rag.lexicon import fold
from rag.search import Searcher
from rag.types import Document

NOTE_DOC = Document(
    doc_id="a",
    title="建立和完善平台从业人员职业伤害保障的有益探索",
    text="正文第一段。\n（作者为中国人民大学教授）\n正文第二段。",
    authors=("鲁全",),
)
PLAIN_DOC = Document(doc_id="b", title="另一篇文章", text="没有作者说明的正文。")
DOCS = {"a": NOTE_DOC, "b": PLAIN_DOC}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("鲁全担任什么职务？", True),  # names an author, asks for a position
        ("这篇文章的作者是谁？", True),
        ("Which institution are the authors of the article from?", True),
        ("鲁全提出了哪些建议？", False),  # names an author, asks about the content
        ("What positions does Lu Quan hold?", True),  # the author's name in pinyin
        ("What does Lu Quan propose?", False),
        ("职业伤害保障试点有哪四个亮点？", False),
        # An academic author's unit asked by where they teach or come from.
        ("Which university does the author of the article teach at?", True),
        ("作者在哪所大学任教？", True),
        ("记者去了哪所学校？", False),  # where the reporter went, not who they are
        ("Which school did the reporter visit?", False),
    ],
)
def test_asks_about(question, expected):
    assert bylines.asks_about_author(question, DOCS) is expected


def test_note_span_and_asked_document():
    start, end = bylines.note_span(NOTE_DOC)
    assert NOTE_DOC.text[start:end] == "（作者为中国人民大学教授）"
    assert bylines.note_span(PLAIN_DOC) is None
    # Named author first, then a quoted title, then the best-ranked article with a note.
    assert bylines.asked_document("鲁全担任什么职务？", DOCS, ["b"]) is NOTE_DOC
    assert bylines.asked_document("作者是谁？", DOCS, ["b", "a"]) is NOTE_DOC
    assert bylines.asked_document("作者是谁？", {"b": PLAIN_DOC}, ["b"]) is None


@pytest.mark.parametrize(
    ("question", "note"),
    [
        ("鲁全担任什么职务？", "作者为中国人民大学教授、中国社会保障学会秘书长"),
        ("天津市总工会那篇文章的作者单位是什么？", "作者单位:天津市总工会"),
        ("What positions does Lu Quan hold?", "作者为中国人民大学教授、中国社会保障学会秘书长"),
        ("Which organisation does Zhan Mengxia work for?", "作者单位:中国劳动和社会保障科学研究院"),
    ],
)
def test_author_question_ranks_the_note_first(index, question, note):
    result = Searcher(index).search(question, top_k=5, mode="hybrid")
    assert note in fold(result.hits[0].chunk.text)


def test_content_question_is_ranked_as_before(index):
    question = "职业伤害保障试点有哪四个亮点？"
    searcher = Searcher(index)
    assert searcher._byline_first(question, [3, 1, 2]) == [3, 1, 2]
