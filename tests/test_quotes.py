"""Self-contained quotes: the lead of an answer is quoted with the neighbour it leans on."""

from __future__ import annotations

import pytest

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.quotes import (
    adjacent,
    continues_quote,
    leans_back,
    passage,
    refers_back,
    sentence_count,
)
from rag.answering.sentences import split_sentences
from rag.lexicon import asks_description
from rag.types import Chunk, Document, Hit, SearchResult
from tests.invariants import check_answer

TEXT = (
    "MonoDevelop是一个开放源代码的集成开发环境。\n"
    "MonoDevelop也可以在Windows跟Mac OS X平台上执行。但并不是一开始就可以的，而是到2.2之后才正式可以。"
    "它的界面与其他开发环境相似。\n"
    "其一，精准回应了最大职业风险。其二，在缴费方式上实现了突破。\n"
)
DOC = Document(doc_id="d", title="MonoDevelop", text=TEXT)


def sentence(text: str):
    return next(s for s in split_sentences(TEXT) if s.text.startswith(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("但并不是一开始就可以的。", True),
        ("这将有助于台式机执行音频和视频任务。", True),
        ("被誉为晋剧皇后。", True),
        ("该银行扮演著中介人角色。", True),
        ("“但他没有来。”", True),
        ("其一，精准回应了最大职业风险。", False),  # a list item stands on its own
        ("二是健全高技能人才引领机制。", False),
        ("MonoDevelop也可以在Windows上执行。", False),
        ("2008年，欧盟批准猴面包树果实作为果汁的成分。", False),
        ("他山之石", True),
        ("指在分娩过程中，羊水透过胎盘进入母体血液循环。", True),  # a definition's second half
        ("指导意见由人社部印发。", False),
        ("赛后，占旭刚正式结束运动生涯。", True),  # the match is named before
        ("次年，他调任省长。", True),
        ("在此背景下，各家经纪商决定协商制定条例。", True),
        ("当年，全市GDP增长5%。", True),
        ("当地居民以种茶为生。", False),
        ("主要表现为药物性肝炎、肾功能不全等。", True),  # what the sentence before names
        ("具体包括三类人员。", True),
        ("表现在以下几个方面。", True),
        ("主要领导参加了会议。", False),
    ],
)
def test_leans_back(text, expected):
    assert leans_back(text) is expected


def test_passage_takes_the_sentence_after_that_continues_it():
    lead = sentence("MonoDevelop也可以")
    span = passage(DOC, lead)
    assert span.text == (
        "MonoDevelop也可以在Windows跟Mac OS X平台上执行。但并不是一开始就可以的，而是到2.2之后才正式可以。"
    )
    assert TEXT[span.start : span.end] == span.text
    assert sentence_count(span.text) == 2


def test_passage_takes_the_sentence_before_a_lead_that_leans_on_it():
    lead = sentence("但并不是")
    span = passage(DOC, lead)
    # 它的界面… after it leans back too, so the passage runs one sentence each way.
    assert span.text.startswith("MonoDevelop也可以")
    assert span.text.endswith("它的界面与其他开发环境相似。")
    assert TEXT[span.start : span.end] == span.text
    assert sentence_count(span.text) == 3


def test_a_lead_pointing_back_at_what_it_talks_about_takes_the_sentence_before():
    text = (
        "汗国最终失去了瓦拉奇、多布罗加及基辅西部的诸属国。"
        "1362年，汗国在蓝河战役中被击败，割让出这些领土给立陶宛。汗国的势力从此衰落。\n"
    )
    doc = Document(doc_id="h", title="汗国", text=text)
    lead = next(s for s in split_sentences(text) if s.text.startswith("1362年"))
    assert refers_back(lead.text) and not refers_back("汗国的势力从此衰落。")
    span = passage(doc, lead)
    assert span.text.startswith("汗国最终失去了") and span.text.endswith("给立陶宛。")
    assert text[span.start : span.end] == span.text


