"""Questions about the article itself: who wrote it, the author's position or unit, when it
was published, where it comes from, who edited it, its title.

The answer comes from the document's metadata (``authors``, ``published``, ``site``,
``title``), and the citation is the text that states it, as a verbatim slice: the
``（作者为…）`` / ``（作者单位：…）`` note printed with the article, the dateline
(``新华社北京1月11日电（记者王小明、李华）``), the title where the text prints it. The article is
the one the question names (an author's name, or the title), else the best-ranked retrieved
article that has what is asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.bylines import (
    FACT_WORDS_ZH,
    OFFICIAL_KINDS,
    about_article_only,
    asked_document,
    asked_fact,
    asks_about_author,
    names_author,
    note_span,
)
from rag.index.crosslingual import DICTIONARY, english_content_words
from rag.index.pinyin import mentions
from rag.index.tokenize import has_han
from rag.lexicon import asked_in_english, fold
from rag.parsing.metadata import read_signature
from rag.search.answerability import content_words
from rag.types import Document, Hit

__all__ = [
    "asks_about_author",
    "asked_fact",
    "names_author",
    "find_author_note",
    "author_line",
    "find_fact",
    "fact_line",
]

# A dateline opening a paragraph: 新华社北京1月11日电（记者王小明、李华）, 本报讯（记者张三）.
_DATELINE = re.compile(
    r"(?:^|\n)\s*([^。！？\n]{0,24}?(?:\d{1,2}月\d{1,2}日电|讯)(?:\s*[（(][^（）()\n]{1,40}[）)])?)"
)
_DATELINE_REACH = 400  # characters: a dateline opens the article
_SHORT_LINE = 60  # characters: a line that only dates the article is quoted whole


@dataclass(frozen=True)
class MetadataAnswer:
    """The article asked about, its authors, and where its author note sits in its text."""

    document: Document
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.document.text[self.start : self.end]


def find_author_note(
    question: str, hits: Sequence[Hit], documents: Mapping[str, Document]
) -> MetadataAnswer | None:
    """The article an author question is about and its author note (``start == end`` when
    only the document's metadata names its authors: a page whose byline sits in the page's
    furniture, 作者：赵一鸣 under the headline), or None when no article has either.

    The article is the one the question names (by an author or its title), else the retrieved
    one whose title holds the question's topic (电动两轮车销量那篇报道的作者: the report titled
    …电动两轮车销量…, not another page whose dateline names reporters), else the best-ranked.
    """
    ranked = [*_best_article(question, hits, documents), *(h.chunk.doc_id for h in hits)]
    doc = asked_document(
        question, documents, ranked, lambda d: bool(d.authors) or note_span(d) is not None
    )
    if doc is None:
        return None
    start, end = note_span(doc) or (0, 0)
    return MetadataAnswer(doc, start, end)


def names_no_article(question: str, documents: Mapping[str, Document]) -> bool:
    """A question about the article itself that says nothing of which one: no topic of its own
    (这篇报道的记者是谁？, When was the article published?), no author named, no title quoted."""
    words = content_words(question) if has_han(question) else english_content_words(question)
    if not about_article_only(question, words):
        return False
    q = fold(question)
    return not any(
        any(mentions(q, n) for n in d.authors) or (d.title and fold(d.title) in q)
        for d in documents.values()
    )


def author_line(doc: Document, english: bool, stated: bool = True) -> str:
    """The metadata sentence leading the answer ("作者：鲁全。"), or "" without authors; saying so
    when no text of the article names them (``stated`` false) and the metadata does."""
    if not doc.authors:
        return ""
    if english:
        tail = "" if stated else " (from the document's metadata; its text does not state it)"
        return f"Author: {', '.join(doc.authors)}.{tail} "
    tail = "" if stated else "（据文档的元数据，正文未载明）"
    return f"作者：{'、'.join(doc.authors)}。{tail}"


@dataclass(frozen=True)
class FactAnswer:
    """A fact of the article asked about (its date, source or title) and the span of its text
    that states it (``start == end`` when only the metadata does)."""

    document: Document
    kind: str
    value: str
    start: int
    end: int

    @property
    def quote(self) -> str:
        return self.document.text[self.start : self.end]


def _value(doc: Document, kind: str) -> str:
    if kind == "issuer":
        signed = read_signature(doc.text)
        return signed.issuer if signed else ""
    if kind == "date":
        return doc.published
    if kind == "editor":
        return "、".join(doc.editors)
    if kind == "docno":
        found = document_number(doc)
        return doc.text[found[0] : found[1]] if found else ""
    if kind == "source":
        return doc.site or (_dateline(doc) or ("", 0, 0))[0]
    return doc.title if kind == "title" else ""


# 发文字号: the issuing body's short name, the year in brackets, the number (国办发〔2024〕3号,
# 南教基〔2025〕12号, 京政发[2023]5号).
_DOCUMENT_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,10}\s*[〔［\[【(（]\s*(?:19|20)\d{2}\s*[〕］\]】)）]\s*第?\s*\d{1,5}\s*号"
)
_NUMBER_REACH = 400  # characters: a document's own number is printed under its title


def document_number(doc: Document) -> tuple[int, int] | None:
    """Where an official document prints its own number (文号): the first one near its top;
    the numbers its body cites (根据《…通知》（国办发〔2024〕3号）) come later."""
    m = _DOCUMENT_NUMBER.search(doc.text, 0, _NUMBER_REACH)
    return (m.start(), m.end()) if m else None


def _dateline(doc: Document) -> tuple[str, int, int] | None:
    m = _DATELINE.search(doc.text[:_DATELINE_REACH])
    return (m.group(1), m.start(1), m.end(1)) if m else None


def find_fact(
    question: str, hits: Sequence[Hit], documents: Mapping[str, Document]
) -> FactAnswer | None:
    """The date, source or title of the article the question asks about, and where its text
    states it; None when the question asks none of these or no article has it."""
    kind = asked_fact(question)
    if kind is None and "《" in question:
        kind = asked_fact(_titles_as_article(question, documents))
    if kind is None:
        return None
    # The article named (by an author or its title), else the best-ranked one: another
    # article's date is no answer when the one asked about has none.
    best = _best_article(question, hits, documents)
    doc = asked_document(question, documents, best, lambda d: bool(_value(d, kind)))
    if doc is None:
        return None
    value, start, end = _value(doc, kind), 0, 0
    if kind == "issuer" and (signed := read_signature(doc.text)) is not None:
        # The signature: the issuer's line and the date under it (南京市鼓楼区住房保障和房产局 /
        # 2024年5月20日), which also answers 哪个部门什么时候发布的.
        start, end = signed.start, signed.end
    elif kind == "docno" and (found := document_number(doc)) is not None:
        start, end = found
    elif kind == "title":
        at = doc.text.find(doc.title)
        if at >= 0:
            start, end = at, at + len(doc.title)
    elif (printed := _printed(doc, _printed_form(doc, kind, value))) is not None:
        # The page prints it with the article: 《人民日报》（2024年03月05日 05 版）, （责任编辑：李四）.
        start, end = printed
    elif (line := _dateline(doc)) is not None and (kind == "source" or _dated(line[0], value)):
        # The dateline states the day (1月11日电) and the agency (新华社).
        start, end = line[1], line[2]
    elif kind == "source" and (at := doc.text.find(value, 0, _DATELINE_REACH)) >= 0:
        # An opening that credits the source in other words (参考消息网5月13日报道据法新社…): the
        # clause that names it.
        m = _CLAUSE_END.search(doc.text, at)
        start, end = at, m.start() if m else len(doc.text)
    return FactAnswer(doc, kind, value, start, end)


_CLAUSE_END = re.compile(r"[，,。；;！!？?\n]")


def _printed_form(doc: Document, kind: str, value: str) -> str | re.Pattern[str] | None:
    """What to look for where the text prints a fact: the date as pages write dates, the first
    editor's name (several are printed with spaces or 、), else the value itself."""
    if kind == "date":
        return _date_pattern(value)
    if kind == "editor":
        return doc.editors[0] if doc.editors else None
    return value


