"""Background tasks that chat frontends send as if they were questions.

After each turn a chat frontend asks the same model for housekeeping: Open WebUI for a
title, tags and follow-up suggestions (``### Task: … JSON format: { "title": … }``, with the
conversation inside ``<chat_history>``), LobeChat and ChatGPT-Next-Web (NextChat) for a
topic title or a summary of the conversation. Searched as questions they get article
text back; here they are recognised by their prompts and answered from the conversation
itself, in the format asked for, without retrieval:

* a title from the first question;
* tags from the titles and columns of the documents the answers cited;
* follow-up suggestions from those documents: the items of the list just answered (and the
  list's other items), then the sections of the articles cited, then their authors.

A task prompt is no question, so the question's length limit does not apply to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.chat.transcript import Message, quoted_citations
from rag.index.tokenize import has_han
from rag.parsing.cleaning import fold_in_place
from rag.types import Citation, Document

TaskKind = Literal["title", "tags", "follow_ups", "queries", "autocomplete", "summary"]

# Open WebUI: the keys of the JSON objects its task prompts ask for, and the task each means.
_OPENWEBUI_KEYS: dict[str, TaskKind] = {
    "title": "title",
    "tags": "tags",
    "follow_ups": "follow_ups",
    "queries": "queries",
    "text": "autocomplete",
}
_JSON_KEY = re.compile(r'\{\s*"(?P<key>[a-z_]+)"\s*:')
_CHAT_HISTORY = re.compile(r"<chat_history>\s*(?P<body>.*?)\s*</chat_history>", re.DOTALL)
_ROLE_LINE = re.compile(r"^(?P<role>USER|ASSISTANT|SYSTEM|TOOL|user|assistant|system|tool): ?",
                        re.MULTILINE)  # fmt: skip
# LobeChat's topic title (system message; the conversation as "role: content" lines).
_LOBE_TITLE = ("conversation summarizer", "summarize the user's conversation into a title",
               "会话总结为", "summarize the above conversation into a title")  # fmt: skip
# NextChat: its topic prompt and its memory summary prompt, in Chinese and English.
_NEXTCHAT_TOPIC = ("使用四到五个字直接返回这句话的简要主题",
                   "four to five word title summarizing our conversation")  # fmt: skip
_NEXTCHAT_SUMMARY = ("简要总结一下对话内容", "Summarize the discussion briefly in 200 words")

_MAX_TITLE_ZH = 24  # characters
_MAX_TITLE_EN = 60
_MAX_TAGS = 5
_MAX_FOLLOW_UPS = 5
_MAX_SUMMARY = 400

# Items of a list in an article or an answer: 其一/第一/一是/（一）/1. and the like.
_CN_NUMBERS = "一二三四五六七八九十"
_ITEM = re.compile(
    rf"(?:^|(?<=[。！？；\n]))\s*(?P<mark>其[{_CN_NUMBERS}]|第[{_CN_NUMBERS}]+|[{_CN_NUMBERS}]是"
    rf"|[（(][{_CN_NUMBERS}]+[)）]|[{_CN_NUMBERS}]+、)[,，、:：]?\s*(?P<lead>[^。！？；\n]{{4,60}})"
)
_ANSWER_ITEM = re.compile(r"^\s*\d+[.、)]\s*(?P<text>.+)$", re.MULTILINE)
_MARKERS = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class ChatTask:
    """A recognised background task: what it asks for and the conversation it is about.

    Attributes:
        kind: What is asked for.
        json_key: The key of the JSON object to reply with ("" for a plain-text reply).
        transcript: The conversation the task is about, oldest message first.
    """

    kind: TaskKind
    json_key: str
    transcript: tuple[Message, ...]


def recognise_task(messages: Sequence[Message]) -> ChatTask | None:
    """The background task these messages ask for, or None for an ordinary question."""
    if not messages:
        return None
    last = messages[-1]
    text = last.text
    if last.role == "user" and text.lstrip().startswith("### Task:"):
        output = text.split("### Output", 1)[-1]
        for match in _JSON_KEY.finditer(output):
            kind = _OPENWEBUI_KEYS.get(match.group("key"))
            if kind is not None:
                history = _CHAT_HISTORY.search(text)
                transcript = (
                    _parse_lines(history.group("body")) if history else tuple(messages[:-1])
                )
                return ChatTask(kind, match.group("key"), transcript)
        return None
    system = " ".join(m.text for m in messages if m.role == "system")
    if any(p in system or p in text for p in _LOBE_TITLE):
        body = next((m.text for m in reversed(messages) if m.role == "user"), "")
        return ChatTask("title", "", _parse_lines(body) or tuple(messages[:-1]))
    if last.role == "user" and any(p in text for p in _NEXTCHAT_TOPIC):
        return ChatTask("title", "", tuple(m for m in messages[:-1] if m.role != "system"))
    if any(p in m.text for m in messages[-2:] for p in _NEXTCHAT_SUMMARY):
        rest = tuple(m for m in messages if m.role != "system" and m is not last)
        return ChatTask("summary", "", rest)
    return None


def answer_task(task: ChatTask, documents: Mapping[str, Document]) -> str:
    """The reply to a background task: JSON of the asked shape, or plain text.

    Args:
        task: The recognised task.
        documents: The index's documents, in which the conversation's quotes are found.
    """
    questions = [m.text.strip() for m in task.transcript if m.role == "user" and m.text.strip()]
    answers = [m.text for m in task.transcript if m.role == "assistant"]
    value: object
    if task.kind == "title":
        value = make_title(questions[0] if questions else "")
    elif task.kind == "tags":
        value = make_tags(_cited(answers, documents), documents)
    elif task.kind == "follow_ups":
        last = answers[-1] if answers else ""
        value = make_follow_ups(last, quoted_citations(last, documents), documents, questions)
    elif task.kind == "queries":
        value = questions[-1:]
    elif task.kind == "summary":
        value = make_summary(task.transcript)
    else:  # autocomplete: the service writes no free text of its own
        value = ""
    if not task.json_key:
        return value if isinstance(value, str) else "\n".join(map(str, value))
    return json.dumps({task.json_key: value}, ensure_ascii=False)


def make_title(question: str) -> str:
    """A short title from the conversation's first question."""
    title = re.sub(r"\s+", " ", question).strip().strip("？?。.!！ ")
    limit = _MAX_TITLE_ZH if has_han(title) else _MAX_TITLE_EN
    if len(title) > limit:
        cut = title[:limit]
        if not has_han(title) and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        title = cut.rstrip(",，、 ") + "…"
    return title or "New chat"


