"""Extractive answers: exact citations, numbered markers, requested lists, not-found answers."""

from __future__ import annotations

import re

import pytest

from rag.answering.extractive import ENGLISH_NOTE, NOT_FOUND_EN, NOT_FOUND_ZH, ExtractiveAnswerer
from rag.answering.sentences import chunk_sentences, split_sentences
from rag.errors import InputError
from rag.index.store import Index
from rag.lexicon import announced_count, asked_ordinal, fold
from rag.search import Searcher
from rag.types import Chunk, Document, Hit, SearchResult
from tests.invariants import check_answer

HIGHLIGHTS_ZH = "职业伤害保障试点有哪四个亮点？"
HIGHLIGHTS_EN = "What are the four highlights of the injury-insurance pilot?"
ITEM_OPENINGS = ("其一，", "其二，", "其三，", "其四，")
LEADING_MARKS = set("。!?;…,、:.”’」』)》！？；，：）")


def chunk_starting(index: Index, prefix: str) -> Chunk:
    return next(c for c in index.chunks if c.text.startswith(prefix))


def chunk_containing(index: Index, needle: str) -> Chunk:
    return next(c for c in index.chunks if needle in c.text)


def make_result(chunks: list[Chunk], answerable: bool = True, query: str = "q") -> SearchResult:
    hits = tuple(Hit(chunk=c, rank=i, score=1.0 / i) for i, c in enumerate(chunks, start=1))
    return SearchResult(query=query, mode="hybrid", hits=hits, answerable=answerable)


def highlight_chunks(index: Index) -> list[Chunk]:
    """The four item paragraphs and the one introducing them, in a scrambled rank order."""
    intro = chunk_containing(index, "概括起来主要有四个亮点。")
    items = [chunk_starting(index, p) for p in ITEM_OPENINGS]
    return [items[2], intro, items[0], items[3], items[1]]


# ---- sentences -----------------------------------------------------------------------------
def test_sentences_keep_marks_and_closing_quotes():
    text = "他说:“好!”然后走了。真的吗?\n标题行\n,残句……结束。"
    sentences = split_sentences(text, offset=100)
    assert [s.text for s in sentences] == [
        "他说:“好!”",
        "然后走了。",
        "真的吗?",
        "标题行",
        "残句……",
        "结束。",
    ]
    for s in sentences:
        assert text[s.start - 100 : s.end - 100] == s.text


def test_sentences_do_not_end_inside_a_title():
    text = "《卡拉OK.LIVE！‧台北‧我》是第六张专辑。更缔造了纪录！《未闭合！\n下一行。"
    assert [s.text for s in split_sentences(text)] == [
        "《卡拉OK.LIVE！‧台北‧我》是第六张专辑。",
        "更缔造了纪录！",
        "《未闭合！",  # an unclosed title still ends at the line break
        "下一行。",
    ]


def test_a_quote_keeps_the_speaker_tag_after_it():
    text = "村里变了。“家乡有前景，回来不后悔。”陈思远说。他笑了。“好。”\n王建国说。"
    sentences = split_sentences(text, 7)
    assert [s.text for s in sentences] == [
        "村里变了。",
        "“家乡有前景，回来不后悔。”陈思远说。",
        "他笑了。",
        "“好。”",  # a line break between them: two paragraphs, two sentences
        "王建国说。",
    ]
    assert all(text[s.start - 7 : s.end - 7] == s.text for s in sentences)
    # A sentence after a quote is no speaker tag when it says more.
    assert len(split_sentences("“好。”他说，明年还要扩大种植面积。")) == 2


def test_a_quotation_of_a_few_sentences_stays_one_sentence():
    text = (
        "钱谦益作《序》称：“文章者，天地英淑之气也。与山水近，与市朝远。”后人称他有两多。"
        "桓玄怒道：「何预何氏女子事耶！」次月，桓玄称帝。他说“好。还行。\n下一段。"
    )
    assert [s.text for s in split_sentences(text)] == [
        "钱谦益作《序》称：“文章者，天地英淑之气也。与山水近，与市朝远。”",
        "后人称他有两多。",
        "桓玄怒道：「何预何氏女子事耶！」",
        "次月，桓玄称帝。",
        "他说“好。",  # no closing mark in the paragraph: a stray mark joins nothing
        "还行。",
        "下一段。",
    ]
    # A long speech is still cut into its sentences.
    speech = "他说：“" + "我们要把这件事情做好，做实，做到群众满意。" * 10 + "”"
    assert len(split_sentences(speech)) > 5


