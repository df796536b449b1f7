"""Background task prompts of chat frontends, recognised and answered from the conversation.

The Open WebUI prompts are the ones it really sent (recorded from Open WebUI 0.12.4 in front
of ``rag serve``, tests/data/openwebui/); LobeChat's and NextChat's are their published
prompt texts, sent the way those frontends send them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.chat import Message, answer_task, quoted_citations, recognise_task

RECORDED = Path(__file__).parent / "data" / "openwebui"
QUESTION = "职业伤害保障试点有哪四个亮点？"
PILOT_TITLE = "建立和完善平台从业人员职业伤害保障的有益探索"


def recorded_requests() -> list[dict]:
    requests = []
    for path in sorted(RECORDED.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["path"] == "/v1/chat/completions":
                requests.append(record)
    return requests


def messages_of(body: dict) -> list[Message]:
    out = []
    for m in body["messages"]:
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(p.get("text") or "" for p in content if p.get("type") == "text")
        out.append(Message(m["role"], content or ""))
    return out


def task_requests(kind: str) -> list[dict]:
    found = []
    for record in recorded_requests():
        task = recognise_task(messages_of(record["json"]))
        if task is not None and task.kind == kind:
            found.append(record)
    return found


@pytest.fixture(scope="module")
def pilot(documents):
    return next(d for d in documents.values() if d.title == PILOT_TITLE)


def test_recorded_requests_are_told_apart():
    kinds = []
    for record in recorded_requests():
        task = recognise_task(messages_of(record["json"]))
        kinds.append(task.kind if task else "question")
        if record["json"].get("tools"):  # Open WebUI's chats carry its ~36 tools
            assert task is None
    assert {"title", "tags", "follow_ups", "question"} <= set(kinds)


def test_open_webui_title_is_the_first_question(documents):
    (record, *_) = task_requests("title")
    reply = json.loads(answer_task(recognise_task(messages_of(record["json"])), documents))
    assert reply == {"title": QUESTION.rstrip("？")}


def test_open_webui_tags_are_the_cited_articles_columns_and_titles(documents, pilot):
    for record in task_requests("tags"):
        reply = json.loads(answer_task(recognise_task(messages_of(record["json"])), documents))
        assert list(reply) == ["tags"]
        assert reply["tags"][:2] == [pilot.column, pilot.title]


def test_open_webui_follow_ups_come_from_the_cited_article(documents, pilot):
    records = task_requests("follow_ups")
    assert len(records) >= 2  # after the first turn and after the follow-up
    for record in records:
        task = recognise_task(messages_of(record["json"]))
        reply = json.loads(answer_task(task, documents))
        assert list(reply) == ["follow_ups"]
        suggestions = reply["follow_ups"]
        assert 3 <= len(suggestions) <= 5 and len(set(suggestions)) == len(suggestions)
        asked = {m.text for m in task.transcript if m.role == "user"}
        for s in suggestions:
            assert s not in asked
            # Each names a list item of the article (in quotes) or the article itself.
            named = s.split("“")[1].split("”")[0] if "“" in s else s.split("《")[1].split("》")[0]
            assert named in pilot.text or named == pilot.title
    # The four highlights are the article's 其一…其四 paragraphs: all of them are offered.
    last = json.loads(answer_task(recognise_task(messages_of(records[-1]["json"])), documents))
    assert any("突破和创新" in s for s in last["follow_ups"])
    assert any("劳动权益" in s for s in last["follow_ups"])


def test_task_prompts_longer_than_a_question_are_still_tasks():
    records = task_requests("follow_ups")
    longest = max(len(r["json"]["messages"][-1]["content"]) for r in records)
    assert longest > 2000  # the question length limit; it must not apply here


def test_english_conversations_get_english_follow_ups(documents, pilot):
    start = pilot.text.index("其一")
    end = pilot.text.index("。", start) + 1
    quote = pilot.text[start:end]
    prompt = (
        "### Task:\nSuggest follow-ups.\n### Output:\n"
        'JSON format: { "follow_ups": ["Question 1?"] }\n### Chat History:\n<chat_history>\n'
        f"USER: What are the four highlights of the pilot?\nASSISTANT: 1. {quote}[1]\n"
        "</chat_history>"
    )
    reply = json.loads(answer_task(recognise_task([Message("user", prompt)]), documents))
    assert reply["follow_ups"]
    assert all(
        s.startswith(("Tell me more", "What does", "Who wrote")) for s in reply["follow_ups"]
    )


@pytest.mark.parametrize(
    "messages, kind",
    [
        (  # LobeChat: a system prompt, the conversation as "role: content" lines
            [
                Message(
                    "system",
                    "You are a professional conversation summarizer. Generate a concise "
                    "title that captures the essence of the conversation.\n\nRules:\n- Output "
                    "ONLY the title text",
                ),
                Message("user", f"user: {QUESTION}\nassistant: 1. 其一,精准回应了…[1]"),
            ],
            "title",
        ),
        (  # NextChat: the conversation, then its topic prompt as the last user message
            [
                Message("user", QUESTION),
                Message("assistant", "1. 其一,精准回应了…[1]"),
                Message(
                    "user",
                    "使用四到五个字直接返回这句话的简要主题，不要解释、不要标点、不要语气词、"
                    "不要多余文本，不要加粗，如果没有主题，请直接返回“闲聊”",
                ),
            ],
            "title",
        ),
        (  # NextChat's memory summary
            [
                Message("user", QUESTION),
                Message("assistant", "1. 其一,精准回应了…[1]"),
                Message(
                    "system",
                    "Summarize the discussion briefly in 200 words or less to use as a "
                    "prompt for future context.",
                ),
            ],
            "summary",
        ),
    ],
)
def test_other_frontends_tasks_get_plain_text(messages, kind, documents):
    task = recognise_task(messages)
    assert task is not None and task.kind == kind and task.json_key == ""
    reply = answer_task(task, documents)
    assert not reply.startswith("{")
    assert QUESTION.rstrip("？") in reply
    if kind == "summary":
        assert "其一,精准回应了" in reply


@pytest.mark.parametrize(
    "text",
    [QUESTION, "Generate a title for the injury pilot?", "### Task: 你好", "JSON format: {}"],
)
def test_questions_are_not_tasks(text):
    assert recognise_task([Message("user", text)]) is None


def test_quotes_of_an_earlier_answer_become_citations(documents, pilot):
    start = pilot.text.index("其二")
    end = pilot.text.index("。", start) + 1
    quote = pilot.text[start:end]
    for text in (
        f"1. {quote}[1]",  # an extractive answer: its sentences are quotes
        f"试点有突破[1]。\n\nSources:\n[1] {pilot.title}: “{quote}”",  # a Sources list
    ):
        (citation,) = quoted_citations(text, documents)
        assert citation.doc_id == pilot.doc_id
        assert pilot.text[citation.start : citation.end] == citation.quote == quote
    assert quoted_citations("The pilot has four highlights [1].", documents) == ()