def _ymd(published: str) -> tuple[int, int, int] | None:
    """A published date (``YYYY-MM-DD``) as year, month and day; None when it is no such date."""
    try:
        y, m, d = (int(p) for p in published.split("-"))
    except ValueError:
        return None
    return y, m, d


def _date_pattern(published: str) -> re.Pattern[str] | None:
    """The published date (YYYY-MM-DD) as pages print it: 2024年03月05日, 2024年3月5日, 2024-03-05."""
    if (ymd := _ymd(published)) is None:
        return None
    y, m, d = ymd
    return re.compile(
        rf"{y}\s*年\s*0?{m}\s*月\s*0?{d}\s*日|{y}\s*[-/.]\s*0?{m}\s*[-/.]\s*0?{d}(?!\d)"
    )


def _printed(doc: Document, what: str | re.Pattern[str] | None) -> tuple[int, int] | None:
    """Where the text prints ``what`` (the source's name, the date's pattern) on a short line of
    its own that is no sentence (an issue line, a credit line); None when it prints it only in
    the body's sentences or not at all (人民日报曾多次报道。 says nothing about where the article
    appeared)."""
    if not what:
        return None
    pattern = what if isinstance(what, re.Pattern) else re.compile(re.escape(what))
    for found in pattern.finditer(doc.text):
        start = doc.text.rfind("\n", 0, found.start()) + 1
        end = doc.text.find("\n", found.end())
        end = len(doc.text) if end < 0 else end
        line = doc.text[start:end]
        if end - start <= _SHORT_LINE and not any(mark in line for mark in "。！？"):
            return start, end
    return None


