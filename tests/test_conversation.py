"""Follow-up questions resolved against earlier turns (fast: no model).

Earlier turns are built the way clients send them: the answer text with ``[n]`` markers and
its citations (the HTTP API), or the text alone with its Sources list (chat clients).
"""

from __future__ import annotations

import json

import pytest

from rag.answering.markers import make_citation
from rag.answering.sentences import split_sentences
from rag.conversation import (
    MAX_HISTORY_TURNS,
    FollowUp,
    focus,
    item_answer,
    resolve,
    topic,
    turns_from_messages,
    validate_history,
)
from rag.errors import InputError
from rag.search.enumeration import item_number, requested_count
from rag.types import Hit, SearchResult, Turn
from tests.conftest import QUESTIONS

FOUR_HIGHLIGHTS = "职业伤害保障试点有哪四个亮点？"
PILOT_TITLE = "建立和完善平台从业人员职业伤害保障的有益探索"
TIANJIN_TITLE = "打造高素质职工队伍 助力建设世界一流企业"
BEIJING_TITLE = "为强国建设民族复兴贡献北京工会力量"


@pytest.fixture(scope="module")
def docs(bundled_docs):
    return {d.doc_id: d for d in bundled_docs}


def doc_named(docs, title):
    return next(d for d in docs.values() if d.title == title)


def sentence(doc, prefix):
    """The first sentence of ``doc`` opening with ``prefix`` (robust to punctuation width)."""
    return next(s for s in split_sentences(doc.text) if s.text.startswith(prefix))


def answer_turn(question, doc, prefixes, numbered=False, intro=None, with_citations=True):
    """A turn quoting the sentences opening with ``prefixes``, as /ask would answer it."""
    spans = [sentence(doc, p) for p in prefixes]
    lines, citations = [], []
    n = 0
    if intro is not None:
        s = sentence(doc, intro)
        n += 1
        lines.append(f"{s.text}[{n}]")
        citations.append(make_citation(n, doc, "", s.start, s.end))
    for i, s in enumerate(spans, start=1):
        n += 1
        lines.append(f"{i}. {s.text}[{n}]" if numbered else f"{s.text}[{n}]")
        citations.append(make_citation(n, doc, "", s.start, s.end))
    text = "\n".join(lines) if numbered else "".join(lines)
    return Turn(question, text, tuple(citations) if with_citations else ())


@pytest.fixture(scope="module")
def highlights_turn(docs):
    doc = doc_named(docs, PILOT_TITLE)
    return answer_turn(
        FOUR_HIGHLIGHTS, doc, ["其一", "其二", "其三", "其四"], numbered=True, intro="新就业形态"
    )


def item_text(docs, followup):
    assert followup.item is not None, followup
    return docs[followup.item.doc_id].text[followup.item.start : followup.item.end]


# ---- ordinals ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "item"),
    [
        ("第二个亮点具体指什么？", "其二"),
        ("第2个呢？", "其二"),
        ("第三点呢", "其三"),
        ("其三呢？", "其三"),
        ("最后一个呢？", "其四"),
        ("第一个亮点是什么意思？", "其一"),
        ("那第三呢", "其三"),
        ("第二个和第三个有什么区别？", "其二"),
        ("最后一个亮点是什么？", "其四"),
        ("Tell me more about the second one", "其二"),
        ("the third one", "其三"),
        ("And the last one?", "其四"),
        ("What about the fourth highlight?", "其四"),
        ("What does the 1st one mean?", "其一"),
    ],
)
def test_ordinal_follow_up_points_at_that_item_of_the_previous_list(
    docs, highlights_turn, question, item
):
    followup = resolve(question, [highlights_turn], docs)
    assert followup.kind == "ordinal"
    assert item_text(docs, followup).startswith(item)
    assert followup.documents == (doc_named(docs, PILOT_TITLE).doc_id,)
    # The rewritten query carries no ordinal to be read as a count.
    assert requested_count(followup.query) == 0


