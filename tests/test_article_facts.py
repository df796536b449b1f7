"""Questions about the article itself on news pages: who reported it, when it was published,
where it comes from, its title; and fact questions whose words only say what is asked
(陈士华担任什么职务？).

The pages in ``tests/data/news`` (and two of ``tests/data/news-qa``) were written for these
tests in the layout of Chinese news sites and policy documents (a Xinhua dateline with its
reporters; a People's Daily commentary with an author note, a date line and an issue line; a
State Council opinion with numbered headings, points under them and a signature date; a
foreign ministry press conference; a statistics release that writes GDP out as 国内生产总值),
so that nothing here is fitted to the bundled page.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from rag import bylines
from rag.answering import metadata
from rag.answering.extractive import ANY_ARTICLE_EN, ANY_ARTICLE_ZH
from rag.index.crosslingual import english_content_words
from rag.index.tokenize import has_han
from rag.search.answerability import content_words
from rag.types import Chunk, Document, Hit

NEWS = Path(__file__).resolve().parent / "data" / "news"
# Two pages of the news-page question set (tests/data/news-qa) join them here.
NEWS_QA = Path(__file__).resolve().parent / "data" / "news-qa"
NEWS_CORPUS = (NEWS, NEWS_QA / "a_stats.html", NEWS_QA / "b_mfa.txt")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("这篇报道是什么时候发布的？", "date"),
        ("这篇文章发表于哪天？", "date"),
        ("文章的发布时间是？", "date"),
        ("When was the article published?", "date"),
        ("When was the story on new energy vehicle sales published?", "date"),
        ("这篇报道来源于哪家媒体？", "source"),
        ("这篇评论刊登在哪家报纸？", "source"),
        ("Which newspaper published this story?", "source"),
        ("What is the source of this article?", "source"),
        ("鲁全的文章标题是什么？", "title"),
        ("这篇文章的题目是什么？", "title"),
        ("What is the title of Lu Quan's article?", "title"),
        # About what the article reports, not about the article.
        ("中汽协何时发布了数据？", None),
        ("文章中提到的政策是什么时候发布的？", None),
        ("报道提到的资金来源是什么？", None),
        # A heading of a part of the article, not its title.
        ("北京工会那篇文章中讨论讲话意义的部分用的小标题是什么？", None),
        ("Under what heading does the article describe the policy framework?", None),
        ("本版开设的新专栏叫什么名字？", None),
        ("这份文件是什么时候印发的？", "date"),
        ("这篇关于电梯补贴的通知是什么时候发布的？", "date"),  # the kind of document names it
        ("When was the document issued?", "date"),
        # The body that signed an official document.
        ("这个通知是哪个部门发布的？", "issuer"),
        ("这个通知是哪个部门什么时候发布的？", "issuer"),
        ("这份文件的发文机关是？", "issuer"),
        ("Who issued this notice?", "issuer"),
        ("Which department issued the opinion on elderly care?", "issuer"),
        # The article's editor (（责任编辑：李四）), not an editor the article talks about.
        ("这篇报道的责任编辑是谁？", "editor"),
        ("青山村那篇报道的责编是哪位？", "editor"),
        ("这篇文章的编辑是谁？", "editor"),
        ("Who edited this story?", "editor"),
        ("Who is the editor of the article on tea farming?", "editor"),
        ("这本书的编辑是谁？", None),
        # An official document's number (文号).
        ("这份通知的文号是什么？", "docno"),
        ("What is the document number of the notice?", "docno"),
        ("Who is the editor of the magazine?", None),
        ("文章提到哪些部门参与了试点？", None),  # the departments the text talks about
        ("这篇报道提到了什么组织？", None),
    ],
)
def test_asked_fact(question, kind):
    assert bylines.asked_fact(question) == kind


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("这篇新闻是谁写的？", True),
        ("这篇报道是什么时候发布的？", True),
        ("这篇报道来源于哪家媒体？", True),
        ("Who reported this story?", True),
        ("When was the article published?", True),
        # A topic of its own: the corpus must cover it like any other question's.
        ("谁写了关于红烧肉的文章？", False),
        ("When was the story on new energy vehicle sales published?", False),
        # Not about the article.
        ("陈士华担任什么职务？", False),
        ("红烧肉怎么做才好吃？", False),
    ],
)
def test_about_article_only(question, expected):
    words = content_words(question) if has_han(question) else english_content_words(question)
    assert bylines.about_article_only(question, words) is expected


def test_words_naming_the_kind_of_answer_are_no_topic():
    # 担任 and 职务 say what is asked; the corpus need not hold them to answer.
    assert content_words("陈士华担任什么职务？") == ["陈士华"]
    assert "发布" in content_words("中汽协何时发布了数据？")
    # A number is a content word, cut as the index cuts it.
    assert content_words("到2035年要实现什么目标？") == ["实现", "2035年"]


NEWS_DOC = Document(
    doc_id="n",
    title="我国新能源汽车产销量连续九年位居全球第一",
    text="新华社北京1月11日电（记者王小明、李华）中国汽车工业协会11日发布数据显示，产销量连续9年位居全球第一。\n"
    "数据显示，汽车出口491万辆。",
    authors=("王小明", "李华"),
    published="2024-01-11",
    site="新华网",
)
COMMENTARY = Document(
    doc_id="c",
    title="让乡村产业更有活力",
    text="乡村振兴，产业振兴是重中之重。人民日报曾多次报道。\n（作者系中国农业大学经济管理学院教授）\n"
    "《人民日报》（2024年03月05日05版）",
    authors=("赵明远",),
    published="2024-03-05",
    site="人民日报",
)
UNDATED = Document(doc_id="u", title="没有日期的文章", text="正文。")
EDITED = Document(
    doc_id="e",
    title="青山村的茶路变富路",
    text="青山村共有农户326户。\n（责任编辑：周敏 吴迪）",
    editors=("周敏", "吴迪"),
)
DOCS = {"n": NEWS_DOC, "c": COMMENTARY, "u": UNDATED, "e": EDITED}


def _hits(*doc_ids: str) -> list[Hit]:
    out = []
    for rank, doc_id in enumerate(doc_ids, start=1):
        text = DOCS[doc_id].text
        out.append(Hit(Chunk(f"{doc_id}-0", doc_id, 0, text, 0, len(text)), rank, 1.0))
    return out


@pytest.mark.parametrize(
    ("question", "ranked", "doc", "value", "quote"),
    [
        # The dateline states the day and the agency.
        (
            "这篇报道是什么时候发布的？",
            ("n", "c"),
            "n",
            "2024-01-11",
            "新华社北京1月11日电（记者王小明、李华）",
        ),
        # An issue line prints the full date and the paper; the body's 人民日报 is no source line.
        (
            "这篇评论是什么时候发表的？",
            ("c", "n"),
            "c",
            "2024-03-05",
            "《人民日报》（2024年03月05日05版）",
        ),
        (
            "这篇评论刊登在哪家报纸？",
            ("c", "n"),
            "c",
            "人民日报",
            "《人民日报》（2024年03月05日05版）",
        ),
        # A quoted title names the article, whatever ranks first.
        (
            "《让乡村产业更有活力》是什么时候发表的？",
            ("n", "c"),
            "c",
            "2024-03-05",
            "《人民日报》（2024年03月05日05版）",
        ),
        # The editors' line closing the article; the topic (青山村) names the article.
        (
            "青山村这篇报道的责任编辑是谁？",
            ("n", "e"),
            "e",
            "周敏、吴迪",
            "（责任编辑：周敏 吴迪）",
        ),
        # The title is the metadata's; this text does not print it.
        (
            "What is the title of Zhao Mingyuan's article?",
            ("n", "c"),
            "c",
            "让乡村产业更有活力",
            "",
        ),
    ],
)
def test_find_fact_quotes_the_text_that_states_it(question, ranked, doc, value, quote):
    found = metadata.find_fact(question, _hits(*ranked), DOCS)
    assert found is not None
    assert (found.document.doc_id, found.value, found.quote) == (doc, value, quote)
    # A verbatim slice of the text people see, at its offsets.
    assert found.document.text[found.start : found.end] == quote


def test_an_official_documents_own_number_not_one_it_cites():
    notice = Document(
        doc_id="d",
        title="关于做好招生入学工作的通知",
        text="南教基〔2025〕12号\n各设区市教育局：\n根据《关于义务教育的意见》（国办发〔2024〕3号），现通知如下。",
    )
    found = metadata.find_fact("这份通知的文号是什么？", [_hits_for(notice)], {"d": notice})
    assert (found.kind, found.value, found.quote) == (
        "docno",
        "南教基〔2025〕12号",
        "南教基〔2025〕12号",
    )
    assert metadata.fact_line(found, english=True) == "Document number: 南教基〔2025〕12号. "
    # A document printing no number of its own has none to give.
    cites_only = Document(doc_id="c", title="评论", text="正文。" * 150 + "（国办发〔2024〕3号）")
    assert (
        metadata.find_fact("这份文件的文号是什么？", [_hits_for(cites_only)], {"c": cites_only})
        is None
    )


def test_an_article_question_naming_no_article():
    assert metadata.names_no_article("这篇报道的记者是谁？", DOCS)
    assert metadata.names_no_article("When was the article published?", DOCS)
    # A topic, an author or a title says which article is meant.
    assert not metadata.names_no_article("这篇关于新能源汽车的报道是谁写的？", DOCS)
    assert not metadata.names_no_article("赵明远的文章是什么时候发表的？", DOCS)
    assert not metadata.names_no_article("《让乡村产业更有活力》是什么时候发表的？", DOCS)
    assert not metadata.names_no_article("新能源汽车出口了多少辆？", DOCS)  # not about an article


def test_fact_lines_say_where_the_value_comes_from():
    dated = metadata.find_fact("这篇报道是什么时候发布的？", _hits("n"), DOCS)
    assert metadata.fact_line(dated, english=False) == "发布日期：2024年1月11日。"
    assert metadata.fact_line(dated, english=True) == "Published: 2024-01-11. "
    titled = metadata.find_fact("这篇文章的标题是什么？", _hits("c"), DOCS)
    assert metadata.fact_line(titled, english=False).endswith("（据文档的元数据，正文未载明）")
    assert metadata.find_fact("这篇文章是什么时候发表的？", _hits("u"), {"u": UNDATED}) is None
    # Not another article's date when the best-ranked one, which the question means, has none.
    assert metadata.find_fact("When was the article published?", _hits("u", "n"), DOCS) is None
    assert metadata.find_fact("职业伤害保障试点有哪四个亮点？", _hits("n"), DOCS) is None
    edited = metadata.find_fact("Who edited this story?", _hits("e"), DOCS)
    assert metadata.fact_line(edited, english=True) == "Editor: 周敏、吴迪. "
    # An article whose page names no editor is no answer, nor is another article's editor.
    assert metadata.find_fact("这篇报道的责任编辑是谁？", _hits("n", "e"), DOCS) is None


def test_reporters_in_a_dateline_are_an_author_note():
    start, end = bylines.note_span(NEWS_DOC)
    assert NEWS_DOC.text[start:end] == "（记者王小明、李华）"
    assert bylines.asks_about_author("这篇报道的记者是谁？", DOCS)
    assert bylines.asks_about_author("Who reported this story?", DOCS)


# ---- end to end, real model -------------------------------------------------------------------
@pytest.fixture(scope="module")
def news_engine(real_encoder, tmp_path_factory):
    from rag.engine import Engine, EngineConfig

    config = EngineConfig(index_dir=tmp_path_factory.mktemp("news") / "default", corpus=NEWS_CORPUS)
    engine = Engine(config, encoder=real_encoder)
    engine.warm_up()
    return engine


def _check_citations(engine, answer):
    docs = {d.doc_id: d for d in engine.documents()}
    for c in answer.citations:
        assert docs[c.doc_id].text[c.start : c.end] == c.quote


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "lead", "quoted"),
    [
        ("这篇关于新能源汽车的新闻是谁写的？", "作者：王小明、李华。", "（记者王小明、李华）"),
        (
            "Who reported the story on new energy vehicles?",
            "Author: 王小明, 李华.",
            "（记者王小明、李华）",
        ),
        ("赵明远在哪个单位工作？", "作者：赵明远。", "（作者系中国农业大学经济管理学院教授）"),
        # The page's credit line under the headline states the date and the paper.
        (
            "《让乡村产业更有活力》是什么时候发表的？",
            "发布日期：2024年3月5日。",
            "2024年03月05日05:32 |来源：人民日报",
        ),
        (
            "这篇关于新能源汽车的报道是什么时候发布的？",
            "发布日期：2024年1月11日。",
            "2024年01月11日10:05 |来源：新华网",
        ),
        (
            "这篇关于乡村产业的评论刊登在哪家报纸？",
            "来源：人民日报。",
            "2024年03月05日05:32 |来源：人民日报",
        ),
        # An official document's issuer, from its signature (落款), with the date under it.
        (
            "这份关于养老服务的意见是哪个部门什么时候发布的？",
            "发布单位：国务院办公厅。",
            "2024年1月15日",
        ),
        ("Who issued the opinion on elderly care?", "Issued by: 国务院办公厅.", "国务院办公厅"),
        # Its number (文号), printed under its title.
        ("这份关于养老服务的意见的文号是什么？", "文号：国办发〔2024〕5号。", "国办发〔2024〕5号"),
        # Words naming the kind of answer (担任, 职务) no longer make the flag say "not found".
        ("陈士华担任什么职务？", "", "中国汽车工业协会副秘书长陈士华表示"),
    ],
)
def test_news_page_questions_about_the_article(news_engine, question, lead, quoted):
    answer = news_engine.ask(question, top_k=5)
    assert answer.answerable, answer.text
    assert lead in answer.text
    assert quoted in answer.citations[0].quote
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "这份意见提出了哪些重点任务？",
        "重点任务有哪四项？",
        "What are the key tasks set out in the opinion?",
    ],
)
def test_a_heading_that_names_the_list_is_answered_by_its_items(news_engine, question):
    # 二、重点任务 states no task; the points numbered （一）…（四） under it do.
    answer = news_engine.ask(question, top_k=5)
    items = [c.quote for c in answer.citations]
    assert [q[:3] for q in items] == ["（一）", "（二）", "（三）", "（四）"]
    assert "二、重点任务" not in answer.text
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        # The year is evidence where 实现 and 目标 are paraphrased (全面建成…).
        ("到2035年养老服务要实现什么目标？", "到2035年，全面建成覆盖城乡的养老服务体系"),
        # A document without a published date: its signature line says when.
        ("这份关于养老服务的文件是什么时候印发的？", "2024年1月15日"),
        ("When was the document on elderly care issued?", "2024年1月15日"),
        # Its signature names the body that issued it.
        ("这份关于养老服务的意见是哪个部门发布的？", "国务院办公厅"),
        ("Which department issued the opinion on elderly care?", "国务院办公厅"),
    ],
)
def test_policy_document_questions_are_answered(news_engine, question, quoted):
    answer = news_engine.ask(question, top_k=5)
    assert answer.answerable, answer.text
    assert quoted in answer.citations[0].quote
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "lead", "quoted"),
    [
        ("这篇关于乡村产业的评论的责任编辑是谁？", "责任编辑：孙悦。", "（责任编辑：孙悦）"),
        (
            "Who edited the story on new energy vehicle sales?",
            "Editor: 张伟.",
            "（责任编辑：张伟）",
        ),
        # Printed after the body, outside the element the extractor reads.
        ("国家统计局那篇数据发布的责任编辑是谁？", "责任编辑：王晓东。", "责任编辑：王晓东"),
    ],
)
def test_the_editor_of_the_article_a_question_names(news_engine, question, lead, quoted):
    # The page's editor line is kept in the text people read, and quoted.
    answer = news_engine.ask(question, top_k=5)
    assert answer.answerable, answer.text
    assert lead in answer.text
    assert [c.quote for c in answer.citations] == [quoted]
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "note", "lead"),
    [
        ("这篇报道是什么时候发布的？", ANY_ARTICLE_ZH, "发布日期："),
        ("Who wrote the article?", ANY_ARTICLE_EN, "Author: "),
    ],
)
def test_an_article_question_naming_no_article_is_answered_by_each(
    news_engine, question, note, lead
):
    # Several articles could be "this report": each that states what is asked answers, on a
    # line of its own under its title, with its own citation.
    answer = news_engine.ask(question, top_k=5)
    lines = answer.text.splitlines()
    assert note in lines
    answers = [line for line in lines if line.startswith("《")]
    assert len(answers) == len(answer.citations) >= 2
    titles = {d.title for d in news_engine.documents()}
    for line in answers:
        title, rest = line[1:].split("》", 1)
        assert title in titles and rest.startswith(lead)
    assert len({c.doc_id for c in answer.citations}) == len(answer.citations)
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "这篇报道提到的红烧肉怎么做？",
        "谁写了关于红烧肉的文章？",
        "2022年卡塔尔世界杯的冠军是哪支球队？",
    ],
)
def test_news_page_off_topic_questions_stay_not_found(news_engine, question):
    assert not news_engine.ask(question, top_k=5).answerable


@pytest.mark.slow
def test_article_date_over_http(news_engine):
    from tests.conftest import serve

    with serve(news_engine) as server:
        request = urllib.request.Request(
            f"{server.url}/ask",
            data=json.dumps(
                {"question": "When was the article on rural industries published?"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
    assert "Published: 2024-03-05." in body["answer"]
    citation = body["citations"][0]
    assert citation["quote"] == "2024年03月05日05:32 |来源：人民日报"


@pytest.mark.parametrize(
    ("text", "published"),
    [
        # An official document's signature: issuer and date, lines joined or not.
        ("正文第一段。\n正文第二段。\n国务院办公厅\n2024年1月15日", "2024-01-15"),
        (
            "正文第一段。\n正文第二段。\n正文第三段。\n正文第四段。\n国务院办公厅2024年1月15日",
            "2024-01-15",
        ),
        # A date inside the closing sentence is a date the text talks about.
        ("正文第一段。\n正文第二段。\n正文第三段。\n正文第四段。\n大会于2024年1月15日闭幕。", ""),
    ],
)
def test_a_signature_date_dates_an_official_document(text, published):
    from rag.parsing.dates import find_published

    assert find_published(text) == published


@pytest.mark.parametrize(
    ("text", "issuer", "quote"),
    [
        ("正文。\n\n南京市鼓楼区住房保障和房产局\n2024年5月20日\n", "南京市鼓楼区住房保障和房产局",
         "南京市鼓楼区住房保障和房产局\n2024年5月20日"),
        ("正文。\n  国务院办公厅 2024年1月15日  \n", "国务院办公厅", "国务院办公厅 2024年1月15日"),
        ("正文。\n记者王小明报道。\n2024年1月15日", None, None),  # a sentence, no issuer
        ("正文。\n大会于2024年1月15日闭幕。", None, None),
        ("正文。\n李明\n2024年1月15日", None, None),  # a person signs no official document
    ],
)  # fmt: skip
def test_the_signature_names_the_issuing_body(text, issuer, quote):
    from rag.parsing.metadata import read_signature

    signed = read_signature(text)
    if issuer is None:
        assert signed is None
        return
    assert signed.issuer == issuer and text[signed.start : signed.end] == quote


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "quoted"),
    [
        # The reporter's turn (法新社记者：…中方对此有何评论？) restates the question.
        ("中方对欧盟电动汽车反补贴调查有何评论？", "典型的保护主义行为"),
        ("中方会参加瑞士的乌克兰和平峰会吗？", "中方将根据自己的判断决定是否参会"),
    ],
)
def test_a_press_conference_answer_leads_not_the_reporters_question(news_engine, question, quoted):
    answer = news_engine.ask(question, top_k=5)
    first = answer.citations[0].quote
    assert quoted in first and "记者" not in first
    _check_citations(news_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["一季度GDP同比增长多少？", "一季度GDP环比增长多少？"])
def test_an_acronym_finds_the_words_it_stands_for(news_engine, question):
    # The release writes 国内生产总值, never GDP; 工业增加值 shares the question's other words.
    answer = news_engine.ask(question, top_k=5)
    assert "国内生产总值" in answer.citations[0].quote
    _check_citations(news_engine, answer)


def test_questions_in_the_text_are_not_answers():
    from rag.answering.extractive import _asks, _Candidate
    from rag.answering.sentences import Sentence

    doc = Document(
        doc_id="t",
        title="例行记者会",
        text="法新社记者：据报道，欧盟将公布初裁结果。中方对此有何评论？\n毛宁：我们注意到有关报道。",
    )
    hit = _hits_for(doc)

    def candidate(sentence: str) -> _Candidate:
        start = doc.text.index(sentence)
        return _Candidate(Sentence(sentence, start, start + len(sentence)), "t", hit, 1, 0, False)

    documents = {"t": doc}
    assert _asks(candidate("中方对此有何评论？"), documents)  # a question
    assert _asks(candidate("法新社记者：据报道，欧盟将公布初裁结果。"), documents)  # its turn
    assert not _asks(candidate("毛宁：我们注意到有关报道。"), documents)


POLICY_QA = Document(
    doc_id="q",
    title="《南湖市新就业形态劳动者职业伤害保障办法》政策问答",
    text=(
        "问：《办法》适用于哪些人员？\n"
        "答：根据《办法》第三条，本市依托平台企业、以平台派单方式从事劳动的新就业形态劳动者，"
        "不论是否签订劳动合同，均纳入保障。\n"
        "问：哪些情形可以认定为职业伤害？\n"
        "答：《办法》第九条规定了三种情形，一是在执行平台订单任务期间受到事故伤害的。\n"
        "问：发生职业伤害后如何申请认定？\n"
        "答：按照《办法》第十二条，劳动者应当自事故发生之日起30日内提出确认申请。"
    ),
)


def test_the_reply_to_the_texts_own_question_is_found():
    from rag.answering.extractive import _asks, _gather, _reply_to_same_question

    documents = {"q": POLICY_QA}
    candidates = _gather([_hits_for(POLICY_QA)], documents)
    asking = [_asks(c, documents) for c in candidates]
    assert sum(asking) == 3

    def features(close: str, dense: float, words: float) -> list[tuple]:
        return [
            (dense, words, 1.0, 0.0, 1.0) if c.text.startswith(close) else (0.5, 0.5, 1.0, 0.0, 1.0)
            for c in candidates
        ]

    # The text asks the user's question (closest in meaning and in words): its reply, the
    # paragraph after it.
    found = _reply_to_same_question(
        candidates, features("问：《办法》适用", 1.0, 1.0), asking, documents
    )
    assert found is not None and found.text.startswith("答：根据《办法》第三条")
    found = _reply_to_same_question(
        candidates, features("问：发生职业伤害", 1.0, 0.96), asking, documents
    )
    assert found is not None and found.text.startswith("答：按照《办法》第十二条")
    # A question in the text only somewhat like the user's has no say.
    assert (
        _reply_to_same_question(
            candidates, features("问：《办法》适用", 0.6, 1.0), asking, documents
        )
        is None
    )
    assert (
        _reply_to_same_question(
            candidates, features("问：《办法》适用", 1.0, 0.5), asking, documents
        )
        is None
    )


@pytest.mark.slow
@pytest.mark.parametrize("question", ["《办法》适用于哪些人员？", "哪些人员适用这个办法？"])
def test_a_policy_qa_question_is_answered_by_its_reply(real_encoder, question):
    from rag.answering.extractive import ExtractiveAnswerer
    from rag.types import SearchResult

    documents = {"q": POLICY_QA}
    result = SearchResult(question, "hybrid", (_hits_for(POLICY_QA),), answerable=True)
    answer = ExtractiveAnswerer(real_encoder).answer(question, result, documents)
    assert answer.citations[0].quote.startswith("答：根据《办法》第三条"), answer.text
    assert not any(c.quote.startswith("问：") for c in answer.citations)


def _hits_for(doc: Document) -> Hit:
    return Hit(Chunk(f"{doc.doc_id}-0", doc.doc_id, doc.title, doc.text, 0, len(doc.text)), 1, 1.0)


def test_bylines_closing_an_article_and_interview_turns():
    from rag.parsing.metadata import is_meta_line, split_meta_lines

    lines = [
        "我国科学家研制出新型电池",
        "正文。",
        "记者：这项成果最大的突破在哪里？",
        "张教授：界面。",
        "（本报记者 陈曦 通讯员 刘畅）",
    ]
    drop, meta = split_meta_lines(lines)
    # The closing byline names the reporters; 通讯员 is a role, not a name.
    assert meta.authors == ("陈曦", "刘畅")
    # An interviewer's question is a turn of the text, not a 记者： byline.
    assert 2 not in drop and not is_meta_line("记者：这项成果最大的突破在哪里？")
    assert is_meta_line("记者：陈曦")
    doc = Document(doc_id="x", title="t", text="正文。\n（本报记者 陈曦 通讯员 刘畅）")
    start, end = bylines.note_span(doc)
    assert doc.text[start:end] == "（本报记者 陈曦 通讯员 刘畅）"


def test_the_acronyms_of_a_chinese_question_are_looked_up():
    from rag.index.crosslingual import DICTIONARY, Dictionary

    assert DICTIONARY.acronym_terms("一季度GDP同比增长多少？", {"国内生产总值", "增长"}) == {
        "gdp": ["国内生产总值"]
    }
    assert DICTIONARY.acronym_terms("一季度GDP同比增长多少？", {"增长"}) == {}
    # A question without an acronym (the searcher's warm-up: 预热 warm-up) never loads
    # CC-CEDICT, so a service asked in Chinese alone does not pay for it.
    fresh = Dictionary()
    assert fresh.acronym_terms("预热 warm-up", {"预热"}) == {}
    assert fresh._exact is None


@pytest.mark.parametrize(
    ("question", "english"),
    [
        ("When was it published?", True),
        ("What is 职业伤害保障?", True),
        ("Who reported 这篇关于新能源汽车?", True),  # a follow-up resolved with its topic
        ("一季度GDP同比增长多少？", False),  # an acronym is no English
        ("这篇报道是谁写的？", False),
    ],
)
def test_the_language_a_question_is_asked_in(question, english):
    from rag.lexicon import asked_in_english

    assert asked_in_english(question) is english


@pytest.mark.slow
def test_an_english_follow_up_about_the_article_is_answered_in_english(news_engine):
    from rag.types import Turn

    first = news_engine.ask("这篇关于新能源汽车的报道是谁写的？")
    history = (Turn("这篇关于新能源汽车的报道是谁写的？", first.text, first.citations),)
    answer = news_engine.ask("When was it published?", history=history)
    assert "Published: 2024-01-11." in answer.text
    assert answer.citations[0].quote == "2024年01月11日10:05 |来源：新华网"
    _check_citations(news_engine, answer)


# ---- bylines the page prints outside the article body ------------------------------------------
def test_a_byline_in_the_page_furniture_is_read_and_a_related_list_is_not():
    from rag.parsing.webpage import parse_html

    page = NEWS_QA.parent / "news-qa2" / "c_market_ev.html"
    doc = parse_html(page.read_bytes(), str(page))
    # <div class="meta">2024年04月25日 14:06 东方财讯网 作者：赵一鸣</div>, which the extractor
    # drops with the headline's furniture: read, and kept as the text's first line (a credit
    # line people read, and the one a question about the author quotes).
    assert doc.authors == ("赵一鸣",)
    assert doc.published == "2024-04-25"
    assert doc.text.splitlines()[0] == "2024年04月25日14:06东方财讯网作者：赵一鸣"
    assert doc.text.splitlines()[1].startswith("东方财讯网讯")
    # A line of the text: its line number is where it stands in the text people read.
    assert doc.line_at(0) == 1 and doc.line_at(len(doc.text.splitlines()[0]) + 1) == 2

    body = "".join(
        f"<p>{s}</p>" for s in ["今年一季度，全市新增城镇就业3.2万人，同比增长5%。" * 3] * 4
    )
    related = '<ul class="related"><li><div>相关阅读</div><div>作者：李四</div></li></ul>'
    html = (
        "<html><head><title>就业稳中向好</title></head><body><article><h1>就业稳中向好</h1>"
        f'<div class="article-body">{body}</div></article>{related}</body></html>'
    )
    assert parse_html(html.encode(), "p.html").authors == ()
    # A sidebar printed before the headline names another article's author.
    sidebar = "<aside><div>作者：王五</div></aside>"
    html = html.replace("<article>", f"{sidebar}<article>").replace(
        "<h1>就业稳中向好</h1>",
        '<h1>就业稳中向好</h1><div class="meta">2024年04月25日 作者：赵一鸣</div>',
    )
    assert parse_html(html.encode(), "p.html").authors == ("赵一鸣",)


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("（责任编辑：周敏 吴迪）", ("周敏", "吴迪")),
        ("【编辑：赵六 校对：孙七】", ("赵六",)),  # the proofreader is not an editor
        ("责编：王五", ("王五",)),
        ("2024-04-18 09:32:15 来源：新华网 责任编辑：周敏", ("周敏",)),
        ("总编辑：张三", ()),  # the paper's editor-in-chief, not the article's
        ("来源：新华网", ()),
    ],
)
def test_the_editors_a_metadata_line_names(line, names):
    from rag.parsing.metadata import editors

    assert editors(line) == names


def test_an_editor_line_under_the_title_or_after_the_body_is_read_and_a_related_list_is_not():
    from rag.parsing.webpage import parse_html

    # <span class="editor">责任编辑：周敏</span> in the line under the headline.
    page = NEWS_QA.parent / "news-qa2" / "b_xinhua_village.html"
    assert parse_html(page.read_bytes(), str(page)).editors == ("周敏",)
    # <div class="editor">责任编辑：王晓东</div> after the body, which the extractor drops: read,
    # and kept as the text's last line; the date line inside the article's container (<div
    # class="article"> holds the headline, the date line and the body) as its first.
    page = NEWS_QA / "a_stats.html"
    doc = parse_html(page.read_bytes(), str(page))
    assert doc.editors == ("王晓东",)
    lines = doc.text.splitlines()
    assert (lines[0], lines[-1]) == ("2024年04月16日10:00 |来源：国家统计局", "责任编辑：王晓东")
    # An element and the spans inside it print the same credit once.
    page = NEWS_QA.parent / "news-qa2" / "e_intl_report.html"
    lines = parse_html(page.read_bytes(), str(page)).text.splitlines()
    assert lines[0] == "2024-05-13 10:21来源：参考消息网"
    assert lines[1].startswith("参考消息网5月13日报道")

    body = "".join(
        f"<p>{s}</p>" for s in ["今年一季度，全市新增城镇就业3.2万人，同比增长5%。" * 3] * 4
    )
    # A list of other articles after the body, with their own editors, is not this one's.
    related = "".join(f"<li><div>相关阅读{i}</div></li>" for i in range(6))
    related = f'<ul class="related">{related}<li><div>责任编辑：李四</div></li></ul>'
    html = (
        "<html><head><title>就业稳中向好</title></head><body><article><h1>就业稳中向好</h1>"
        f'<div class="article-body">{body}</div></article>{related}</body></html>'
    )
    assert parse_html(html.encode(), "p.html").editors == ()
    closing = '<div class="editor">（责任编辑：王五）</div></article>'
    html = html.replace("</article>", closing, 1)
    assert parse_html(html.encode(), "p.html").editors == ("王五",)


AUTHORLESS_NOTE = Document(
    doc_id="e",
    title="一季度电动两轮车销量同比增长18%",
    text="东方财讯网讯 一季度国内电动两轮车销量达到1260万辆。",
    authors=("赵一鸣",),
    published="2024-04-25",
)


def test_an_author_question_takes_the_article_its_topic_names_even_without_a_note():
    docs = {"n": NEWS_DOC, "e": AUTHORLESS_NOTE}
    hits = [
        Hit(Chunk(f"{d.doc_id}-0", d.doc_id, d.title, d.text, 0, len(d.text)), rank, 1.0)
        for rank, d in enumerate((NEWS_DOC, AUTHORLESS_NOTE), start=1)
    ]
    for question in (
        "电动两轮车销量那篇报道的作者是谁？",
        "Who wrote the report on electric two-wheeler sales?",
    ):
        found = metadata.find_author_note(question, hits, docs)
        assert found is not None and found.document is AUTHORLESS_NOTE, question
        assert found.start == found.end  # no text names the author: only the metadata does
    # Without a topic, the best-ranked article with a byline.
    found = metadata.find_author_note("这篇报道的记者是谁？", hits, docs)
    assert found.document is NEWS_DOC and found.quote == "（记者王小明、李华）"

    from rag.answering.extractive import ExtractiveAnswerer
    from rag.types import SearchResult

    result = SearchResult(query="q", mode="hybrid", hits=tuple(hits), answerable=True)
    answer = ExtractiveAnswerer().answer("电动两轮车销量那篇报道的作者是谁？", result, docs)
    assert answer.text == "作者：赵一鸣。（据文档的元数据，正文未载明）"
    assert answer.citations == () and answer.passages[0].chunk.doc_id == "e"
    english = ExtractiveAnswerer().answer(
        "Who wrote the report on electric two-wheeler sales?", result, docs
    )
    assert "Author: 赵一鸣. (from the document's metadata" in english.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("这篇文章的作者是谁？", True),
        ("论文第一作者是谁？", False),  # the paper the article reports on
        ("这项研究的通讯作者是谁？", False),
        ("Who is the first author of the paper?", False),
        ("Who wrote this article?", True),
    ],
)
def test_the_author_of_a_work_reported_on_is_not_the_articles(question, expected):
    assert bylines.asks_about_author(question, DOCS) is expected


@pytest.fixture(scope="module")
def report_engine(real_encoder, tmp_path_factory):
    from rag.engine import Engine, EngineConfig

    pages = (
        NEWS_QA.parent / "news-qa2" / name for name in ("a_gov_report.txt", "c_market_ev.html")
    )
    config = EngineConfig(
        index_dir=tmp_path_factory.mktemp("report") / "default", corpus=tuple(pages)
    )
    engine = Engine(config, encoder=real_encoder)
    engine.warm_up()
    return engine


@pytest.mark.slow
def test_a_heading_behind_the_best_sentence_names_the_list(report_engine):
    # The best sentence sits inside the second point; the heading 三、2024年重点工作 close behind
    # it names the list, so its five points 一是…五是 are the answer, in order.
    answer = report_engine.ask("2024年江川省重点工作有哪几项？", top_k=5)
    assert [c.quote[:2] for c in answer.citations] == ["一是", "二是", "三是", "四是", "五是"]
    assert "三、2024年重点工作" not in answer.text
    _check_citations(report_engine, answer)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["一季度销量前五的品牌有哪些？", "What are the top five e-bike brands by sales in Q1?"],
)
def test_a_ranking_is_a_list_and_its_top_n_a_count(report_engine, question):
    # 第一名雅驰电动，…； one line a place: the top five are its first five lines.
    answer = report_engine.ask(question, top_k=5)
    assert [c.quote[:3] for c in answer.citations] == [
        "第一名",
        "第二名",
        "第三名",
        "第四名",
        "第五名",
    ]
    _check_citations(report_engine, answer)


@pytest.mark.parametrize(
    ("question", "nth"),
    [
        ("江川省今年重点工作的第一项是什么？", 1),
        ("四个亮点中的第二个是什么？", 2),
        ("What is the third of the key tasks?", 3),
        ("中国第一个经济特区是哪里？", 0),  # names a thing; no list before the ordinal
        ("第一批试点企业有哪些？", 0),
        ("Who was the first person to walk on the moon?", 0),
    ],
)
def test_an_item_asked_for_by_its_place_in_a_named_list(question, nth):
    from rag.lexicon import listed_ordinal

    assert listed_ordinal(question) == nth


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("江川省今年重点工作的第一项是什么？", "一是加快建设现代化产业体系。实施制造业"),
        ("江川省今年重点工作中的第三项是什么？", "三是深化重点领域改革。推进省属国有企业"),
        ("What is the first of the key tasks for 2024?", "一是加快建设现代化产业体系。"),
    ],
)
def test_the_nth_point_of_a_list_is_quoted_with_what_it_says(report_engine, question, opening):
    answer = report_engine.ask(question, top_k=5)
    assert answer.citations[0].quote.startswith(opening)
    _check_citations(report_engine, answer)


@pytest.mark.slow
def test_a_follow_up_picks_a_place_of_the_ranking(report_engine):
    from rag.types import Turn

    first = report_engine.ask("一季度销量前五的品牌有哪些？", top_k=5)
    history = (Turn("一季度销量前五的品牌有哪些？", first.text, first.citations),)
    second = report_engine.ask("第二名呢？", top_k=5, history=history)
    assert second.citations[0].quote.startswith("第二名爱途")
    _check_citations(report_engine, second)


def test_a_plain_article_keeps_its_metadata_lines_and_names_its_author():
    from rag.parsing.loaders import parse_plain

    raw = (
        "一季度电动两轮车销量同比增长18%\n\n"
        "2024年04月25日 14:06　来源：东方财讯网　作者：赵一鸣\n\n"
        "东方财讯网讯 一季度国内电动两轮车销量达到1260万辆。\n"
    )
    doc = parse_plain(raw, "ev.txt")
    assert doc.authors == ("赵一鸣",) and doc.site == "东方财讯网"
    assert doc.published == "2024-04-25"
    # The line stays in the text people read, and is the byline an author question quotes.
    start, end = bylines.note_span(doc)
    assert "作者：赵一鸣" in doc.text[start:end]


def test_a_speech_names_its_speaker_by_office():
    from rag.parsing.loaders import parse_plain

    raw = (
        "2024年江川省人民政府工作报告\n"
        "——2024年1月22日在江川省第十四届人民代表大会第二次会议上\n"
        "江川省省长 陈立华\n\n"
        "各位代表：\n\n过去一年，全省经济社会发展取得新成效。\n"
    )
    doc = parse_plain(raw, "report.txt")
    assert doc.authors == ("陈立华",)
    start, end = bylines.note_span(doc)
    assert doc.text[start:end].endswith("江川省省长陈立华")
    for question in ("这份政府工作报告是谁作的？", "Who delivered the government work report?"):
        assert bylines.asks_about_author(question, {"r": doc}), question
    # Who delivered the parcels asks about the article's people, not its author.
    assert not bylines.asks_about_author("Who delivered the parcels?", {"r": doc})
    # A sentence of the body naming an author is no byline.
    long_doc = Document(
        "l", "t", "正文第一句。" * 10 + "赵一鸣说，销量会增长。", authors=("赵一鸣",)
    )
    assert bylines.note_span(long_doc) is None


def test_the_evaluation_cache_is_keyed_on_the_documents_metadata_too(tmp_path, monkeypatch):
    from rag.embedding.fake import HashEncoder
    from rag.engine import EngineConfig
    from rag.evaluation import runner
    from rag.evaluation.runner import cached_index

    monkeypatch.setattr(runner, "make_encoder", lambda config, progress=False: HashEncoder())
    config = EngineConfig(index_dir=tmp_path / "unused")
    plain = Document("d", "标题", "正文一句话。")
    cached_index("t", [plain], config, tmp_path)
    index = cached_index(
        "t", [Document("d", "标题", "正文一句话。", authors=("张三",))], config, tmp_path
    )
    assert index.documents["d"].authors == ("张三",)
    assert len(list(tmp_path.iterdir())) == 2
