"""Open WebUI's recorded requests replayed against the API (in-process, the real model).

tests/data/openwebui/ holds every request Open WebUI 0.12.4 sent to ``rag serve`` in real
sessions (recorded with scripts/record_requests.py; keys redacted): chats with its ~36 tool
definitions and the whole history, and its title, tags and follow-up tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.test_openwebui_tasks import recorded_requests

pytestmark = pytest.mark.slow

RECORDED = Path(__file__).parent / "data" / "openwebui"
ASKED_KEYS = {"title": str, "tags": list, "follow_ups": list, "queries": list}


@pytest.fixture(scope="module")
def client(real_engine):
    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(), engine=real_engine)) as client:
        yield client


def replay(client, record: dict, **changes) -> object:
    body = {**record["json"], **changes}
    headers = {k: v for k, v in record["headers"].items() if k in ("user-agent", "content-type")}
    return client.post("/v1/chat/completions", json=body, headers=headers)


def sse_chunks(text: str) -> list[dict]:
    lines = [ln[len("data: ") :] for ln in text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(ln) for ln in lines[:-1]]


def chats() -> list[dict]:
    return [r for r in recorded_requests() if r["json"].get("tools")]


def tasks() -> list[dict]:
    return [r for r in recorded_requests() if not r["json"].get("tools")]


def test_the_recordings_hold_chats_with_tools_and_long_histories():
    assert chats() and tasks()
    assert all(len(r["json"]["tools"]) > 30 for r in chats())
    assert any(len(r["json"]["messages"]) >= 3 for r in chats())


@pytest.mark.parametrize("record", tasks(), ids=lambda r: r["json"]["messages"][-1]["content"][:40])
def test_task_prompts_get_json_of_the_asked_shape(client, record):
    response = replay(client, record)
    assert response.status_code == 200
    content = response.json()["choices"][0]["message"]["content"]
    reply = json.loads(content)
    prompt = record["json"]["messages"][-1]["content"]
    (key,) = reply
    assert f'"{key}"' in prompt.split("### Output", 1)[1]
    assert isinstance(reply[key], ASKED_KEYS[key]) and reply[key]


@pytest.mark.parametrize("record", chats(), ids=lambda r: r["json"]["messages"][-1]["content"])
def test_streamed_chats_carry_one_distinct_source_event_per_citation(client, record, real_engine):
    response = replay(client, record)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(response.text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    citations = last["citations"]
    events = [c["event"] for c in chunks if "event" in c]
    assert all(e["type"] == "source" for e in events)
    assert len(events) == len(citations)
    keys = [e["data"]["metadata"][0]["source"] for e in events]
    assert len(set(keys)) == len(keys)  # one chip per citation, never merged
    for event, c in zip(events, citations, strict=True):
        data = event["data"]
        assert data["document"] == [c["quote"]]
        assert data["source"]["name"].startswith(c["title"])
        assert real_engine.document(c["doc_id"]).text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in text
    # The chips replace the text Sources list: each source is shown once.
    assert "Sources:" not in text
    assert chunks.index(last) > max(chunks.index(c) for c in chunks if "event" in c)


@pytest.mark.parametrize("record", chats()[:1], ids=["first-chat"])
def test_non_streamed_chats_carry_sources(client, record):
    response = replay(client, record, stream=False)
    assert response.status_code == 200
    body = response.json()
    assert body["citations"] and len(body["sources"]) == len(body["citations"])
    assert len({s["metadata"][0]["source"] for s in body["sources"]}) == len(body["sources"])
    assert "Sources:" not in body["choices"][0]["message"]["content"]


def test_other_clients_keep_the_text_sources_and_get_no_events(client):
    (record, *_) = chats()
    body = {"messages": record["json"]["messages"], "stream": True}
    chunks = sse_chunks(client.post("/v1/chat/completions", json=body).text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "Sources:" in text and not any("event" in c for c in chunks)
    assert chunks[-1]["citations"]
    # ...unless they ask for Open WebUI's events, and the other way round.
    forced = client.post(
        "/v1/chat/completions", json={**body, "stream": False, "sources": "events"}
    )
    assert forced.json()["sources"]
    plain = replay(client, record, stream=False, sources="text")
    assert "sources" not in plain.json()
    assert "Sources:" in plain.json()["choices"][0]["message"]["content"]


def test_the_recorded_ordinal_follow_up_gets_the_second_item(client):
    record = next(
        r for r in chats() if r["json"]["messages"][-1]["content"] == "第二个亮点具体指什么？"
    )
    assert len(record["json"]["messages"]) == 3  # Open WebUI sent the whole conversation
    chunks = sse_chunks(replay(client, record).text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.startswith("其二") and "其一" not in text
