"""Conversations over HTTP: /ask with ``history``, the real model, a real uvicorn server.

Each follow-up is sent the way a client does it: the earlier turns' questions, and the
answers and citations /ask returned for them.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import serve

pytestmark = pytest.mark.slow

FOUR_HIGHLIGHTS = "职业伤害保障试点有哪四个亮点？"
ITEMS = ("其一", "其二", "其三", "其四")
TIANJIN_TITLE = "打造高素质职工队伍 助力建设世界一流企业"


@pytest.fixture(scope="module")
def client(real_engine):
    with serve(real_engine) as live, httpx.Client(base_url=live.url, timeout=120) as http:
        yield http


class Conversation:
    """Asks questions in turn, sending the earlier turns as /ask's ``history``."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.history: list[dict] = []

    def ask(self, question: str) -> dict:
        reply = self.client.post("/ask", json={"question": question, "history": self.history})
        assert reply.status_code == 200, reply.text
        data = reply.json()
        self.history.append(
            {"question": question, "answer": data["answer"], "citations": data["citations"]}
        )
        return data


def check_verbatim(client: httpx.Client, data: dict) -> None:
    for c in data["citations"]:
        text = client.get(f"/documents/{c['doc_id']}").json()["text"]
        assert text[c["start"] : c["end"]] == c["quote"]


def items_cited(data: dict) -> list[str]:
    return [c["quote"][:2] for c in data["citations"] if c["quote"][:2] in ITEMS]


def test_ordinal_follow_ups_answer_with_that_item(client):
    chat = Conversation(client)
    first = chat.ask(FOUR_HIGHLIGHTS)
    assert items_cited(first) == list(ITEMS)

    for question, item in [
        ("第二个亮点具体指什么？", "其二"),
        ("最后一个呢？", "其四"),
        ("Tell me more about the second one", "其二"),
        ("the third one", "其三"),
    ]:
        data = chat.ask(question)
        assert data["question"] == question
        assert data["answerable"]
        # The item leads, explained by the sentences after it: no other item is quoted.
        assert items_cited(data) == [item], (question, data["answer"])
        lead = data["citations"][0]
        assert lead["quote"].startswith(item)
        body = data["answer"].removeprefix(data["note"].split(" 追问")[0]).lstrip()
        assert body.startswith(lead["quote"] + "[1]"), data["answer"]
        assert "Follow-up read as" in data["note"]
        check_verbatim(client, data)


def test_an_ordinal_asked_alone_is_not_a_two_item_list(client):
    data = Conversation(client).ask("第二个亮点具体指什么？")
    assert not any(line.startswith(("1.", "2.")) for line in data["answer"].splitlines())
    assert "Follow-up" not in data["note"]


def test_new_subject_keeps_the_topic(client):
    chat = Conversation(client)
    first = chat.ask("北京工会如何弘扬劳模精神？")
    assert any("劳模精神" in c["quote"] for c in first["citations"])
    data = chat.ask("那天津市总工会呢？")
    assert data["answerable"]
    assert data["citations"]
    # Answered from the Tianjin union's article, on the same topic.
    assert {c["title"] for c in data["citations"]} == {TIANJIN_TITLE}
    assert any("劳模精神" in c["quote"] for c in data["citations"]), data["answer"]
    assert "天津市总工会如何弘扬劳模精神" in data["note"]
    check_verbatim(client, data)


def test_pronoun_follow_up_continues_the_topic(client):
    chat = Conversation(client)
    chat.ask("职业伤害保障试点是什么时候开始的？")
    data = chat.ask("它覆盖了多少人？")
    assert any("668万" in c["quote"] for c in data["citations"]), data["answer"]
    assert "职业伤害保障试点覆盖了多少人" in data["note"]


def test_history_limits_give_clear_4xx(client):
    turn = {"question": "q", "answer": "a"}
    reply = client.post("/ask", json={"question": "为什么？", "history": [turn] * 21})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == "history"
    assert "21 turns" in error["message"] and "last 20" in error["message"]

    reply = client.post("/ask", json={"question": "为什么？", "history": [{"answer": "a"}]})
    assert reply.status_code == 422
    assert "history.0.question" in reply.json()["error"]["message"]

    reply = client.post("/ask", json={"question": "为什么？", "history": "职业伤害保障试点"})
    assert reply.status_code == 422
    assert reply.json()["error"]["param"] == "history"


def test_length_limit_applies_to_the_question_not_the_history(client):
    long_turn = {"question": "职业伤害保障试点" + "的情况" * 900, "answer": "试点。" * 2000}
    reply = client.post("/ask", json={"question": "为什么？", "history": [long_turn]})
    assert reply.status_code == 200, reply.text

    reply = client.post("/ask", json={"question": "问" * 2001, "history": [long_turn]})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "question"


def test_this_article_after_an_answer_is_that_article_alone(client):
    # Asked alone, 这篇文章的作者是谁？ names no article, and each retrieved one answers under
    # its title; after an answer, "this article" is the one it quoted, and it alone answers.
    alone = Conversation(client).ask("这篇文章的作者是谁？")
    assert alone["answer"].count("《") >= 2 and len({c["doc_id"] for c in alone["citations"]}) >= 2
    chat = Conversation(client)
    first = chat.ask(FOUR_HIGHLIGHTS)
    data = chat.ask("这篇文章的作者是谁？")
    assert data["answer"].startswith("作者：鲁全。"), data["answer"]
    assert {c["doc_id"] for c in data["citations"]} == {first["citations"][0]["doc_id"]}
    check_verbatim(client, data)