def test_sentences_keep_decimals_and_split_latin_sentences():
    sentences = split_sentences("Growth was 94.9% in 2023. It rose again! Next")
    assert [s.text for s in sentences] == ["Growth was 94.9% in 2023.", "It rose again!", "Next"]


def test_sentences_do_not_end_at_an_initial_or_a_title_abbreviation():
    text = (
        "两旁摆著圣若望．玛达（St. John of Matha）及St. Felix of Valois的雕像。"
        "该书是霍尔以笔名S.G. Tallentyre写作的。Dr. Sun left. He came back."
    )
    assert [s.text for s in split_sentences(text)] == [
        "两旁摆著圣若望．玛达（St. John of Matha）及St. Felix of Valois的雕像。",
        "该书是霍尔以笔名S.G. Tallentyre写作的。",
        "Dr. Sun left.",
        "He came back.",
    ]


def test_a_gold_text_holds_without_the_punctuation_at_its_ends():
    from rag.evaluation.answers import holds

    quote = "全裸或者部分裸体都是受到鼓励的，但并不强制所有的参与者都必须如此。"
    assert holds(quote, ["。全裸或者部分裸体都是受到鼓励的，但并不强制所有的参与者都必须如此。"])
    assert holds("Gtk#是个.NET的函式库。", ["-Gtk#是个.NET的函式库"])
    # Inner punctuation still has to match, and a longer gold still has to be quoted whole.
    assert not holds(quote, ["全裸或者部分裸体都是受到鼓励的。但并不强制"])
    assert not holds(quote, ["。上衣是可选的。全裸或者部分裸体都是受到鼓励的"])


def test_chunk_sentences_are_whole_document_slices(index, documents):
    for chunk in index.chunks:
        doc = documents[chunk.doc_id]
        sentences = chunk_sentences(chunk, doc)
        assert sentences, chunk.chunk_id
        for s in sentences:
            assert doc.text[s.start : s.end] == s.text
            assert s.start < chunk.end and s.end > chunk.start
            assert s.text[0] not in LEADING_MARKS and not s.text[0].isspace()
        for s in chunk_sentences(chunk):
            assert doc.text[s.start : s.end] == s.text
            assert chunk.start <= s.start < s.end <= chunk.end


# ---- requested lists -----------------------------------------------------------------------
@pytest.mark.parametrize("question", [HIGHLIGHTS_ZH, HIGHLIGHTS_EN])
def test_four_highlights_become_a_numbered_list(index, documents, question):
    answer = ExtractiveAnswerer().answer(question, make_result(highlight_chunks(index)), documents)
    check_answer(answer, documents)
    lines = answer.text.splitlines()
    items = [line for line in lines if re.match(r"\d+\. ", line)]
    assert len(items) == 4
    cited = set()
    for i, (line, opening) in enumerate(zip(items, ITEM_OPENINGS, strict=True), start=1):
        assert line.startswith(f"{i}. {opening}")
        numbers = re.findall(r"\[(\d+)\]", line)
        assert len(numbers) == 1, line
        cited.add(int(numbers[0]))
        quote = answer.citations[int(numbers[0]) - 1].quote
        assert quote.startswith(opening) and line.endswith(quote + f"[{numbers[0]}]")
    assert len(cited) == 4
    # The items lead: the sentence announcing them (…主要有四个亮点。) restates the question.
    assert [line for line in lines if line != ENGLISH_NOTE][0].startswith("1. 其一，")
    assert not any("概括起来主要有四个亮点" in line for line in lines)
    assert answer.citations[0].quote.startswith("其一，")
    assert {h.chunk.doc_id for h in answer.passages} == {answer.citations[0].doc_id}