def test_an_ordinal_is_not_a_count():
    assert requested_count("第二个亮点具体指什么？") == 0
    assert requested_count("第12个呢？") == 0
    assert requested_count(FOUR_HIGHLIGHTS) == 4
    assert requested_count("有哪2个方面？") == 2


def test_chat_history_without_citations_finds_the_quotes_in_the_text(docs, highlights_turn):
    # A chat client sends the reply text back: markers, and a Sources list under it.
    doc = doc_named(docs, PILOT_TITLE)
    bare = answer_turn(FOUR_HIGHLIGHTS, doc, ["其一", "其二", "其三", "其四"], numbered=True,
                       with_citations=False)  # fmt: skip
    followup = resolve("第二个亮点具体指什么？", [bare], docs)
    assert item_text(docs, followup).startswith("其二")
    sources = "\n".join(f"[{c.n}] {c.title}: “{c.quote}”" for c in highlights_turn.citations)
    text = highlights_turn.answer + "\n\nSources:\n" + sources
    chat = Turn(FOUR_HIGHLIGHTS, text)
    assert item_text(docs, resolve("最后一个呢？", [chat], docs)).startswith("其四")


def test_citations_that_do_not_match_the_documents_are_not_trusted(docs, highlights_turn):
    wrong = tuple(
        c.__class__(**{**c.__dict__, "start": c.start + 3, "end": c.end + 3})
        for c in highlights_turn.citations
    )
    turn = Turn(highlights_turn.question, highlights_turn.answer, wrong)
    followup = resolve("第二个亮点具体指什么？", [turn], docs)
    # The quote is found again in the document; the shifted offsets are not used.
    assert item_text(docs, followup).startswith("其二")
    assert followup.item.start == sentence(doc_named(docs, PILOT_TITLE), "其二").start


def test_consecutive_ordinals_stay_on_the_list(docs, highlights_turn):
    history = [highlights_turn]
    expected = [("第二个亮点具体指什么？", "其二"), ("最后一个呢？", "其四"), ("第一个呢？", "其一"),
                ("the third one", "其三")]  # fmt: skip
    for question, item in expected:
        followup = resolve(question, history, docs)
        assert item_text(docs, followup).startswith(item), question
        # The turn as the engine would answer it: the item and its explanation.
        answer = item_answer(followup, _no_hits(followup.query), docs, lambda _: [])
        history.append(Turn(question, answer.text, answer.citations))


def test_a_list_quoted_in_part_still_leads_to_its_other_items(docs):
    doc = doc_named(docs, TIANJIN_TITLE)
    turn = answer_turn("打造高素质职工队伍有哪几个方面？", doc, ["职工队伍是", "第一", "创造卓越"])
    third = resolve("第三个呢？", [turn], docs)
    assert item_text(docs, third).startswith("第三")
    # The list is 第一…第三: the 第一/第二/第三 inside the fourth point (四是…) start a
    # sub-list of their own and are not its items.
    last = resolve("最后一个呢？", [turn], docs)
    assert item_text(docs, last).startswith("第三")
    assert last.item.start < doc.text.index("四是")


def test_a_list_in_running_text_counts_its_sentences(docs):
    doc = doc_named(docs, BEIJING_TITLE)
    prefixes = ["新征程上,北京工会要强化政治", "新征程上,北京工会要强化使命",
                "新征程上,北京工会要强化责任", "新征程上,北京工会要强化能力"]  # fmt: skip
    prefixes = [p.replace(",", _comma(doc)) for p in prefixes]
    turn = answer_turn("北京工会要强化哪些担当？", doc, prefixes)
    followup = resolve("第三个呢？", [turn], docs)
    assert "责任担当" in item_text(docs, followup)


def _comma(doc):
    return "，" if "新征程上，" in doc.text else ","


@pytest.mark.parametrize(
    "question",
    ["Which companies took part in the first batch of the pilot?", "第一批在几个省市开展？"],
)
def test_first_batch_names_a_thing_and_is_not_an_ordinal(docs, highlights_turn, question):
    followup = resolve(question, [highlights_turn], docs)
    assert followup.kind == "standalone"
    assert followup.query == question