def test_a_speaker_named_between_two_halves_of_a_quotation_takes_the_first_half():
    text = (
        "青山村的茶园里一片忙碌。“以前这条路是泥巴路，茶叶运不出去。”村党支部书记王建国说，"
        "“2019年通了水泥路，现在茶商开车就能到村口收茶。”\n"
    )
    doc = Document(doc_id="q", title="青山村", text=text)
    lead = next(s for s in split_sentences(text) if s.text.startswith("村党支部书记"))
    span = passage(doc, lead)
    assert span.text.startswith("“以前这条路是泥巴路") and span.text.endswith("收茶。”")
    assert text[span.start : span.end] == span.text
    # A sentence before that is no quotation, or an attribution that goes on with no quotation
    # of its own, is not joined.
    assert not continues_quote("青山村的茶园里一片忙碌。", "王建国说，“好。”")
    assert not continues_quote("“好。”", "王建国说，今年的目标是5000万元。")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("迦楼罗是什么样子的？", True),
        ("韩遂为什么要投靠羌人？", True),
        ("黑龙江省博物馆经历了哪些发展？", True),
        ("Why are gig workers reluctant to take training?", True),
        ("How did the pilot change the way platforms pay?", True),
        ("How many people joined the pilot?", False),
        ("试点是哪一年启动的？", False),
        ("迦楼罗的父亲是谁？", False),
    ],
)
def test_a_question_asking_for_a_description(question, expected):
    assert asks_description(question) is expected


def test_a_description_is_quoted_on_through_its_paragraph():
    from rag.answering.extractive import _Candidate, _described

    text = (
        "迦楼罗是印度神话中的神鸟。迦楼罗人面鸟身。嘴如鹰喙，呈绿色。肚脐以下也是鹰的形象。"
        "头戴尖顶宝冠。\n它是毗湿奴的坐骑。\n"
    )
    doc = Document(doc_id="g", title="迦楼罗", text=text)
    sentences = split_sentences(text)
    hit = Hit(Chunk("g-0", "g", "迦楼罗", text, 0, len(text)), 1, 1.0)

    def candidate(opening: str) -> _Candidate:
        s = next(s for s in sentences if s.text.startswith(opening))
        return _Candidate(s, "g", hit, 1, 0, False)

    chosen = [candidate("迦楼罗人面"), candidate("它是毗湿奴"), candidate("迦楼罗是印度")]
    described = _described(chosen, {"g": doc}, 4)
    # The lead and the three sentences after it in its paragraph: four in all, so no room is
    # left for the supporting sentences.
    assert (
        described[0].sentence.text
        == "迦楼罗人面鸟身。嘴如鹰喙，呈绿色。肚脐以下也是鹰的形象。头戴尖顶宝冠。"
    )
    assert (
        text[described[0].sentence.start : described[0].sentence.end] == described[0].sentence.text
    )
    assert len(described) == 1
    # A paragraph's end stops it, and the room left goes to the supporting sentences.
    last = _described([candidate("头戴"), candidate("它是毗湿奴")], {"g": doc}, 4)
    assert [c.sentence.text for c in last] == ["头戴尖顶宝冠。", "它是毗湿奴的坐骑。"]


def test_passage_never_crosses_a_paragraph_or_joins_list_items():
    first = sentence("MonoDevelop是")  # the next sentence is in another paragraph
    assert passage(DOC, first) is first
    item = sentence("其一")  # 其二 opens with 其 but is an item of its own
    assert passage(DOC, item) is item


def test_adjacent_means_same_line_with_only_spaces_between():
    a, b, c = sentence("MonoDevelop也可以"), sentence("但并不是"), sentence("其一")
    assert adjacent(DOC, a, b) and adjacent(DOC, b, a)
    assert not adjacent(DOC, a, c)
    assert not adjacent(DOC, sentence("MonoDevelop是"), a)  # a line break between them


def test_answer_leads_with_the_passage_that_holds_the_answer():
    chunk = Chunk(
        chunk_id="d#0", doc_id="d", title="MonoDevelop", text=TEXT, start=0, end=len(TEXT)
    )
    result = SearchResult(
        query="q", mode="hybrid", hits=(Hit(chunk=chunk, rank=1, score=1.0),), answerable=True
    )
    question = "MonoDevelop在Windows跟Mac OS X平台上执行是在什么之后才正式可以？"
    answer = ExtractiveAnswerer().answer(question, result, {"d": DOC})
    check_answer(answer, {"d": DOC})
    first = answer.citations[0]
    # The sentence restating the question leads, and the sentence that answers it (但…2.2之后…)
    # comes with it in the same quote, verbatim at its offsets.
    assert "2.2之后才正式可以" in first.quote
    assert TEXT[first.start : first.end] == first.quote
    assert sum(sentence_count(c.quote) for c in answer.citations) <= 3
