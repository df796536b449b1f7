"""Follow-up questions: resolved against the conversation's earlier turns, without a model.

A follow-up leans on what was said before: "第二个亮点具体指什么？" and "Tell me more about the
second one" point at an item of the list the previous answer gave, "那天津市总工会呢？" asks
the previous question again about something else, "它覆盖了多少人？" and "为什么？" continue
its topic. Asked alone, none of them retrieves anything useful. This stage runs before
retrieval and turns such a question into a :class:`FollowUp`:

* a standalone ``query`` for retrieval (the ordinal's item, the previous question with the
  new subject, the pronoun replaced by the previous topic);
* the ``documents`` retrieval is focused on (those the previous answer cited, or those that
  name the new subject);
* for an ordinal, the ``item`` it points at, so the answer quotes that item (and the
  sentences that explain it) instead of reading "第二个" as "two items".

Questions that stand on their own pass through unchanged. Everything here is rules over
the question's wording and the previous answers' citations: no language model, so it works
the same offline and costs nothing. Earlier answers come either with their citations (the
HTTP API sends them back) or as text only (chat clients); quotes in the text are found again
in the documents, since every quoted sentence is a verbatim slice of one.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag.answering.markers import make_citation
from rag.answering.sentences import split_sentences
from rag.errors import InputError
from rag.index.tokenize import has_han
from rag.lexicon import EN_ORDINALS
from rag.parsing.cleaning import find_folded
from rag.search.enumeration import item_number as _list_item
from rag.search.searcher import MAX_QUERY_CHARS
from rag.types import Answer, Chunk, Citation, Document, Hit, SearchResult, Turn

# What an HTTP client may send as history. Length limits apply to the current question,
# not to earlier turns, but a conversation is bounded so a request stays cheap to check.
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 100_000
# Only the last few turns can be what a follow-up points at.
CONTEXT_TURNS = 5
# A focused search looks this deep for passages of the focused documents.
FOCUS_CANDIDATES = 30
# Sentences quoted after an ordinal's item: enough to say what it means.
ITEM_DETAILS = 2
# Follow-ups are short; a long question carries its own topic.
_MAX_FOLLOWUP_CHARS_ZH = 25
_MAX_FOLLOWUP_WORDS_EN = 12

_CN_DIGITS = "一二三四五六七八九十"
_EN_ORDINALS = {
    **EN_ORDINALS, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7,
    "8th": 8, "9th": 9, "10th": 10, "last": -1, "final": -1,
}  # fmt: skip
# "第二个…", "第三点", "第四项"; a bare "第二" only at the end ("第二呢？"), since "第一批"
# and "第二十大" name things rather than point at an item.
_ZH_ORDINAL = re.compile(
    rf"第\s*(?P<n>[{_CN_DIGITS}]{{1,3}}|\d{{1,2}})\s*(?:个|点|项|条|方面|部分|种|名)"
    # A bare "第二" only opens the question ("第二呢？", "那第三呢"): "世界第一" is a rank.
    rf"|^(?:那么|那|还有|再|说说|讲讲)?\s*第\s*(?P<bare>[{_CN_DIGITS}]{{1,3}}|\d{{1,2}})"
    r"(?=\s*(?:呢|吗)?\s*[?？。!！]?\s*$)"
)
_ZH_LAST = re.compile(r"最后(?:一\s*(?:个|点|项|条|方面|部分|种)|那个|的那个|一)")
# What may follow "第二个" when it points at an item: nothing, a particle or a verb of the
# question ("第二个呢？", "第二个是什么", "第二个具体指什么"), or the list's own noun
# ("第二个亮点" after "…有哪四个亮点？"); "第一条铁路", "最后一个王公" name new things.
_ZH_AFTER_ORDINAL = {
    "呢", "吗", "是", "的", "具体", "指", "指的", "说", "讲", "有", "怎么", "什么", "如何",
    "内容", "和", "与", "跟", "呀", "啊", "又", "还", "就", "意思", "再", "详细", "能",
}  # fmt: skip
_ZH_QI = re.compile(rf"^(?:那|那么)?\s*其([{_CN_DIGITS}])")
_EN_ORDINAL = re.compile(
    r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|"
    r"(?:[1-9]|10)(?:st|nd|rd|th))\b(?:\s+(\w+))?",
    re.IGNORECASE,
)
# Words that may follow an English ordinal pointing at a list item ("the second one").
_EN_ITEM_NOUNS = {
    "one", "ones", "item", "items", "point", "points", "highlight", "highlights", "thing",
    "part", "aspect", "reason", "step", "measure", "feature", "area", "task", "action",
    "suggestion", "proposal", "problem", "challenge", "of",
}  # fmt: skip

# "那天津市总工会呢？", "北京工会呢？", "至于鲁全呢"; "What about Tianjin?", "And Lu Quan?"
_ZH_ELLIPSIS = re.compile(
    r"^(?:那么|那|还有|而|至于|换成|如果是)?\s*(?P<x>[^?？!！。,，]{2,20}?)\s*"
    r"(?:呢|又如何|又怎样|又怎么样|的情况呢?)\s*[?？。!！]?$"
)
_EN_ELLIPSIS = re.compile(
    r"^(?:and|so|but|ok|okay)?[\s,]*(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]?$"
    r"|^and\s+(?P<y>.+?)\s*\?$",
    re.IGNORECASE,
)
_ZH_PRONOUN = re.compile(
    r"(?P<d>这个|那个|这项|那项|这些|那些|这一|这[两几二三四五六七八九十]个|(?<!应)该|(?<![因如从彼在])此|上述|它们|它|其中|"
    r"他们|她们|(?<!其)他|她)(?P<n>[\u4e00-\u9fff]{0,4})"
)
# "this"/"that" only stand for something on their own ("what does this mean?"); before a
# noun ("this weekend") they are determiners.
_EN_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|(?:this|that|these|those)(?=\s*(?:[?.!,]|$|is\b|are\b|was\b|"
    r"were\b|mean|do\b|does\b|did\b|cover|include|work|start|say)))",
    re.IGNORECASE,
)
# "这篇文章的作者是谁？", "Who wrote this article?": the article the last answer quoted.
_THIS_ARTICLE = re.compile(
    r"这篇|那篇|该文|此文|这一篇|\b(?:this|that|the same) (?:article|piece|essay)\b", re.IGNORECASE
)
_ZH_BARE_PRONOUNS = {"它", "它们", "其中", "他", "她", "他们", "她们"}
# Words a question asks with, which carry no topic of their own.
_ZH_QUESTION_WORDS = re.compile(
    r"什么|哪些|哪个|哪里|哪儿|哪|谁|多少|几|怎么|怎样|如何|为什么|为何|是否|吗|呢|么|啥"
)
# The predicate of a Chinese question starts at one of these words; what comes before is
# its subject ("职业伤害保障试点 | 有哪四个亮点").
_ZH_PREDICATE_WORDS = {
    "是", "有", "在", "要", "将", "提出", "包括", "覆盖", "采取", "写", "发表", "主要", "具体",
    "由", "对", "从", "能", "会", "可以", "应该", "需要", "面临", "存在", "的", "还", "又", "都",
    "也", "共", "一共", "总共", "累计", "已经", "开始", "启动", "实施", "推动", "强化",
}  # fmt: skip
_ZH_ASKING = ("哪", "什么", "多少", "几", "谁", "如何", "怎", "为什么", "为何", "何")
# Follow-ups that only ask for more ("具体呢？", "为什么？", "Tell me more").
_ZH_GENERIC = {
    "具体", "详细", "详细说说", "展开", "展开说说", "原因", "为什么", "为何", "然后", "还有",
    "其他", "其它", "别的", "更多", "细节", "举例", "例子", "怎么说", "什么意思", "意思",
    "说说", "讲讲", "介绍", "介绍一下", "再说说", "多说", "继续", "呢", "一下", "内容",
    "具体内容", "具体指", "指的", "指", "是", "的", "了", "吗", "有", "哪些", "什么", "怎么",
    "如何", "说", "讲", "再", "多", "请", "还", "那", "那么", "这", "样", "具体说", "解释",
    "举", "举个", "个", "这么", "能", "可以", "呀", "啊", "吧", "怎么回事", "为啥", "解释一下",
    "说明", "说明一下", "分析", "分析一下", "展开讲讲", "多讲讲",
}  # fmt: skip
# What an article says about its subject, not a subject of its own: "那作者呢？" asks for
# the author of what the conversation is about.
_ZH_ATTRIBUTES = {
    "作者", "单位", "时间", "日期", "原因", "标题", "题目", "地点", "人数", "数量", "数据",
    "背景", "意义", "目的", "结果", "影响", "作用", "措施", "做法", "来源", "出处", "进展",
    "问题", "挑战", "建议", "特点", "亮点", "成效", "效果", "对象", "范围", "标准",
}  # fmt: skip
# A short question that starts with its predicate has dropped its subject, as Chinese
# does when the subject is the one just talked about: "有多少人参加？", "什么时候开始的？".
_ZH_PRO_DROP = re.compile(
    r"^(?:有|是|在|要|将|会|能|可以|需要|覆盖|包括|涉及|什么时候|何时|哪一年|哪年|从哪|主要|"
    r"一共|共有|总共|累计)"
)
_MAX_PRO_DROP_CHARS = 12
_EN_GENERIC = {
    "tell", "me", "more", "about", "what", "why", "how", "so", "and", "please", "explain",
    "details", "detail", "detailed", "elaborate", "go", "on", "continue", "else", "other",
    "others", "anything", "example", "examples", "for", "is", "are", "was", "were", "does",
    "do", "did", "mean", "means", "meant", "the", "a", "an", "it", "that", "this", "say",
    "says", "can", "you", "give", "some", "any", "further", "exactly", "specifically",
    "reason", "reasons", "s", "of", "in", "to", "ok", "okay", "again", "come",
}  # fmt: skip
_MARKER = re.compile(r"\[(\d+)\]")
_NUMBERED = re.compile(r"^\s*(\d+)[.)、]\s*")
_SOURCE_LINE = re.compile(r"^\[(\d+)\]\s.*?[:：]\s*[“\"](?P<quote>.+)[”\"]\s*$")
_SOURCES_HEADING = re.compile(r"^\s*(?:Sources|Closest passages|来源)\s*[:：]?\s*$")


@dataclass(frozen=True)
class Span:
    """A sentence of a document: ``documents[doc_id].text[start:end]``."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class FollowUp:
    """How a question reads in its conversation.

    Attributes:
        question: The question as asked.
        query: What retrieval searches for: the question itself when it stands alone.
        kind: ``"standalone"``, ``"ordinal"``, ``"entity"`` (the last question about
            something else), ``"attribute"`` (something about the last subject),
            ``"pronoun"`` (a pronoun or a dropped subject), ``"article"`` (the article last
            quoted), ``"more"``, or ``"rewritten"`` (by a language model, see
            :meth:`with_query`).
        documents: Documents retrieval is focused on (empty: the whole index).
        item: For an ordinal, the list item it points at.
    """

    question: str
    query: str
    kind: str = "standalone"
    documents: tuple[str, ...] = ()
    item: Span | None = None

    @property
    def is_followup(self) -> bool:
        return self.kind != "standalone"

    def search_depth(self, top_k: int) -> int:
        """How many hits to retrieve so that :func:`focus` can keep ``top_k`` of them."""
        return max(top_k, FOCUS_CANDIDATES) if self.documents else top_k

    def with_query(self, query: str | None) -> FollowUp:
        """This reading with another standalone question (a language model's rewrite).

        An ordinal keeps its item: the rules already know which item is meant, and the
        model's wording of it adds nothing. An empty or unchanged query changes nothing.
        """
        query = (query or "").strip()
        if not query or query == self.query or self.item is not None:
            return self
        return replace(self, query=query, kind=self.kind if self.is_followup else "rewritten")

    def annotate(self, answer: Answer) -> Answer:
        """The answer as given to the question asked, saying how a follow-up was read."""
        if not self.is_followup:
            return answer
        reading = f"追问理解为 Follow-up read as: {self.query}"
        note = f"{answer.note} {reading}".strip() if answer.note else reading
        return replace(answer, question=self.question, note=note)