@pytest.mark.parametrize(
    "question",
    [
        "“石膏花支洞”凭借什么能成为世界第一？",  # a rank, not an item
        "香港的第一条铁路是哪条铁路？",  # an ordinal naming a new thing
        "最后一个莫扎伊斯克王公是谁？",
        "该漫画是由谁创作的？",  # a demonstrative before a noun the conversation never used
        "杨丽音和她的丈夫是如何认识的？",  # the pronoun's referent comes before it
        "当马来穿山甲感到威胁时，它们会如何做？",
        "什么是JAXR？",  # names something, though in Latin letters
        "为什么金氏能影响朝政？",  # a subject after the question word
    ],
)
def test_questions_naming_their_own_topic_stand_alone(docs, highlights_turn, question):
    followup = resolve(question, [highlights_turn], docs)
    assert followup.kind == "standalone", followup
    assert followup.query == question


def test_an_ordinal_with_no_list_to_point_into_asks_for_more(docs):
    turn = Turn("职业伤害保障试点是什么时候开始的？", "")
    followup = resolve("第二个呢？", [turn], docs)
    assert followup.kind == "more"
    assert followup.item is None
    assert "职业伤害保障试点" in followup.query


# ---- new subjects, pronouns, "more" --------------------------------------------------------
def test_new_subject_keeps_the_question_and_focuses_on_its_article(docs):
    beijing = doc_named(docs, BEIJING_TITLE)
    turn = answer_turn("北京工会如何弘扬劳模精神？", beijing, ["持续深化产业工人"])
    followup = resolve("那天津市总工会呢？", [turn], docs)
    assert followup.kind == "entity"
    assert followup.query == "天津市总工会如何弘扬劳模精神？"
    assert followup.documents == (doc_named(docs, TIANJIN_TITLE).doc_id,)


def test_new_person_keeps_the_question(docs):
    turn = Turn("战梦霞在哪个单位工作？", "")
    followup = resolve("那鲁全呢？", [turn], docs)
    assert followup.query == "鲁全在哪个单位工作？"
    assert followup.documents == (doc_named(docs, PILOT_TITLE).doc_id,)


def test_english_what_about_keeps_the_question(docs):
    turn = Turn("Where does Zhan Mengxia work?", "")
    followup = resolve("What about Lu Quan?", [turn], docs)
    assert followup.kind == "entity"
    assert "Lu Quan" in followup.query and "work" in followup.query
    assert "Zhan Mengxia" not in followup.query


def test_english_new_place_is_looked_up_in_the_dictionary(docs):
    turn = Turn("How does the Beijing trade union promote the model-worker spirit?", "")
    followup = resolve("What about Tianjin?", [turn], docs)
    assert followup.query == "How does the Tianjin trade union promote the model-worker spirit?"
    assert followup.documents == (doc_named(docs, TIANJIN_TITLE).doc_id,)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("它覆盖了多少人？", "职业伤害保障试点覆盖了多少人？"),
        ("这个试点覆盖了多少人？", "职业伤害保障试点覆盖了多少人？"),
        ("该试点第一批在几个省市开展？", "职业伤害保障试点第一批在几个省市开展？"),
    ],
)
def test_pronoun_stands_for_the_previous_subject(docs, question, expected):
    doc = doc_named(docs, PILOT_TITLE)
    turn = answer_turn("职业伤害保障试点是什么时候开始的？", doc, ["试点于"])
    followup = resolve(question, [turn], docs)
    assert followup.kind == "pronoun"
    assert followup.query == expected
    assert followup.documents == (doc.doc_id,)