def test_list_without_its_introduction_in_the_hits(index, documents):
    items = [chunk_starting(index, p) for p in ITEM_OPENINGS]
    answer = ExtractiveAnswerer().answer(HIGHLIGHTS_ZH, make_result(items), documents)
    check_answer(answer, documents)
    assert answer.text.splitlines()[0].startswith("1. 其一，")
    assert len(answer.citations) == 4


def test_incomplete_list_says_how_many_items_were_found(index, documents):
    items = [chunk_starting(index, p) for p in ITEM_OPENINGS[:3]]
    answer = ExtractiveAnswerer().answer(HIGHLIGHTS_ZH, make_result(items), documents)
    check_answer(answer, documents)
    assert [line[:5] for line in answer.text.splitlines()] == ["1. 其一", "2. 其二", "3. 其三"]
    assert "3 of the 4" in answer.note


def test_a_sentence_announcing_a_list_is_answered_by_its_items(index, documents):
    # 试点的亮点是什么？ names no count, and only the announcing sentence was retrieved: the
    # four items are read from the article's other chunks.
    intro = chunk_containing(index, "概括起来主要有四个亮点。")
    question = "职业伤害保障试点的亮点是什么？"
    answer = ExtractiveAnswerer().answer(
        question, make_result([intro], query=question), documents, chunks_of=index.chunks_of
    )
    check_answer(answer, documents)
    lines = answer.text.splitlines()
    assert [line[:5] for line in lines] == ["1. 其一", "2. 其二", "3. 其三", "4. 其四"]
    assert not any("概括起来主要有四个亮点" in line for line in lines)


@pytest.mark.parametrize("question", ["第二个亮点具体指什么？", "What is the second highlight?"])
def test_an_ordinal_picks_that_item_of_the_announced_list(index, documents, question):
    # Asked alone, with only the announcing sentence retrieved: the second item and what its
    # paragraph says, not the whole list.
    intro = chunk_containing(index, "概括起来主要有四个亮点。")
    answer = ExtractiveAnswerer().answer(
        question, make_result([intro], query=question), documents, chunks_of=index.chunks_of
    )
    check_answer(answer, documents)
    assert answer.citations[0].quote.startswith("其二，在缴费方式上")
    assert len(answer.citations[0].quote) > len("其二，在缴费方式上实现了一定的突破和创新。")
    assert not any(line.startswith(("1.", "2.")) for line in answer.text.splitlines())
    assert asked_ordinal(question) == 2 and asked_ordinal("中国经济发展的亮点有哪些？") == 0


def one_chunk(text: str, title: str):
    """A document of ``text`` retrieved as one chunk: the documents and its candidates."""
    from rag.answering.extractive import _gather

    doc = Document(doc_id="t", title=title, text=text)
    chunk = Chunk("t:0", "t", title, text.strip(), 0, len(text) - 1)
    return {"t": doc}, _gather([Hit(chunk, 1, 1.0)], {"t": doc})


def test_the_next_point_of_a_list_is_not_joined_to_the_lead():
    from rag.answering.extractive import _in_context

    text = "推动企业开展培养计划，采取现代学徒制等方式提升技能。三是全员化提升职工素质。\n"
    docs, (lead, label) = one_chunk(text, "工会")
    chosen = _in_context([lead, label], docs, 3)
    assert [c.text for c in chosen] == [lead.text, label.text]  # two quotes, not one passage


def test_a_why_question_quotes_the_cause_told_before_its_lead():
    from rag.answering.extractive import _described
    from rag.answering.scoring import asks_reason

    text = (
        "排位赛时他排在最后一名，只有他使用中性胎。比赛开始后下大雨，他成为领跑者。后来比赛暂停。\n"
        "一是加强监管。二是完善制度。这样做能提高效率。\n"
    )
    docs, (cause, effect, after, first, second, claim) = one_chunk(text, "赛车")
    assert asks_reason("他为什么曾一度领先？") and asks_reason("Why did he lead the race?")
    assert not asks_reason("他什么时候成为领跑者？")
    # Why…? The cause before the lead is quoted with it (then the paragraph runs on).
    quoted = _described([effect], docs, 4, reason=True)[0]
    assert quoted.text == cause.text + effect.text + after.text
    assert text[quoted.sentence.start : quoted.sentence.end] == quoted.text
    # Any other description starts at its lead.
    assert _described([effect], docs, 4)[0].text == effect.text + after.text
    # A list's points are no cause of the sentence after them.
    assert _described([claim], docs, 4, reason=True)[0].text == claim.text


