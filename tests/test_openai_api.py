"""The OpenAI-compatible endpoints, driven by the official ``openai`` client."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(real_engine):
    with serve(real_engine, api_key="k-123") as server:
        yield server


@pytest.fixture(scope="module")
def client(live):
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key="k-123", timeout=60)


def test_models_list(client):
    assert [m.id for m in client.models.list()] == ["rag-news-zh"]


def test_chat_completion_answers_with_markers_sources_and_structured_citations(client, real_engine):
    reply = client.chat.completions.create(
        model="rag-news-zh",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "earlier question"},
            {"role": "assistant", "content": "earlier answer"},
            {"role": "user", "content": "职业伤害保障试点有哪四个亮点？"},
        ],
    )
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert "其一" in text and "其四" in text and "[1]" in text and "Sources:" in text
    citations = reply.model_extra["citations"]
    assert len(citations) >= 4
    for c in citations:
        doc = real_engine.document(c["doc_id"])
        assert doc.text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}] {c['title']}" in text


def test_streaming_ends_with_done_and_carries_the_same_answer(client, live):
    stream = client.chat.completions.create(
        model="rag-news-zh",
        stream=True,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "What are the four highlights of the injury-insurance pilot?",
                    }
                ],
            }
        ],
    )
    parts, last = [], None
    for chunk in stream:
        parts.append(chunk.choices[0].delta.content or "")
        last = chunk
    text = "".join(parts)
    assert "其一" in text and "Sources:" in text
    assert last.choices[0].finish_reason == "stop" and last.model_extra["citations"]
    raw = httpx.post(
        f"{live.url}/v1/chat/completions",
        json={
            "stream": True,
            "messages": [{"role": "user", "content": "北京工会要实施哪些行动？"}],
        },
        headers={"Authorization": "Bearer k-123"},
        timeout=60,
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def test_bad_requests_come_back_as_openai_errors(client):
    with pytest.raises(openai.BadRequestError, match="at least one message with role 'user'"):
        client.chat.completions.create(
            model="rag-news-zh", messages=[{"role": "system", "content": "hi"}]
        )
    with pytest.raises(openai.BadRequestError, match="messages must not be empty"):
        client.chat.completions.create(
            model="rag-news-zh", messages=[{"role": "user", "content": "  "}]
        )
    bad = openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