def make_tags(cited: Sequence[Document], documents: Mapping[str, Document]) -> list[str]:
    """Tags for a conversation: the columns, then the titles, of the documents it cited."""
    tags: list[str] = []
    for doc in cited:
        if doc.column:
            tags.append(doc.column)
    for doc in cited:
        tags.append(doc.title)
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))[:_MAX_TAGS]


def make_follow_ups(
    answer: str,
    citations: Sequence[Citation],
    documents: Mapping[str, Document],
    asked: Sequence[str],
) -> list[str]:
    """Questions a reader may ask next, drawn from the documents the last answer cited.

    First the items of the list just answered (with the items of that list in the article
    that the answer did not show), then the sections of the articles cited, the items of
    their lists, and their authors and subject. Questions already asked are left out.
    """
    english = bool(asked) and not has_han(asked[-1])

    def about_item(lead: str) -> str:
        return f"Tell me more about “{lead}”." if english else f"“{lead}”具体指什么？"

    cited = [documents[d] for d in dict.fromkeys(c.doc_id for c in citations) if d in documents]
    # An item as the answer shows it, named as the article prints it (full-width marks).
    leads = [_as_printed(_lead(m.group("text")), cited) for m in _ANSWER_ITEM.finditer(answer)]
    for c in citations:
        doc = documents.get(c.doc_id)
        item = _ITEM.match(doc.text, c.start) if doc is not None else None
        if item:  # the cited quote opens a list item: its siblings are the list's other items
            leads.extend(_siblings(doc.text, item.group("mark")))
    items = [about_item(lead) for lead in dict.fromkeys(x for x in leads if x)]
    sections = [
        f"What does the section “{section.title}” of 《{doc.title}》 say?"
        if english
        else f"《{doc.title}》中“{section.title}”部分讲了什么？"
        for doc in cited
        for section in doc.sections
        if section.title not in {c.section for c in citations if c.doc_id == doc.doc_id}
    ]
    lists = [about_item(lead) for doc in cited for lead in _article_list(doc.text)]
    articles = []
    for doc in cited:
        if doc.authors:
            articles.append(
                f"Who wrote 《{doc.title}》?" if english else f"《{doc.title}》的作者是谁？"
            )
        articles.append(
            f"What is 《{doc.title}》 about?" if english else f"《{doc.title}》主要讲了什么？"
        )
    # The list's items come first, but a long list leaves room for the articles themselves.
    ranked = (
        items[:3] + sections[:2] + articles[:1] + items[3:] + sections[2:] + lists + articles[1:]
    )
    asked_set = {q.strip() for q in asked}
    return [s for s in dict.fromkeys(ranked) if s not in asked_set][:_MAX_FOLLOW_UPS]