# ---- building turns ------------------------------------------------------------------------
def validate_history(history: Sequence[Turn], field: str = "history") -> tuple[Turn, ...]:
    """Refuse a history too long to be a conversation, with a message saying what to send.

    Raises:
        InputError: More than :data:`MAX_HISTORY_TURNS` turns, or more than
            :data:`MAX_HISTORY_CHARS` characters in all.
    """
    turns = tuple(history)
    if len(turns) > MAX_HISTORY_TURNS:
        raise InputError(
            f"{field} has {len(turns)} turns; the limit is {MAX_HISTORY_TURNS}: "
            f"send only the last {MAX_HISTORY_TURNS} turns",
            field,
        )
    size = sum(
        len(t.question) + len(t.answer) + sum(len(c.quote) for c in t.citations) for t in turns
    )
    if size > MAX_HISTORY_CHARS:
        raise InputError(
            f"{field} is {size} characters long; the limit is {MAX_HISTORY_CHARS}: "
            "send fewer or shorter turns",
            field,
        )
    return turns


def turns_from_messages(messages: Sequence[Any]) -> tuple[Turn, ...]:
    """The earlier turns of an OpenAI-style ``messages`` list, for :meth:`Engine.ask`.

    Each user message followed by an assistant reply makes a turn; the last user message
    (the question being asked) and everything after it are left out, as are system and tool
    messages. Replies keep their text, Sources list included: the quotes in it are found
    again in the documents. Only the last :data:`MAX_HISTORY_TURNS` turns are kept, since a
    chat client always sends the whole conversation and cannot be told to cut it.

    Args:
        messages: Objects or dicts with ``role`` and ``content`` (a string, or a list of
            ``{"type": "text", "text": ...}`` parts).
    """
    items = [(_get(m, "role"), _content(_get(m, "content"))) for m in messages]
    last_user = max((i for i, (role, _) in enumerate(items) if role == "user"), default=-1)
    turns: list[Turn] = []
    question: str | None = None
    for role, text in items[: max(last_user, 0)]:
        if role == "user":
            if question is not None:  # two user messages in a row: the first got no reply
                turns.append(Turn(question=question))
            question = text
        elif role == "assistant" and question is not None:
            turns.append(Turn(question=question, answer=text))
            question = None
    if question is not None:
        turns.append(Turn(question=question))
    return tuple(turns[-MAX_HISTORY_TURNS:])