def _best_article(
    question: str, hits: Sequence[Hit], documents: Mapping[str, Document]
) -> list[str]:
    """The retrieved article a question about "the article" means: of the retrieved ones, the
    one whose title holds most of the question's topic words (这篇关于新能源汽车的报道: the
    report titled …新能源汽车…, not a transcript that mentions electric cars), the best-ranked
    first among equals."""
    from rag.answering.scoring import _question_words

    ranked = list(dict.fromkeys(h.chunk.doc_id for h in sorted(hits, key=lambda h: h.rank)))
    ranked = [d for d in ranked if d in documents]
    if asked_in_english(question):
        # The report on electric two-wheeler sales: its words as the titles write them.
        # One concept a word, whichever of its translations a title holds (sales: 销量, 产销).
        titles = _title_terms([fold(documents[d].title) for d in ranked])
        topic = [f for f in DICTIONARY.translate(question, titles).forms if f]
    else:
        topic = [(w,) for w in _question_words(question) if w not in FACT_WORDS_ZH]
        # 这个通知, 这份公告: the kind of document named tells which of the retrieved ones it is
        # (the one titled …的通知), where "this article" would not.
        topic += [(w,) for w in OFFICIAL_KINDS if w in question]
    if not ranked or not topic:
        return ranked[:1]
    return [max(ranked, key=lambda d: sum(any(w in documents[d].title for w in f) for f in topic))]


def _title_terms(titles: Sequence[str]) -> frozenset[str]:
    """Every run of two to six characters of the titles: the terms a title holds, as a
    vocabulary to look an English question's words up in."""
    return frozenset(
        t[i : i + n] for t in titles for n in range(2, 7) for i in range(len(t) - n + 1)
    )


def _titles_as_article(question: str, documents: Mapping[str, Document]) -> str:
    """The question with an article's quoted title read as "the article": 《让乡村产业更有活力》
    是什么时候发表的？ asks the article's date. Only the corpus's own titles: 《意见》是什么时候
    发布的？ asks about the policy the article quotes."""
    for doc in documents.values():
        if doc.title and f"《{doc.title}》" in question:
            question = question.replace(f"《{doc.title}》", "这篇文章")
    return question


def _dated(dateline: str, published: str) -> bool:
    """Whether a dateline's day is the published date's (1月11日 for 2024-01-11)."""
    ymd = _ymd(published)
    return ymd is not None and f"{ymd[1]}月{ymd[2]}日" in dateline


def fact_line(found: FactAnswer, english: bool) -> str:
    """The sentence leading the answer (发布日期：2024年1月11日。), saying so when no text of the
    article states it and the document's metadata does."""
    value = found.value
    if found.kind == "date" and not english and (ymd := _ymd(value)) is not None:
        value = f"{ymd[0]}年{ymd[1]}月{ymd[2]}日"
    if english:
        label = {
            "date": "Published",
            "source": "Source",
            "title": "Title",
            "issuer": "Issued by",
            "editor": "Editor",
            "docno": "Document number",
        }[found.kind]
        tail = (
            " "
            if found.end > found.start
            else " (from the document's metadata; its text does not state it)"
        )
        return f"{label}: {value}.{tail}"
    label = {
        "date": "发布日期",
        "source": "来源",
        "title": "标题",
        "issuer": "发布单位",
        "editor": "责任编辑",
        "docno": "文号",
    }[found.kind]
    tail = "" if found.end > found.start else "（据文档的元数据，正文未载明）"
    return f"{label}：{value}。{tail}"
