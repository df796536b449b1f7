"""Conversations through the official ``openai`` client (real model, real server, no LLM).

A chat client keeps nothing but the text of the replies: the follow-up is resolved from the
quotes in that text (its markers and Sources list), as Open WebUI or any other client sends it.
"""

from __future__ import annotations

import pytest

from tests.conftest import serve

pytestmark = pytest.mark.slow

FOUR_HIGHLIGHTS = "职业伤害保障试点有哪四个亮点？"
ITEMS = ("其一", "其二", "其三", "其四")
TIANJIN_TITLE = "打造高素质职工队伍 助力建设世界一流企业"


@pytest.fixture(scope="module")
def client(real_engine):
    from openai import OpenAI

    with serve(real_engine) as live:
        yield OpenAI(base_url=f"{live.url}/v1", api_key="unused", timeout=120, max_retries=0)


class Chat:
    """Keeps the messages a chat client would send: questions and the replies' text."""

    def __init__(self, client, stream: bool = False) -> None:
        self.client = client
        self.stream = stream
        self.messages: list[dict] = [{"role": "system", "content": "You answer from news."}]

    def ask(self, question: str) -> tuple[str, list[dict]]:
        self.messages.append({"role": "user", "content": question})
        if self.stream:
            text, citations = "", []
            for chunk in self.client.chat.completions.create(
                model="rag-news-zh", messages=self.messages, stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                citations = (chunk.model_extra or {}).get("citations") or citations
        else:
            reply = self.client.chat.completions.create(model="rag-news-zh", messages=self.messages)
            text, citations = reply.choices[0].message.content, reply.model_extra["citations"]
        self.messages.append({"role": "assistant", "content": text})
        return text, citations


def items_cited(citations: list[dict]) -> list[str]:
    return [c["quote"][:2] for c in citations if c["quote"][:2] in ITEMS]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_ordinal_follow_ups_through_the_openai_client(client, stream):
    chat = Chat(client, stream)
    _, citations = chat.ask(FOUR_HIGHLIGHTS)
    assert items_cited(citations) == list(ITEMS)
    for question, item in [
        ("第二个亮点具体指什么？", "其二"),
        ("最后一个呢？", "其四"),
        ("Tell me more about the second one", "其二"),
    ]:
        text, citations = chat.ask(question)
        assert items_cited(citations) == [item], (question, text)
        first_quote = citations[0]["quote"]
        assert first_quote.startswith(item)
        # The reply leads with the item (after the English note for the English question).
        body = [line for line in text.splitlines() if line.strip() and "[1]" in line]
        assert body[0].startswith(first_quote + "[1]"), text


def test_new_subject_through_the_openai_client(client):
    chat = Chat(client)
    chat.ask("北京工会如何弘扬劳模精神？")
    text, citations = chat.ask("那天津市总工会呢？")
    assert citations, text
    assert {c["title"] for c in citations} == {TIANJIN_TITLE}
    assert any("劳模精神" in c["quote"] for c in citations), text