def test_the_lead_s_context_leaves_room_for_two_supporting_sentences():
    from rag.answering.extractive import _in_context

    # The lead (次年…) needs the sentence before it; that sentence is part of the lead's
    # quote, so the two supporting sentences of another paragraph are still quoted.
    text = (
        "2004年，他第三次参加奥运会。次年，他正式结束运动生涯。\n"
        "他曾任学院副院长。2015年他调任县委常委。\n"
    )
    docs, (before, lead, first, second) = one_chunk(text, "运动员")
    chosen = _in_context([lead, first, second], docs, 3)
    assert chosen[0].text == before.text + lead.text  # one passage: context, then the lead
    assert [c.text for c in chosen[1:]] == [first.text, second.text]
    # A supporting sentence joined to the lead as its continuation uses up one of the two.
    chosen = _in_context([before, lead, first], docs, 3)
    assert chosen[0].text == before.text + lead.text
    assert [c.text for c in chosen[1:]] == [first.text]


@pytest.mark.parametrize(
    ("sentence", "count"),
    [
        ("新就业形态就业人员职业伤害保障试点瞄准这一问题，概括起来主要有四个亮点。", 4),
        ("其特点主要有以下三点：第一，职官与长者并用。", 3),  # runs into its first item
        ("具体存在以下三方面问题：", 3),
        ("全市共有5个试点城市参与其中，涉及人口超过千万。", 0),  # the count is no ending
        ("中国工会十八大于10月召开。", 0),
        ("试点为期两年。", 0),  # no verb of having or dividing before it
    ],
)
def test_a_sentence_announcing_a_list(sentence, count):
    assert announced_count(sentence) == count


@pytest.mark.slow
def test_of_two_lists_the_one_announced_as_what_is_asked_wins(index, documents, real_encoder):
    # The article lists three problems (首先…其次…另外，…), then three directions (第一…第三).
    # As the searcher ranks them: the paragraph announcing the problems first (具体存在以下问题。
    # names what the question asks for), the directions next, the other problems last. The
    # directions' items share more of the question's words (新就业形态公共就业服务) than the
    # problems' do.
    question = "调研发现新就业形态公共就业服务主要存在哪三方面的问题？"
    directions = [chunk_containing(index, f"{n}，持续") for n in ("第一", "第二", "第三")]
    problems = [
        chunk_containing(index, text)
        for text in ("具体存在以下问题。", "首先，公共就业", "其次，平台企业", "另外，新就业形态")
    ]
    ranked = [problems[0], *directions, *problems[1:]]
    result = make_result(list(dict.fromkeys(ranked)), query=question)
    answer = ExtractiveAnswerer(real_encoder).answer(question, result, documents)
    check_answer(answer, documents)
    assert [line[:5] for line in answer.text.splitlines()] == ["1. 首先", "2. 其次", "3. 另外"]


@pytest.mark.parametrize(
    "question",
    ["新就业形态公共就业服务系统由哪三方构成？",
     "Which three parties make up the public employment service system for new forms of employment?"],
)  # fmt: skip
def test_a_sentence_listing_the_asked_items_beats_a_numbered_list(index, documents, question):
    # The 第一…第三 directions are a complete list of three, but the three parties are named in
    # one sentence of the second direction: 公共就业服务机构、平台企业、新就业形态劳动者三方…
    directions = [chunk_containing(index, f"{n}，持续") for n in ("第一", "第二", "第三")]
    result = make_result(list(dict.fromkeys(directions)), query=question)
    answer = ExtractiveAnswerer().answer(question, result, documents)
    check_answer(answer, documents)
    assert not any(re.match(r"\d+\. ", line) for line in answer.text.splitlines())
    assert "三方共同构成" in answer.citations[0].quote