def test_english_pronoun_stands_for_the_previous_subject(docs):
    turn = Turn("When did the injury insurance pilot start?", "")
    followup = resolve("How many people does it cover?", [turn], docs)
    assert followup.query == "How many people does the injury insurance pilot cover?"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("有多少人参加？", "职业伤害保障试点有多少人参加？"),
        ("什么时候开始的？", "职业伤害保障试点什么时候开始的？"),
        ("这四个亮点中哪个最重要？", "职业伤害保障试点亮点中哪个最重要？"),
    ],
)
def test_a_dropped_subject_is_the_previous_one(docs, highlights_turn, question, expected):
    followup = resolve(question, [highlights_turn], docs)
    assert followup.kind == "pronoun"
    assert followup.query == expected
    assert followup.documents == (doc_named(docs, PILOT_TITLE).doc_id,)


@pytest.mark.parametrize(("question", "attribute"), [("那作者呢？", "作者"), ("背景呢", "背景")])
def test_an_attribute_is_asked_of_the_previous_subject(docs, highlights_turn, question, attribute):
    followup = resolve(question, [highlights_turn], docs)
    assert followup.kind == "attribute"
    assert followup.query == f"职业伤害保障试点的{attribute}"
    assert followup.documents == (doc_named(docs, PILOT_TITLE).doc_id,)


@pytest.mark.parametrize(
    "question",
    ["为什么？", "具体呢？", "还有呢？", "为什么这么说？", "能举个例子吗？", "请详细解释一下",
     "Why?", "Tell me more."],
)  # fmt: skip
def test_asking_for_more_continues_the_previous_question(docs, question):
    doc = doc_named(docs, PILOT_TITLE)
    turn = answer_turn("职业伤害保障试点是什么时候开始的？", doc, ["试点于"])
    followup = resolve(question, [turn], docs)
    assert followup.kind == "more"
    assert followup.query.startswith("职业伤害保障试点是什么时候开始的？")
    assert followup.documents == (doc.doc_id,)


@pytest.mark.parametrize("question", ["这篇文章的作者是谁？", "Who wrote this article?"])
def test_this_article_is_the_article_last_quoted(docs, question):
    tianjin = doc_named(docs, TIANJIN_TITLE)
    beijing = doc_named(docs, BEIJING_TITLE)
    turn = Turn(
        "天津市总工会如何弘扬劳模精神？",
        "",
        (
            make_citation(1, tianjin, "", *_span(tianjin, "二是将培养")),
            make_citation(2, beijing, "", *_span(beijing, "持续深化产业工人")),
        ),
    )
    followup = resolve(question, [turn], docs)
    assert followup.kind == "article"
    assert followup.query == question
    assert followup.documents == (tianjin.doc_id,)


def _span(doc, prefix):
    s = sentence(doc, prefix)
    return s.start, s.end


def test_follow_ups_chain_through_earlier_follow_ups(docs):
    tianjin = doc_named(docs, TIANJIN_TITLE)
    history = [Turn("北京工会如何弘扬劳模精神？", ""), Turn("那天津市总工会呢？", "")]
    followup = resolve("为什么？", history, docs)
    assert followup.query.startswith("天津市总工会如何弘扬劳模精神？")
    assert followup.kind == "more"
    assert tianjin.doc_id in resolve("那天津市总工会呢？", history[:1], docs).documents


def test_standalone_questions_pass_through_unchanged(docs, highlights_turn):
    english = Turn("What are the four highlights of the injury-insurance pilot?", "")
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    assert len(questions) > 50
    for question in questions:
        for previous in (highlights_turn, english):
            followup = resolve(question, [previous], docs)
            assert not followup.is_followup, (question, followup)
            assert followup.query == question
            assert followup.documents == ()


def test_no_history_means_no_follow_up(docs):
    followup = resolve("第二个亮点具体指什么？", [], docs)
    assert followup == FollowUp("第二个亮点具体指什么？", "第二个亮点具体指什么？")


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        (FOUR_HIGHLIGHTS, "职业伤害保障试点"),
        ("北京工会如何弘扬劳模精神？", "北京工会"),
        ("战梦霞在哪个单位工作？", "战梦霞"),
        ("哪些平台企业参加了试点？", ""),
        (
            "What are the four highlights of the injury-insurance pilot?",
            "the injury-insurance pilot",
        ),
    ],
)
def test_topic_is_the_subject_of_the_question(question, subject):
    assert topic(question) == subject