def make_summary(transcript: Sequence[Message]) -> str:
    """A short recap of the conversation: each question with the start of its answer."""
    lines = []
    for i, m in enumerate(transcript):
        if m.role != "user":
            continue
        answer = next((n.text for n in transcript[i + 1 :] if n.role == "assistant"), "")
        first = _MARKERS.sub("", answer.strip().split("\n", 1)[0]).strip()
        lines.append(f"{m.text.strip()} — {first[:80]}" if first else m.text.strip())
    return "\n".join(lines)[:_MAX_SUMMARY]


def _parse_lines(text: str) -> tuple[Message, ...]:
    """A transcript written as ``ROLE: text`` lines (a message may run over several lines)."""
    matches = list(_ROLE_LINE.finditer(text))
    messages = []
    for m, following in zip(matches, matches[1:] + [None], strict=True):
        end = following.start() if following else len(text)
        messages.append(Message(m.group("role").lower(), text[m.end() : end].strip()))
    return tuple(messages)


def _cited(answers: Sequence[str], documents: Mapping[str, Document]) -> list[Document]:
    docs: dict[str, Document] = {}
    for answer in answers:
        for c in quoted_citations(answer, documents):
            docs.setdefault(c.doc_id, documents[c.doc_id])
    return list(docs.values())


def _as_printed(text: str, docs: Sequence[Document]) -> str:
    """``text`` as the first of ``docs`` holding it prints it (width folded to match)."""
    folded = fold_in_place(text)
    for doc in docs:
        start = fold_in_place(doc.text).find(folded)
        if start >= 0:
            return doc.text[start : start + len(text)]
    return text


def _lead(text: str) -> str:
    """An item's opening clause, without its ordinal and markers (its topic, in short)."""
    text = _MARKERS.sub("", text).strip()
    item = _ITEM.match(text)
    if item:
        return item.group("lead").strip(" ,，、:：")
    return re.split(r"[。！？；]", text, maxsplit=1)[0][:60].strip(" ,，、:：")


def _article_list(text: str) -> list[str]:
    """The leads of an article's longest list (its 其一…其N, 一是…N是 or 第一…第N items)."""
    by_style: dict[str, list[str]] = {}
    for m in _ITEM.finditer(text):
        style = re.sub(f"[{_CN_NUMBERS}]+", "N", m.group("mark"))
        by_style.setdefault(style, []).append(m.group("lead").strip(" ,，、:："))
    longest = max(by_style.values(), key=len, default=[])
    return longest if len(longest) >= 2 else []


def _siblings(text: str, mark: str) -> list[str]:
    """The leads of every item in ``text`` written in the same style as ``mark`` (其一 → 其N)."""
    style = re.sub(f"[{_CN_NUMBERS}]+", "N", mark)
    return [
        m.group("lead").strip(" ,，、:：")
        for m in _ITEM.finditer(text)
        if re.sub(f"[{_CN_NUMBERS}]+", "N", m.group("mark")) == style
    ]