def test_sentences_that_list_items_themselves():
    from rag.lexicon import count_measure, inline_list

    assert (
        inline_list("公共就业服务机构、平台企业、新就业形态劳动者三方共同构成新就业形态", 3) == "方"
    )
    assert inline_list("高素质的职工队伍是建设“产品卓越、品牌卓著、创新领先、治理现代”的", 4) == ""
    assert inline_list("公共就业服务机构、平台企业、新就业形态劳动者三者间未能实现协同", 3) == "者"
    # A run of 、 with no count after it, or another count, is no list of the asked items.
    assert inline_list("形成政府引导、市场主导、利益相关方共同参与的运行机制。", 3) is None
    assert inline_list("社会保险包括养老、医疗、失业、工伤、生育等多种风险致因。", 4) is None
    assert count_measure("调研发现主要存在哪三方面的问题？") == "方面"
    assert count_measure("Which three parties?") == ""


# ---- plain answers -------------------------------------------------------------------------
def test_english_question_gets_the_note_first(index, documents):
    answer = ExtractiveAnswerer().answer(
        "How many people are covered by occupational injury protection?",
        make_result([chunk_containing(index, "668万人"), chunk_starting(index, "其一")]),
        documents,
    )
    check_answer(answer, documents)
    assert answer.text.splitlines()[0] == ENGLISH_NOTE
    assert answer.note == ENGLISH_NOTE
    # The question's words reach the Chinese text through their dictionary translations, and
    # it asks for a number: the sentence stating how many people are covered leads (issue 9),
    # not the chunk's opening sentence. The supporting sentence right after it (可以说，这是…)
    # continues it and is quoted with it as one passage (rag.answering.quotes).
    assert fold(answer.citations[0].quote).startswith(
        "截至今年9月,累计有668万人纳入职业伤害保障范围。可以说,"
    )


def test_chinese_question_quotes_the_matching_sentence(index, documents):
    chunks = [
        chunk_starting(index, "其二"),
        chunk_containing(index, "668万人"),
        chunk_starting(index, "第一，"),
    ]
    answer = ExtractiveAnswerer().answer(
        "截至今年9月,累计有多少人纳入职业伤害保障范围?", make_result(chunks), documents
    )
    check_answer(answer, documents)
    assert "累计有668万人纳入职业伤害保障范围。[1]" in answer.text
    assert answer.note == ""


def test_answer_leads_with_the_best_sentence_then_at_most_two_more(index, documents):
    """Issue 9 replaces reading order: the best-scoring sentence leads, supporting ones follow
    in score order, and no more than two of them."""
    later = chunk_starting(index, "其四")
    earlier = chunk_starting(index, "其一")
    other = chunk_starting(index, "第一，")
    question = "制度设计的灵活性和平台从业人员的最大职业风险,以及职工队伍建设"
    answerer = ExtractiveAnswerer()
    answer = answerer.answer(question, make_result([later, other, earlier]), documents)
    check_answer(answer, documents)
    assert 1 <= len(answer.citations) <= 3
    assert fold(answer.citations[0].quote).startswith("其四,制度设计具有灵活性")
    assert answer.text.splitlines()[0] == answer.citations[0].quote + "[1]"


def test_overlapping_chunks_quote_each_sentence_once(index, documents):
    overlapping = [
        (a, b)
        for a in index.chunks
        for b in index.chunks
        if a.doc_id == b.doc_id and a.start < b.start < a.end
    ]
    assert overlapping, "the bundled page should have overlapping chunks"
    a, b = overlapping[0]
    answer = ExtractiveAnswerer().answer(
        b.text[:40], make_result([b, a]), documents, max_sentences=10
    )
    check_answer(answer, documents)


def test_max_sentences_caps_the_answer(index, documents):
    chunks = [chunk_starting(index, p) for p in ITEM_OPENINGS]
    answer = ExtractiveAnswerer().answer(
        "平台从业人员的职业伤害保障", make_result(chunks), documents, max_sentences=2
    )
    check_answer(answer, documents)
    assert 1 <= len(answer.citations) <= 2
    with pytest.raises(InputError, match="max_sentences"):
        ExtractiveAnswerer().answer("问题", make_result(chunks), documents, max_sentences=0)