# ---- the item answer -----------------------------------------------------------------------
def _no_hits(query):
    return SearchResult(query=query, mode="hybrid", hits=(), answerable=True)


def test_item_answer_leads_with_the_item_and_quotes_verbatim(index, highlights_turn):
    docs = index.documents
    followup = resolve("第二个亮点具体指什么？", [highlights_turn], docs)
    answer = item_answer(followup, _no_hits(followup.query), docs, index.chunks_of)
    assert answer is not None and answer.answerable
    assert answer.text.startswith(item_text(docs, followup) + "[1]")
    assert answer.citations[0].quote.startswith("其二")
    assert 2 <= len(answer.citations) <= 3
    for c in answer.citations:
        doc = docs[c.doc_id]
        assert doc.text[c.start : c.end] == c.quote
        chunk = next(ch for ch in index.chunks_of(c.doc_id) if ch.chunk_id == c.chunk_id)
        assert chunk.start <= c.start < chunk.end
        assert not c.quote.startswith("其三")  # the explanation stops at the next item
    assert answer.passages and answer.passages[0].chunk.doc_id == followup.item.doc_id


def test_item_answer_in_english_says_the_quotes_are_chinese(index, highlights_turn):
    docs = index.documents
    followup = resolve("Tell me more about the second one", [highlights_turn], docs)
    answer = item_answer(followup, _no_hits(followup.query), docs, index.chunks_of)
    assert answer.note and answer.note in answer.text
    assert answer.citations[0].quote.startswith("其二")


def test_item_answer_is_none_for_other_questions(index):
    followup = FollowUp("它覆盖了多少人？", "职业伤害保障试点覆盖了多少人？", "pronoun")
    assert item_answer(followup, _no_hits(followup.query), index.documents, index.chunks_of) is None


def test_engine_answers_an_ordinal_follow_up_with_that_item(tmp_path, highlights_turn):
    from rag.embedding.fake import HashEncoder
    from rag.engine import Engine, EngineConfig
    from tests.conftest import BUNDLED_PAGE

    engine = Engine(
        EngineConfig(index_dir=tmp_path / "index", corpus=(BUNDLED_PAGE,)), encoder=HashEncoder()
    )
    engine.warm_up()
    answer = engine.ask("第二个亮点具体指什么？", history=[highlights_turn])
    assert answer.question == "第二个亮点具体指什么？"
    assert answer.citations[0].quote.startswith("其二")
    assert not any(c.quote.startswith(("其一", "其三")) for c in answer.citations)
    assert "Follow-up read as" in answer.note
    alone = engine.ask("第二个亮点具体指什么？")
    assert "Follow-up" not in alone.note


def test_focus_keeps_the_conversation_documents(index):
    chunks = [c for doc_id in list(index.documents)[:3] for c in index.chunks_of(doc_id)[:2]]
    hits = tuple(Hit(c, i, 1.0 / i) for i, c in enumerate(chunks, start=1))
    result = SearchResult("q", "hybrid", hits, True)
    wanted = chunks[-1].doc_id
    focused = focus(result, (wanted,), top_k=5)
    assert {h.chunk.doc_id for h in focused.hits} == {wanted}
    assert [h.rank for h in focused.hits] == list(range(1, len(focused.hits) + 1))
    # None of the focused documents retrieved: the hits stay, cut to top_k.
    assert len(focus(result, ("no-such-doc",), top_k=2).hits) == 2
    assert focus(result, (), top_k=5).hits == hits[:5]


def test_item_number_reads_every_list_style():
    cases = {"其二,在缴费": ("其", 2), "第三，健全": ("第", 3), "四是完善": ("是", 4),
             "（五）加强": ("括号", 5), "六、推动": ("顿号", 6), "7. 做好": ("数字", 7),
             "十二是": ("是", 12), "1.5亿人": ("", 0), "其中": ("", 0)}  # fmt: skip
    for text, expected in cases.items():
        assert item_number(text) == expected, text