def _get(message: Any, key: str) -> Any:
    return message.get(key) if isinstance(message, Mapping) else getattr(message, key, None)


def _content(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return content if isinstance(content, str) else ""


# ---- resolving -----------------------------------------------------------------------------
def resolve(question: str, history: Sequence[Turn], documents: Mapping[str, Document]) -> FollowUp:
    """Read ``question`` in the light of the earlier turns (oldest first).

    Args:
        question: The question being asked.
        history: The conversation's earlier turns, oldest first.
        documents: The index's documents by id (earlier citations are checked against them).

    Returns:
        A :class:`FollowUp`; its ``query`` is ``question`` itself when the question stands
        on its own or there is no history.
    """
    turns = tuple(history)[-CONTEXT_TURNS:]
    if not turns:
        return FollowUp(question, question)
    # Earlier turns may be follow-ups themselves: read each against the ones before it.
    previous: _Context | None = None
    for turn in turns:
        reading = _resolve(turn.question, previous, documents)
        previous = _Context(turn, reading, documents, previous)
    assert previous is not None
    return _resolve(question, previous, documents)


class _Context:
    """An earlier turn: its standalone reading, the sentences its answer cited, and the list
    an ordinal in the next question would point into."""

    def __init__(
        self,
        turn: Turn,
        reading: FollowUp,
        documents: Mapping[str, Document],
        before: _Context | None,
    ) -> None:
        self.query = reading.query
        # What "它" or "it" in the next question stands for: the item an ordinal picked,
        # or the subject of the question.
        self.subject = _item_core(reading.query) if reading.kind == "ordinal" else topic(self.query)
        self.lines = _cited_lines(turn, documents)
        cited = list(dict.fromkeys(s for _, spans in self.lines for s in spans))
        self.documents = tuple(dict.fromkeys(s.doc_id for s in cited)) or reading.documents
        own = _listed(self.lines, documents)
        numbered = sum(1 for number, spans in self.lines if number and spans) >= 2
        # "第二个…" then "最后一个呢？": both point into the list of the turn that gave it,
        # not into the quotes answering the first of them; only a follow-up answered with a
        # numbered list of its own starts a new one.
        inherit = before is not None and before.items and reading.is_followup
        if inherit and (reading.kind == "ordinal" or not numbered):
            assert before is not None
            self.items, self.list_query = before.items, before.list_query
        else:
            self.items, self.list_query = own or _running_list(cited, documents), self.query


def _listed(lines: list[tuple[int, list[Span]]], documents: Mapping[str, Document]) -> list[Span]:
    """The list an answer gave: its numbered lines, or its cited sentences opening items."""
    numbered = [spans[0] for number, spans in lines if number and spans]
    if len(numbered) >= 2:
        return numbered
    cited = list(dict.fromkeys(s for _, spans in lines for s in spans))
    marked = [s for s in cited if _marker(_text(s, documents))[1]]
    if len(marked) >= 2:
        return sorted(marked, key=lambda s: _marker(_text(s, documents))[1])
    return []


def _running_list(cited: list[Span], documents: Mapping[str, Document]) -> list[Span]:
    """Cited sentences read as a list, without the sentence announcing it (“…有四个亮点。”)."""
    if len(cited) >= 3 and _announces(_text(cited[0], documents)):
        return cited[1:]
    return cited


def _read(question: str, previous: _Context | None, documents: Mapping[str, Document]) -> FollowUp:
    if previous is None:
        return FollowUp(question, question)
    # Rules match on the width-folded text ("第２个", "？"); rewrites keep the question's own.
    original = question.strip()
    text = unicodedata.normalize("NFKC", original)
    english = not has_han(text)
    if english and len(text.split()) > _MAX_FOLLOWUP_WORDS_EN:
        return FollowUp(question, question)
    if not english and len(text) > _MAX_FOLLOWUP_CHARS_ZH:
        return FollowUp(question, question)

    ordinal = _ordinal(text, previous.list_query)
    if ordinal:
        item = _pick_item(previous, ordinal, documents)
        if item is not None:
            return FollowUp(question, _text(item, documents), "ordinal", (item.doc_id,), item)
        # No list to point into: the best reading left is "more about the last topic".
        return FollowUp(question, f"{previous.query} {original}", "more", previous.documents)

    entity = _ellipsis_entity(text)
    if entity and not _is_generic(entity, english):
        focus = _documents_naming(entity, documents)
        # A word most articles use ("作者", "原因") is something about the subject.
        if not english and (entity in _ZH_ATTRIBUTES or len(focus) > max(1, len(documents) // 2)):
            subject = previous.subject
            query = f"{subject}的{entity}" if subject else f"{previous.query} {entity}"
            return FollowUp(question, query, "attribute", previous.documents)
        return FollowUp(question, _substitute(previous.query, entity), "entity", focus)

    if _only_generic(text, english):
        return FollowUp(question, f"{previous.query} {original}", "more", previous.documents)

    if (
        not english
        and len(text) <= _MAX_PRO_DROP_CHARS
        and _ZH_PRO_DROP.match(text)
        and previous.subject
    ):
        return FollowUp(question, previous.subject + original, "pronoun", previous.documents)

    if _THIS_ARTICLE.search(text) and previous.documents:
        return FollowUp(question, question, "article", previous.documents[:1])

    def known(word: str) -> bool:
        texts = [documents[d].text for d in previous.documents if d in documents]
        return word in previous.query or any(word in t for t in texts)

    rewritten = _replace_pronoun(original, previous.subject, previous.query, english, known)
    if rewritten is not None:
        return FollowUp(question, rewritten, "pronoun", previous.documents)
    return FollowUp(question, question)


def _ordinal(text: str, previous_query: str) -> int:
    """The item number an ordinal points at (-1 for the last one, 0 for none)."""
    m = _ZH_ORDINAL.search(text)
    if m and (m.group("bare") or _points_at_item(text[m.end() :], previous_query)):
        return _numeral(m.group("n") or m.group("bare"))
    m = _ZH_LAST.search(text)
    if m and _points_at_item(text[m.end() :], previous_query):
        return -1
    m = _ZH_QI.search(text)
    if m:
        return _numeral(m.group(1))
    for m in _EN_ORDINAL.finditer(text):
        word, after = m.group(1).lower(), (m.group(2) or "").lower()
        # "the first batch of the pilot" names a thing; "the second one", "the second
        # highlight", "the third?" point at an item of the list.
        if not after or after in _EN_ITEM_NOUNS or after.rstrip("s") in previous_query.lower():
            return _EN_ORDINALS.get(word) or int(re.sub(r"\D", "", word))
    return 0


def _points_at_item(after: str, previous_query: str) -> bool:
    """What follows a Chinese ordinal leaves it pointing at an item of the last list."""
    words = _zh_words(after)
    if not words or not re.match(r"\s*[\u4e00-\u9fff]", after):
        return True
    return words[0] in _ZH_AFTER_ORDINAL or words[0] in previous_query


def _numeral(token: str) -> int:
    if token.isdigit():
        return int(token)
    if len(token) == 1:
        return _CN_DIGITS.index(token) + 1
    tens, _, units = token.partition("十")
    return (_CN_DIGITS.index(tens) + 1 if tens else 1) * 10 + (
        _CN_DIGITS.index(units) + 1 if units else 0
    )


def _pick_item(previous: _Context, ordinal: int, documents: Mapping[str, Document]) -> Span | None:
    """The ``ordinal``-th item (-1: the last) of the list the conversation is on.

    When the quoted items carry list markers (其一, 第二, 三是…), the whole list is read from
    the document, so an answer that quoted some of the items still leads to the others.
    """
    items = previous.items
    if not items:
        return None
    full = _document_list(items, documents)
    if full:
        items = full
    if ordinal == -1:
        return items[-1]
    return items[ordinal - 1] if ordinal <= len(items) else None


def _document_list(items: list[Span], documents: Mapping[str, Document]) -> list[Span]:
    """The run of items 1, 2, 3… in the document holding the first marked item quoted."""
    for span in items:
        style, _ = _marker(_text(span, documents))
        if not style:
            continue
        doc = documents[span.doc_id]
        runs: list[list[Span]] = []
        for s in split_sentences(doc.text):
            found, number = _marker(s.text)
            if found != style:
                continue
            # A list restarts at 1 (a sub-list inside an item uses the same style again).
            if number == 1 or not runs or number != len(runs[-1]) + 1:
                runs.append([])
            if number == len(runs[-1]) + 1:
                runs[-1].append(Span(doc.doc_id, s.start, s.end))
        for run in runs:
            if len(run) >= 2 and any(r.start <= span.start < max(r.end, r.start + 1) for r in run):
                return run
    return []


def _ellipsis_entity(text: str) -> str:
    m = _ZH_ELLIPSIS.match(text) or _EN_ELLIPSIS.match(text)
    if not m:
        return ""
    entity = (m.groupdict().get("x") or m.groupdict().get("y") or "").strip()
    entity = re.sub(r"^(?:the)\s+", "", entity, flags=re.IGNORECASE)
    if _ZH_QUESTION_WORDS.search(entity) or _ZH_PRONOUN.fullmatch(entity):
        return ""
    return entity


def _is_generic(entity: str, english: bool) -> bool:
    if english:
        return all(w in _EN_GENERIC for w in re.findall(r"[a-z]+", entity.lower()))
    return entity in _ZH_GENERIC or all(t in _ZH_GENERIC for t in _zh_words(entity))


def _only_generic(text: str, english: bool) -> bool:
    """The question asks for more without naming anything ("具体呢？", "Why?")."""
    if english:
        words = re.findall(r"[a-z]+", text.lower())
        return bool(words) and len(words) <= 6 and all(w in _EN_GENERIC for w in words)
    core = re.sub(r"[\s?？。!！,，、:：]", "", text)
    if re.search(r"[A-Za-z0-9]", core):  # "什么是JAXR？" names something
        return False
    return 0 < len(core) <= 10 and all(t in _ZH_GENERIC for t in _zh_words(core))


def _zh_words(text: str) -> list[str]:
    """jieba's words of ``text``, without punctuation (the keyword tokenizer's character
    bigrams would turn "具体指" into "体指", which no list of generic words holds)."""
    from rag.index.tokenize import jieba_tokenizer

    return [w for w in jieba_tokenizer().lcut(text) if has_han(w)]


def topic(query: str) -> str:
    """The subject a question is about: "职业伤害保障试点" of "职业伤害保障试点有哪四个亮点？"."""
    text = query.strip()
    if has_han(text):
        # Skip a leading "请问" or "那" before looking for where the predicate starts.
        text = re.sub(r"^(?:请问|那么|那|关于)\s*", "", text)
        words = _zh_words(text)
        for i, word in enumerate(words[1:], start=1):
            if word in _ZH_PREDICATE_WORDS or word.startswith(_ZH_ASKING):
                return "".join(words[:i])
        return ""
    words = re.sub(r"[?.!]+$", "", text)
    m = re.search(r"\b(?:of|about|for|in|by|on)\s+((?:the\s+)?[\w' -]+)$", words, re.IGNORECASE)
    if m:
        return m.group(1).strip()
    m = re.match(
        r"^(?:what|which|who|when|where|why|how(?: many| much)?)\s+(?:is|are|was|were|did|does|do|has|have)\s+(.+?)\s+\w+$",
        words,
        re.IGNORECASE,
    )
    return m.group(1).strip() if m else ""


def _substitute(previous_query: str, entity: str) -> str:
    """The previous question asked about ``entity`` instead of its own subject."""
    subject = topic(previous_query)
    if has_han(entity) and has_han(previous_query):
        if subject:
            head = previous_query.lstrip()
            at = head.find(subject)
            if at >= 0:
                return head[:at] + entity + head[at + len(subject) :]
        return f"{entity} {previous_query}"
    if not has_han(previous_query) and entity[:1].isupper():
        # A name replaces the previous question's first name (capitalised words after its
        # first word): "Where does Zhan Mengxia work?" -> "Where does Lu Quan work?".
        m = re.search(r"(?<=\s)[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", previous_query)
        if m:
            return previous_query[: m.start()] + entity + previous_query[m.end() :]
    if subject and subject in previous_query:
        return previous_query.replace(subject, entity, 1)
    return f"{previous_query} {entity}"


def _documents_naming(entity: str, documents: Mapping[str, Document]) -> tuple[str, ...]:
    """Documents whose byline, title or column names ``entity``, else those whose text does.

    An English name ("Tianjin") is looked up in CC-CEDICT first; the documents whose
    metadata hold most of its translations are those it names. Empty when every document
    (or none) names it: no focus then.
    """

    def meta(doc: Document) -> str:
        parts = (doc.title, doc.affiliation, doc.column, *doc.authors)
        return unicodedata.normalize("NFKC", " ".join(parts)).lower()

    def narrow(named: Sequence[str]) -> tuple[str, ...]:
        return tuple(named) if named and len(named) < len(documents) else ()

    needles = {entity, unicodedata.normalize("NFKC", entity).lower()}
    if not has_han(entity):
        terms = _translate(entity, documents)
        if terms:
            counts = {d.doc_id: sum(t in meta(d) for t in terms) for d in documents.values()}
            best = max(counts.values(), default=0)
            if best:
                return narrow([doc_id for doc_id, c in counts.items() if c == best])
    named = narrow([d.doc_id for d in documents.values() if any(n in meta(d) for n in needles)])
    if named:
        return named
    return narrow([d.doc_id for d in documents.values() if any(n in d.text for n in needles)])


def _translate(entity: str, documents: Mapping[str, Document]) -> tuple[str, ...]:
    """Chinese words for an English name, as far as the documents' metadata use them."""
    from rag.index.crosslingual import DICTIONARY

    return DICTIONARY.translate(entity, _metadata_vocabulary(documents)).terms


# The vocabulary of the last document set seen. The set itself is kept, not its id, so a
# new set (another snapshot) can never be mistaken for it.
_vocabulary_cache: list[tuple[Mapping[str, Document], frozenset[str]]] = []
_vocabulary_lock = threading.Lock()


def _metadata_vocabulary(documents: Mapping[str, Document]) -> frozenset[str]:
    from rag.index.tokenize import tokenize

    with _vocabulary_lock:
        if _vocabulary_cache and _vocabulary_cache[0][0] is documents:
            return _vocabulary_cache[0][1]
    words: set[str] = set()
    for doc in documents.values():
        words.update(tokenize(" ".join((doc.title, doc.affiliation, doc.column, *doc.authors))))
    vocabulary = frozenset(words)
    with _vocabulary_lock:
        _vocabulary_cache[:] = [(documents, vocabulary)]
    return vocabulary


def _item_core(sentence: str) -> str:
    """An item without its list marker and closing mark: "其二,在缴费方式上…创新。" -> "在缴费方式上…创新"."""
    text = sentence.strip()
    for style_pattern in (
        r"^其[一二三四五六七八九十]+[,，、:：]",
        r"^第[一二三四五六七八九十]+[,，、:：]",
        r"^[一二三四五六七八九十]+是",
        r"^[(（][^)）]{1,3}[)）]",
        r"^\d+[.、．]",
    ):
        text = re.sub(style_pattern, "", text)
    return text.rstrip("。.!！?？;；")


def _replace_pronoun(
    text: str, subject: str, previous_query: str, english: bool, known: Callable[[str], bool]
) -> str | None:
    if english:
        if not _EN_PRONOUN.search(text):
            return None
        if not subject:
            return f"{text} {previous_query}"

        def swap(m: re.Match[str]) -> str:
            word = m.group(1).lower()
            return f"{subject}'s" if word in ("its", "their") else subject

        return _EN_PRONOUN.sub(swap, text, count=1)
    m = _ZH_PRONOUN.search(text)
    if m is None:
        return None
    if m.group("d") in _ZH_BARE_PRONOUNS:
        # "杨丽音和她的丈夫", "当穿山甲感到威胁时，它们…": the question names what the
        # pronoun stands for before it; only one opening the question points back.
        before = _ZH_QUESTION_WORDS.sub("", text[: m.start()])
        before = re.sub(r"^(?:那么|那|而|但|请问|还有|另外|所以)", "", before.strip())
        if re.search(r"[\u4e00-\u9fffA-Za-z0-9]", before):
            return None
    else:
        # "这个试点" points back only if the conversation spoke of a 试点; "该漫画" after
        # an article on injury insurance is a new topic, asked as such.
        after = text[m.end("d") :]
        words = _zh_words(after)
        if words and re.match(r"[\u4e00-\u9fff]", after):
            # A one-character word ("该书") says too little: check it with what follows.
            word = words[0] if len(words[0]) >= 2 else after[:2]
            if not known(word):
                return None
    if not subject:
        return f"{previous_query} {text}"
    noun = m.group("n")
    # "这个试点" after "职业伤害保障试点…": the whole phrase is the earlier subject.
    for size in range(len(noun), 0, -1):
        if noun[:size] in subject:
            return text[: m.start()] + subject + text[m.start("n") + size :]
    return text[: m.start()] + subject + text[m.start("n") :]


def _resolve(
    question: str, previous: _Context | None, documents: Mapping[str, Document]
) -> FollowUp:
    reading = _read(question, previous, documents)
    if len(reading.query) > MAX_QUERY_CHARS:
        # The earlier question may be long (history is not held to the question limit):
        # its start matters least to the rewritten query.
        reading = replace(reading, query=reading.query[-MAX_QUERY_CHARS:])
    return reading


def _marker(text: str) -> tuple[str, int]:
    """The list style and item number a sentence opens with (``("", 0)`` for none): the one
    place this module reads list markers, with the searcher's list parsing."""
    return _list_item(text)


# ---- earlier answers -----------------------------------------------------------------------
def _cited_lines(turn: Turn, documents: Mapping[str, Document]) -> list[tuple[int, list[Span]]]:
    """Each line of an earlier answer: its list number (0 if none) and the sentences it cites.

    Citations sent with the turn are trusted once checked against the documents; without
    them (a chat client's history) the quoted text of the answer, and of its Sources list,
    is looked up in the documents.
    """
    by_number: dict[int, Span] = {}
    for c in turn.citations:
        span = _checked(c, documents)
        if span is not None:
            by_number[c.n] = span
    body, sources = _split_sources(turn.answer)
    for line in sources:
        m = _SOURCE_LINE.match(line.strip())
        if m and int(m.group(1)) not in by_number:
            span = _locate(m.group("quote"), documents)
            if span is not None:
                by_number[int(m.group(1))] = span
    lines: list[tuple[int, list[Span]]] = []
    for line in body:
        numbered = _NUMBERED.match(line)
        number = int(numbered.group(1)) if numbered else 0
        rest = line[numbered.end() :] if numbered else line
        spans: list[Span] = []
        pos = 0
        for m in _MARKER.finditer(rest):
            n = int(m.group(1))
            span = by_number.get(n)
            if span is None:
                prefer = spans[-1].doc_id if spans else (lines[-1][1][-1].doc_id if lines else "")
                span = _locate(rest[pos : m.start()].strip(), documents, prefer)
            if span is not None and span not in spans:
                spans.append(span)
            pos = m.end()
        if not _MARKER.search(rest) and turn.citations == () and rest.strip():
            span = _locate(rest.strip(), documents)
            if span is not None:
                spans.append(span)
        if spans:
            lines.append((number, spans))
    if not lines and by_number:
        lines = [(0, [by_number[n] for n in sorted(by_number)])]
    return lines


def _split_sources(answer: str) -> tuple[list[str], list[str]]:
    lines = answer.splitlines()
    for i, line in enumerate(lines):
        if _SOURCES_HEADING.match(line):
            return lines[:i], lines[i + 1 :]
    return lines, []


def _checked(c: Citation, documents: Mapping[str, Document]) -> Span | None:
    doc = documents.get(c.doc_id)
    if (
        doc is not None
        and 0 <= c.start < c.end <= len(doc.text)
        and (not c.quote or doc.text[c.start : c.end] == c.quote)
    ):
        return Span(doc.doc_id, c.start, c.end)
    return _locate(c.quote, documents, prefer=c.doc_id) if c.quote else None


def _locate(quote: str, documents: Mapping[str, Document], prefer: str = "") -> Span | None:
    """Where a quoted sentence sits in the documents (``prefer`` first, then the first match)."""
    quote = quote.strip()
    if len(quote) < 4:
        return None
    first = documents.get(prefer)
    # Width folded on both sides: a quote copied with ASCII commas (a client that normalised
    # it, an answer recorded before full-width marks were kept) still finds its text.
    for doc in itertools.chain([first] if first is not None else [], documents.values()):
        at = find_folded(doc.text, quote)
        if at >= 0:
            return Span(doc.doc_id, at, at + len(quote))
    return None


def _text(span: Span, documents: Mapping[str, Document]) -> str:
    return documents[span.doc_id].text[span.start : span.end]


def _announces(sentence: str) -> bool:
    core = sentence.rstrip("。.!！”’")
    return (
        core.endswith((":", "："))
        or re.search(r"以下|如下|几个|几点|几方面|[一二三四五六七八九十两]个", core) is not None
    )


# ---- retrieval and the answer --------------------------------------------------------------
def focus(result: SearchResult, documents: Sequence[str], top_k: int) -> SearchResult:
    """Keep the hits from ``documents`` (when there are any), best first, ``top_k`` at most.

    A follow-up is about what the conversation was about: passages of other articles that
    happen to share its words are noise. When none of the focused documents was retrieved
    the result is only cut to ``top_k``.
    """
    hits = list(result.hits)
    if documents:
        wanted = set(documents)
        focused = [h for h in hits if h.chunk.doc_id in wanted]
        if focused:
            hits = focused
    hits = hits[:top_k]
    ranked = tuple(replace(h, rank=i) for i, h in enumerate(hits, start=1))
    return replace(result, hits=ranked)


def item_answer(
    followup: FollowUp,
    result: SearchResult,
    documents: Mapping[str, Document],
    chunks_of: Callable[[str], list[Chunk]],
) -> Answer | None:
    """For an ordinal follow-up, the item it points at and the sentences explaining it.

    The item leads; up to :data:`ITEM_DETAILS` sentences of its paragraph follow, up to the
    next item of the list. None for any other kind of question.
    """
    item = followup.item
    if item is None or item.doc_id not in documents:
        return None
    doc = documents[item.doc_id]
    style, _ = _marker(doc.text[item.start : item.end])
    line_end = doc.text.find("\n", item.end)
    line_end = len(doc.text) if line_end < 0 else line_end
    quoted = [Span(doc.doc_id, item.start, item.end)]
    for s in split_sentences(doc.text[item.end : line_end], item.end):
        if len(quoted) > ITEM_DETAILS or (style and _marker(s.text)[0] == style):
            break
        quoted.append(Span(doc.doc_id, s.start, s.end))
    chunks = chunks_of(doc.doc_id)
    hits = {h.chunk.chunk_id: h for h in result.hits}
    citations: list[Citation] = []
    passages: dict[str, Hit] = {}
    text = ""
    for n, span in enumerate(quoted, start=1):
        chunk = _chunk_holding(chunks, span.start)
        chunk_id = chunk.chunk_id if chunk is not None else ""
        citations.append(make_citation(n, doc, chunk_id, span.start, span.end))
        text += f"{doc.text[span.start : span.end]}[{n}]"
        if chunk is not None and chunk_id not in passages:
            passages[chunk_id] = hits.get(chunk_id) or Hit(
                chunk, len(result.hits) + len(passages) + 1, 0.0
            )
    english = not has_han(followup.question)
    if english:
        from rag.answering.extractive import ENGLISH_NOTE

        text, note = f"{ENGLISH_NOTE}\n{text}", ENGLISH_NOTE
    else:
        note = ""
    return Answer(
        question=followup.query,
        text=text,
        answerable=True,
        citations=tuple(citations),
        passages=tuple(sorted(passages.values(), key=lambda h: h.rank)),
        note=note,
    )


def _chunk_holding(chunks: list[Chunk], offset: int) -> Chunk | None:
    return next((c for c in chunks if c.start <= offset < c.end), None)