QUESTIONS = [
    HIGHLIGHTS_ZH,
    HIGHLIGHTS_EN,
    "截至今年9月,累计有多少人纳入职业伤害保障范围?",
    "北京工会要实施哪些行动?",
    "建设世界一流企业的四个方面是什么?",
    "新就业形态劳动者参加培训积极性为什么不高?",
    "Who wrote about the Beijing trade unions?",
    "中国工会十八大在哪里召开?",
]


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("top_k", [1, 5, 10])
def test_answers_to_searched_questions_hold_the_invariants(index, documents, question, top_k):
    result = Searcher(index).search(question, top_k=top_k)
    forced = SearchResult(result.query, result.mode, result.hits, answerable=True)
    answer = ExtractiveAnswerer().answer(question, forced, documents)
    check_answer(answer, documents)
    assert answer.answerable
    assert set(h.chunk.chunk_id for h in answer.passages) <= {h.chunk.chunk_id for h in result.hits}


# ---- not found -----------------------------------------------------------------------------
def test_unanswerable_result_gives_the_closest_passages(index, documents):
    result = make_result(highlight_chunks(index), answerable=False)
    answer = ExtractiveAnswerer().answer("火星上有多少座城市?", result, documents)
    check_answer(answer, documents)
    assert answer.answerable is False
    assert answer.text == NOT_FOUND_ZH
    assert answer.citations == ()
    assert answer.passages == result.hits


def test_unanswerable_english_question_gets_an_english_message(index, documents):
    result = make_result(highlight_chunks(index), answerable=False)
    answer = ExtractiveAnswerer().answer("How many cities are on Mars?", result, documents)
    assert answer.answerable is False
    assert answer.text == NOT_FOUND_EN
    assert answer.passages == result.hits


def test_no_hits_is_not_answerable(documents):
    answer = ExtractiveAnswerer().answer(HIGHLIGHTS_ZH, make_result([]), documents)
    assert answer.answerable is False
    assert answer.text == NOT_FOUND_ZH
    assert answer.citations == () and answer.passages == ()


# ---- the shared lexicon: counts and list items (issue 9, issue 14) ---------------------------
@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("职业伤害保障试点有哪四个亮点？", 4),
        ("新征程上北京工会要实施哪四项行动？", 4),
        ("这两个方面是什么？", 2),
        ("三大任务是什么？", 3),
        ("What are the four highlights of the injury-insurance pilot?", 4),
        ("Name 3 measures the article proposes.", 3),
        ("What were the pilot's four highlights?", 4),
        ("Which are the three directions?", 3),
        # in English, a number outside the ask counts the subject, not what is asked for
        ("What did four ministries decide to implement in September 2021?", 0),
        ("How should the three parties achieve coordination?", 0),
        # names, dates and ordinals are not counts
        ("党的十八大以来习近平总书记几次同全总新一届领导班子成员集体谈话？", 0),
        ("党的二十大报告提出了什么？", 0),
        ("2023年有什么新政策？", 0),
        ("十四五规划怎么说？", 0),
        ("第二个亮点具体指什么？", 0),
        ("How many times since the 18th CPC National Congress did they meet?", 0),
        ("Who won the 2023 NBA championship?", 0),
        # a ranking's top N asked by name; not a figure about them, nor a span of time
        ("一季度销量前五的品牌有哪些？", 5),
        ("排名前三的城市是哪些？", 3),
        ("What are the top five e-bike brands by sales?", 5),
        ("前五的品牌合计份额是多少？", 0),
        ("前三季度有哪些变化？", 0),
        ("前5个月的主要指标有哪些？", 0),
        ("三个月内要完成哪些工作？", 0),
    ],
)
def test_requested_count_reads_the_ask_not_names_or_dates(question, count):
    from rag.lexicon import requested_count

    assert requested_count(question) == count