# ---- turns from chat messages, and limits ----------------------------------------------------
def test_turns_from_messages_pairs_questions_with_replies():
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": FOUR_HIGHLIGHTS},
        {"role": "assistant", "content": "1. 其一…[1]\n\nSources:\n[1] t: “其一…”"},
        {"role": "user", "content": [{"type": "text", "text": "第二个呢？"}]},
        {"role": "assistant", "content": "其二…[1]"},
        {"role": "user", "content": "最后一个呢？"},
    ]
    turns = turns_from_messages(messages)
    assert [t.question for t in turns] == [FOUR_HIGHLIGHTS, "第二个呢？"]
    assert turns[0].answer.startswith("1. 其一") and "Sources:" in turns[0].answer
    assert turns[1].answer == "其二…[1]"
    assert turns_from_messages(messages[:2]) == ()


def test_turns_from_messages_keeps_the_last_turns_of_a_long_chat():
    messages = []
    for i in range(MAX_HISTORY_TURNS + 5):
        messages += [
            {"role": "user", "content": f"q{i}"},
            {"role": "assistant", "content": f"a{i}"},
        ]
    messages.append({"role": "user", "content": "now"})
    turns = turns_from_messages(messages)
    assert len(turns) == MAX_HISTORY_TURNS
    assert turns[-1] == Turn("q24", "a24")


def test_history_limits_name_the_field_and_the_fix():
    validate_history([Turn("q", "a")] * MAX_HISTORY_TURNS)
    with pytest.raises(InputError, match=r"history has 21 turns; the limit is 20") as err:
        validate_history([Turn("q", "a")] * (MAX_HISTORY_TURNS + 1))
    assert err.value.param == "history"
    with pytest.raises(InputError, match="characters long"):
        validate_history([Turn("q", "答" * 60_000), Turn("q", "答" * 60_000)])


def test_long_earlier_question_does_not_make_an_overlong_query(docs):
    turn = Turn("职业伤害保障试点" + "很" * 3000 + "是什么？", "")
    followup = resolve("为什么？", [turn], docs)
    assert len(followup.query) <= 2000
    assert followup.query.endswith("为什么？")


def test_a_model_rewrite_replaces_the_query_but_not_an_ordinal_item(docs, highlights_turn):
    ordinal = resolve("第二个亮点具体指什么？", [highlights_turn], docs)
    assert ordinal.with_query("试点在缴费方式上有什么创新？") == ordinal
    more = resolve("为什么？", [highlights_turn], docs)
    rewritten = more.with_query("职业伤害保障试点为什么有这四个亮点？")
    assert rewritten.query == "职业伤害保障试点为什么有这四个亮点？"
    assert (rewritten.kind, rewritten.documents) == ("more", more.documents)
    alone = resolve("哪些平台企业参加了试点？", [highlights_turn], docs)
    assert alone.with_query("") == alone
    assert alone.with_query("哪些平台企业参加了职业伤害保障试点？").kind == "rewritten"
    assert alone.with_query("哪些平台企业参加了职业伤害保障试点？").is_followup


def test_citations_that_point_nowhere_are_ignored(docs, highlights_turn):
    from rag.types import Citation

    junk = (
        Citation(1, "no-such-doc", "", "t", "不存在的句子，哪里都没有。", 0, 12),
        Citation(2, highlights_turn.citations[0].doc_id, "", "t", "", 50, 10),
        Citation(3, highlights_turn.citations[0].doc_id, "", "t", "", -5, 10**9),
    )
    turn = Turn(FOUR_HIGHLIGHTS, "1. 甲[1]\n2. 乙[2]\n3. 丙[3]", junk)
    followup = resolve("第二个呢？", [turn], docs)
    # Nothing to point into: read as asking for more about the earlier question.
    assert followup.kind == "more"
    assert followup.item is None and followup.documents == ()
