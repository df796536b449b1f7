"""Questions about the article itself, and where its text states the answer.

Chinese news prints its authors in a note (``（作者为…）``, ``（作者单位：…）``) or in the dateline
(``新华社北京1月11日电（记者王小明、李华）``); a question about the author, the author's position
or unit is answered from it. A question may also ask when the article was published, where it
comes from or what its title is (:func:`asked_fact`). Both the searcher (which ranks the note's
chunk first for an author question, and treats a question about "this article" as covered by
the corpus) and the answerer (which quotes the note) read it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from rag.index.pinyin import mentions
from rag.lexicon import asked_in_english, fold
from rag.types import Chunk, Document

_ABOUT_AUTHOR = re.compile(
    r"作者|谁写|撰写|执笔|记者|author|wrote|writer|written by|reporter|journalist|correspondent|"
    r"reported|"
    # The speaker of a speech or a work report: 报告是谁作的？ Who delivered the report?
    r"谁作的|由谁作|谁所作|作(?:的)?(?:报告|讲话)|"
    r"\b(?:deliver(?:ed|s)?|gave|give|made) (?:the|this|that) (?:\w+ ){0,3}"
    r"(?:speech|report|address|remarks)\b",
    re.IGNORECASE,
)
_ASKS = re.compile(
    r"是谁|谁写|哪位|是什么人|叫什么名字|职务|职位|任职|担任什么|担任哪|头衔|身份|哪个单位|什么单位|"
    r"哪个机构|哪家单位|在哪.{0,3}工作|来自哪|\bwho\b|position|\bposts?\b|\brole|\bjob\b|"
    r"affiliat|organi[sz]ation|work(?:s|ed)? (?:for|at)|institution|\bunit\b|"
    # An academic author's unit asked by where they teach: 在哪所大学任教, which university.
    r"任教|执教|来自哪所|\bteach(?:es|ing)? at\b|"
    r"\bwhich (?:university|college|school|institute)\b[^?]{0,60}?\b(?:teach\w*|work\w*|from|"
    r"belong\w*)\b|"
    r"\bwhere (?:does|did|do) [^?]{1,60}?\b(?:work|teach)\b",
    re.IGNORECASE,
)
#: An author note (（作者为…）, （本文作者系…）) or a dateline's reporters (…电（记者王小明、李华）).
NOTE = re.compile(r"[(（]\s*(?:本文|本报|本刊)?(?:特约)?(?:作者|记者)[^()（）\n]{1,120}[)）]")

# ---- what a question asks about the article itself ---------------------------------------------
#: The kinds of official document a body issues and signs (关于养老服务的意见, 加装电梯的通知).
OFFICIAL_KINDS = (
    "通知",
    "公告",
    "通告",
    "意见",
    "办法",
    "方案",
    "规定",
    "通报",
    "公报",
    "决定",
    "条例",
    "细则",
)
_OFFICIAL = "|".join(OFFICIAL_KINDS)
#: Words by which a question points at the article itself.
_SELF = (
    r"(?:这篇|本篇|该篇|此篇|这则|这条)(?:文章|报道|新闻|评论|社论|述评|通讯|稿件|消息)?|"
    r"(?:这份|该份|此份|本份|这个|该)(?:文件|意见|通知|公告|决定|办法|方案|规定|报告|通报|数据|新闻稿|公报)|"
    r"本文|该文|此文|原文|文章|报道|新闻|稿件|消息|评论|社论|文件|"
    # 关于电梯补贴的通知是什么时候发布的？ the kind of document names it too.
    rf"{_OFFICIAL}"
)
_PUBLISHED = r"发表|发布|刊发|刊登|刊出|发稿|见报|推出|写成|撰写|印发|下发|出台|公布"
_WHEN = r"什么时候|何时|哪天|哪一天|哪年|几号|几月几日|什么日期|哪个日期"
_EN_ARTICLE = (
    r"(?:the|this|that|his|her|their|(?:\w+ ){0,3}\w+'s) (?:article|story|report|piece|news|op-ed|"
    r"commentary|editorial|document|notice|circular|opinion|guideline)s?"
    r"(?: (?:on|about|by|of|from) [^?]{0,60}?)?"
)
# Each anchored on the article as the subject: 文章中提到的政策是什么时候发布的？ asks about the
# policy, not the article; 报道提到的资金来源 about the money.
_FACTS = {
    "date": re.compile(
        rf"(?:{_SELF})(?:是|于|在|的|最初|首次|最早){{0,2}}(?:{_WHEN}).{{0,4}}(?:{_PUBLISHED})|"
        rf"(?:{_SELF})(?:{_PUBLISHED})(?:于|在|的)?(?:{_WHEN})|"
        rf"(?:{_SELF})的?(?:{_PUBLISHED})(?:日期|时间)|"
        rf"\bwhen (?:was|were|is) {_EN_ARTICLE} (?:first )?(?:published|written|released|posted|"
        rf"run|dated|issued)\b|\b(?:publication|release) date of {_EN_ARTICLE}",
        re.IGNORECASE,
    ),
    "source": re.compile(
        rf"(?:{_SELF})的?(?:来源|出处)|(?:{_SELF})(?:来源于|来自|出自|刊登在|刊发在|发表在|发布在)"
        rf"(?:哪|什么)|(?:{_SELF}).{{0,6}}(?:哪家媒体|哪个媒体|什么媒体|哪家报|哪份报|哪个网站|"
        rf"哪家网站|哪家通讯社|哪个通讯社)|\bsource of {_EN_ARTICLE}|"
        rf"\bwhich (?:newspaper|paper|publication|outlet|media outlet|website|site|news agency)"
        rf"\b.{{0,40}}\b(?:publish|run|carr|print|release)|\bwhere (?:was|were|is) {_EN_ARTICLE} "
        rf"(?:published|from|printed|run)\b|\bwho published {_EN_ARTICLE}",
        re.IGNORECASE,
    ),
    # Who issued a notice, a circular, an opinion: 这个通知是哪个部门发布的？ 这份文件的发文
    # 机关是？ Who issued this notice? Read from the document's signature (落款).
    "issuer": re.compile(
        rf"(?:{_SELF}|{_OFFICIAL}).{{0,8}}?(?:哪个|哪家|哪一个|什么)(?:部门|单位|机关|机构|政府|部委|组织)"
        rf".{{0,8}}?(?:{_PUBLISHED}|签发|制定|发的)|"
        rf"(?:{_SELF}).{{0,4}}?(?:由谁|是谁)(?:{_PUBLISHED}|签发|制定)|"
        rf"(?:{_SELF})的?(?:发布|印发|发文|制发|签发)(?:单位|机关|部门|机构)|"
        rf"\bwho (?:issued|released|signed) {_EN_ARTICLE}|"
        rf"\bwhich (?:department|agency|authority|body|office|ministry|bureau|government)\b"
        rf"[^?]{{0,40}}\b(?:issue|release|publish|sign)",
        re.IGNORECASE,
    ),
    # The article's editor, which a Chinese news page names (（责任编辑：李四）): 责任编辑 and 责编
    # name that role wherever they stand; a bare 编辑 only of the article (这篇报道的编辑是谁？),
    # not of a book or a magazine the article talks about.
    "editor": re.compile(
        rf"(?:责任编辑|责编).{{0,3}}?(?:是谁|是哪位|叫什么|为何人|有谁)|谁(?:是|担任)?.{{0,6}}?(?:责任编辑|责编)|"
        rf"(?:{_SELF})的?编辑(?:是谁|是哪位|叫什么)|(?:{_SELF}).{{0,4}}?(?:由谁|是谁)编辑|"
        rf"\bwho (?:edited|was the editor of|is the editor of) {_EN_ARTICLE}|"
        rf"\beditor of {_EN_ARTICLE}|\b(?:responsible|duty) editor\b|"
        rf"\bwho (?:was|is) the editor\b(?! of)",
        re.IGNORECASE,
    ),
    # An official document's number (发文字号: 国办发〔2024〕3号), printed under its title.
    "docno": re.compile(
        r"文号|发文字号|发文号|文件编号|文件号|\bdocument (?:number|no\b)|\breference number\b|"
        r"\bfile number\b",
        re.IGNORECASE,
    ),
    "title": re.compile(
        rf"(?:{_SELF})的?(?:标题|题目|篇名)|(?:{_SELF})(?:叫|题为|名为)什么|"
        rf"\b(?:title|headline) of {_EN_ARTICLE}|\bwhat is {_EN_ARTICLE} (?:called|titled)\b|"
        rf"\bwhat (?:title|headline)\b",
        re.IGNORECASE,
    ),
}
# A heading of a part of the article is asked by these, not the article's title.
_PART = re.compile(r"小标题|部分|段落|章节|\bheadings?\b|\bsubtitle|\bsection", re.IGNORECASE)
#: Words of a question about the article itself that say what is asked, not what it is about.
FACT_WORDS_ZH = frozenset(
    "发表 发布 刊发 刊登 刊出 发稿 见报 推出 撰写 标题 题目 篇名 来源 来源于 来自 出处 出自 媒体 网站 报纸 "
    "通讯社 记者 作者 写作 执笔 编辑 责任编辑 责编 文号 发文字号 发文号 文件编号 文件号 原文 文章 篇文章 本文 该文 此文 报道 新闻 稿件 消息 评论 社论 述评 通讯 印发 下发 出台 公布 这份 该份 此份 "
    "文件 意见 通知 公告 决定 办法 方案 规定 通报 数据 新闻稿 公报".split()
)
FACT_WORDS_EN = frozenset(
    """article story report piece news item editorial commentary publish published publication
    release released post posted date dated write written wrote writer author reporter
    journalist correspondent source title titled headline newspaper paper outlet media website
    site agency run document notice circular opinion guideline issue issued editor edited
    responsible duty number reference file""".split()
)


def asked_fact(question: str) -> str | None:
    """What a question asks about the article itself: ``"date"`` (when it was published),
    ``"source"`` (the publication it comes from), ``"issuer"`` (the body that signed an official
    document), ``"editor"`` (责任编辑), ``"docno"`` (an official document's number, 文号),
    ``"title"``, or None.

    The question must point at the article (这篇报道, 本文, the article…): 中汽协何时发布了数据？
    asks about an event the article reports, not about the article.
    """
    q = fold(question)
    # An English follow-up resolved with its Chinese topic (When was 这篇关于新能源汽车
    # published?) points at the article in Chinese.
    if asked_in_english(q):
        q = re.sub(rf"(?:{_SELF})[^\s?？]*", "the article", q)
    for kind, pattern in _FACTS.items():
        if pattern.search(q) and not (kind == "title" and _PART.search(q)):
            return kind
    return None


def about_article_only(question: str, topic_words: Iterable[str]) -> bool:
    """A question about the article itself (its author, date, source or title) that names no
    topic of its own (这篇报道是谁写的？, When was this story published?): it is about the
    article at hand, whatever words the corpus holds. ``topic_words``: the question's content
    words (Chinese words, or English ones once function words are out)."""
    if asked_fact(question) is None and not _ABOUT_AUTHOR.search(fold(question)):
        return False
    return all(w in FACT_WORDS_ZH or w in FACT_WORDS_EN for w in topic_words)


def asks_about_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question asks who wrote an article, or an author's position or unit."""
    return asks_about(question, (n for d in documents.values() for n in d.authors))


# The author of a work the article reports on (论文第一作者是谁？), not of the article.
_OTHER_WORK = re.compile(
    r"第一作者|通讯作者|共同作者|合著者|(?:论文|专著|著作|小说|诗|歌曲|剧本|研究)的?作者|"
    r"\b(?:first|corresponding|lead|co-?)\s?authors?\b|"
    r"\bauthors? of the (?:paper|study|book|novel|research)",
    re.IGNORECASE,
)


def asks_about(question: str, author_names: Iterable[str]) -> bool:
    """:func:`asks_about_author` given the corpus's authors' names (a searcher keeps them)."""
    q = fold(question)
    if not _ASKS.search(q) or _OTHER_WORK.search(q):
        return False
    if _ABOUT_AUTHOR.search(q):
        return True
    return any(mentions(q, name) for name in author_names)


def names_author(question: str, documents: Mapping[str, Document]) -> bool:
    """The question names one of the articles' authors (鲁全担任什么职务？, or in pinyin: What
    positions does Lu Quan hold?)."""
    q = fold(question)
    return any(mentions(q, name) for d in documents.values() for name in d.authors)


def note_span(document: Document) -> tuple[int, int] | None:
    """Where the document's author note is in its text, if it prints one: a note (（作者为…）,
    （记者…）), else a short line near the top naming an author (a kept 作者：赵一鸣 line, a
    speech's 江川省省长陈立华)."""
    text = document.text
    if m := NOTE.search(text):
        return m.start(), m.end()
    for name in document.authors:
        at = text.find(name, 0, _BYLINE_REACH)
        if at < 0:
            continue
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if len(line) <= _BYLINE_CHARS and not any(mark in line for mark in "。！？!?"):
            return start, end
    return None


_BYLINE_REACH = 300  # characters: a byline sits under the title
_BYLINE_CHARS = 80  # a byline line is short and ends no sentence; a body sentence naming the author
# is no byline


def asked_document(
    question: str,
    documents: Mapping[str, Document],
    ranked: Iterable[str],
    has: Callable[[Document], bool] = lambda doc: note_span(doc) is not None,
) -> Document | None:
    """The article a question about an article is about: the one whose author it names, else
    whose title it quotes, else the best-ranked one (``ranked``: document ids, best first);
    the first of these that ``has`` what is asked (by default, an author note)."""
    q = fold(question)
    named = (d for d in documents.values() if any(mentions(q, n) for n in d.authors))
    titled = (d for d in documents.values() if d.title and fold(d.title) in q)
    in_rank = (documents[i] for i in ranked if i in documents)
    for doc in (*named, *titled, *in_rank):
        if has(doc):
            return doc
    return None


def asked_note(
    question: str, documents: Mapping[str, Document], ranked: Iterable[str]
) -> tuple[Document, int, int] | None:
    """The article an author question is about (:func:`asked_document`) and where its author
    note is, or None."""
    doc = asked_document(question, documents, ranked)
    span = note_span(doc) if doc is not None else None
    return (doc, *span) if doc is not None and span is not None else None


def note_chunk(
    question: str,
    documents: Mapping[str, Document],
    ranked: Iterable[str],
    chunks_of: Callable[[str], list[Chunk]],
) -> Chunk | None:
    """The chunk holding the author note of the article an author question is about, or None."""
    found = asked_note(question, documents, ranked)
    if found is None:
        return None
    doc, start, _ = found
    return next((c for c in chunks_of(doc.doc_id) if c.start <= start < c.end), None)