@pytest.mark.parametrize(
    ("text", "style", "number"),
    [
        ("其一,精准回应", "其N", 1),
        ("其二，在缴费方式上", "其N", 2),
        ("第三：持续提升", "第N", 3),
        ("二是体系化提升职工技能。", "N是", 2),
        ("三、坚持问题导向", "N、", 3),
        ("（一）加强组织", "(N)", 1),
        ("(二)加强组织", "(N)", 2),
        ("1. 完善政策", "1.", 1),
        ("2、推进协同", "1.", 2),
        ("首先,公共就业服务机构服务供给不足。", "首先", 1),
        ("其次，平台企业未能享受就业政策红利。", "首先", 2),
        ("另外，新就业形态劳动者参加培训积极性不高。", "首先", 99),
        ("此外: 还需加强", "首先", 99),
        ("第一名雅驰电动，销量322万辆；", "第N名", 1),
        ("第五名 新日升，销量76万辆。", "第N名", 5),
    ],
)
def test_list_items_in_every_common_style(text, style, number):
    from rag.lexicon import item_marker

    marker = item_marker(text)
    assert marker is not None and (marker.style, marker.number) == (style, number)


@pytest.mark.parametrize(
    "text",
    [
        "第一批在7个省市开展",
        "1.5倍的增长",
        "一是一,二是二",
        "其实不然",
        "另外一些平台",
        "第一名单位已公示",
    ],
)
def test_ordinary_sentences_are_not_list_items(text):
    from rag.lexicon import item_marker

    assert item_marker(text) is None


def test_english_lemmas_keep_news_whole():
    from rag.index.crosslingual import _lemma

    assert _lemma("news") == "news"
    assert _lemma("highlights") == "highlight"
    assert _lemma("companies") == "company"


def test_author_question_is_answered_from_the_author_note(index, documents):
    hits = [chunk_starting(index, "其一")]
    answer = ExtractiveAnswerer().answer("鲁全担任什么职务？", make_result(hits, False), documents,
                                         chunks_of=index.chunks_of)  # fmt: skip
    check_answer(answer, documents)
    assert answer.answerable
    assert answer.text.startswith("作者：鲁全。")
    assert fold(answer.citations[0].quote) == "(作者为中国人民大学教授、中国社会保障学会秘书长)"


def test_list_expansion_stage_pulls_up_the_missing_items(index):
    from rag.search.enumeration import expand_result

    intro = chunk_containing(index, "概括起来主要有四个亮点。")
    padded = SearchResult(
        HIGHLIGHTS_ZH, "hybrid",
        tuple(Hit(c, i, 1.0 / i) for i, c in enumerate([intro] + list(index.chunks[:4]), 1)), True,
    )  # fmt: skip
    expanded = expand_result(padded, index.chunks_of)
    texts = [h.chunk.text for h in expanded.hits]
    assert len(expanded.hits) == len(padded.hits)
    assert expanded.hits[0].chunk == intro
    for opening in ITEM_OPENINGS:
        assert any(t.startswith(opening) or "\n" + opening in t for t in texts), opening
    assert [h.rank for h in expanded.hits] == list(range(1, len(texts) + 1))


def test_the_ask_path_finds_an_author_note_outside_the_hits(index, documents):
    from rag.answering.pipeline import ask

    _, answer = ask(Searcher(index), documents, "鲁全担任什么职务？")
    check_answer(answer, documents)
    assert answer.text.startswith("作者：鲁全。")
    assert fold(answer.citations[0].quote) == "(作者为中国人民大学教授、中国社会保障学会秘书长)"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("为什么外卖骑手不愿参加技能培训？", "reason_not"),
        ("骑手为何不参加培训？", "reason_not"),
        ("Why can't riders get certificates?", "reason_not"),
        ("Why do couriers skip training?", "reason"),
        # 表现为 + 什么: "shows as what", not "why".
        ("对亚硫酸盐过敏的反应表现为什么？", ""),
        # How big, how high, what is the area: a quantity, like how many.
        ("How large is the tea garden area of the village?", "number"),
        ("How high is the new bridge?", "number"),
        ("What was the total population of the county?", "number"),
        # how a name came about; a title people give
        ("四加亭名字的由来是什么？", "naming"),
        ("李忠臣的名字是怎么来的？", "naming"),
        ("How did the town get its name?", "naming"),
        # a date asked with no question word; a duration stays a quantity
        ("潘仕成逝世的时间是？", "date"),
        ("公司成立的日期为？", "date"),
        ("比赛持续时间是多少？", "number"),
        ("王爱爱有什么美誉？", "epithet"),
        ("What is the city known as?", "epithet"),
        # another name, asked with 又/也/还 before 称/名/叫 and a question word after
        ("阿閦佛又称之为什么？", "epithet"),
        ("这种鱼还叫什么名字？", "epithet"),
        ("世界贸易组织的简称是什么？", "epithet"),
        ("What is the plant also called?", "epithet"),
        ("他也称赞了谁？", "person"),  # 称赞 praises: no name asked
    ],
)
def test_why_questions_ask_for_a_reason(question, kind):
    from rag.answering.scoring import asked_type

    assert asked_type(question) == kind


def test_a_name_origin_and_an_epithet_are_worded_kinds():
    from rag.answering.scoring import holds_type, type_score

    assert holds_type("唐肃宗召至京师，赐名李忠臣。", "naming")
    assert holds_type("该镇因盛产茶叶而得名。", "naming")
    assert not holds_type("李忠臣，原名董秦。", "naming")
    assert holds_type("被誉为晋剧皇后。", "epithet")
    assert holds_type("素有“万园之园”之称。", "epithet")
    assert not holds_type("王爱爱，擅长青衣。", "epithet")
    assert holds_type("阿閦佛，又名不动佛，五方如来之中的东方佛。", "epithet")
    assert holds_type("世界贸易组织，简称世贸组织。", "epithet")
    # Held by the word itself: no question word has to stand near it (the subject is left out).
    assert (
        type_score("被誉为晋剧皇后。", ("epithet",), "王爱爱有什么美誉？", words=("王爱爱",)) == 1.0
    )


def test_a_reason_is_a_causal_sentence():
    from rag.answering.scoring import holds_type

    assert holds_type("由于从业人员的工资为计件工资，从业者不愿拿出时间参加培训。", "reason")
    assert holds_type("主要原因是认定未与激励相匹配。", "reason")
    # "held back by", "in view of", "out of": the reason comes first, the effect after it.
    assert holds_type("受限于工作性质，线下集中开展技能培训的操作难度较大。", "reason")
    assert holds_type("鉴于试点效果良好，明年将扩大范围。", "reason")
    assert holds_type("出于安全考虑，骑手须佩戴头盔。", "reason")
    assert not holds_type("二是培训时间有冲突。", "reason")


def test_a_short_list_label_gives_the_lead_to_its_explanation(index, documents):
    from rag.answering.extractive import _explained, _gather

    hits = [Hit(chunk_containing(index, "二是培训时间有冲突。"), 1, 1.0)]
    candidates = _gather(hits, documents)
    label = next(c for c in candidates if c.text == "二是培训时间有冲突。")
    chosen = _explained([label], candidates, documents, 3)
    assert [c.text for c in chosen][1:] == ["二是培训时间有冲突。"]
    explanation = chosen[0]
    assert explanation.sentence.start >= label.sentence.end
    assert not documents[label.doc_id].text[label.sentence.end : explanation.sentence.start].strip()
    assert explanation.text.startswith("由于")
    # A whole statement that opens with a marker is no label: it stays the lead.
    item = next(
        c
        for c in _gather([Hit(chunk_starting(index, "其一"), 1, 1.0)], documents)
        if c.text.startswith("其一")
    )
    assert _explained([item], candidates, documents, 3) == [item]


def test_heading_question_is_answered_by_a_heading_outside_the_hits(index, documents):
    # Only a body chunk of the public-employment article is retrieved; the heading asked for
    # sits in another chunk, which the answerer reaches through the article's chunks.
    body = chunk_containing(index, "近七成未接受过公共就业服务")
    assert "分析问题，应对挑战" not in body.text
    answer = ExtractiveAnswerer().answer(
        "公共就业服务那篇文章分析问题的部分用的小标题是什么？",
        make_result([body]),
        documents,
        chunks_of=index.chunks_of,
    )
    check_answer(answer, documents)
    headings = {s.title for d in documents.values() for s in d.sections}
    assert answer.citations[0].quote == "分析问题，应对挑战"
    assert all(c.quote in headings for c in answer.citations)
