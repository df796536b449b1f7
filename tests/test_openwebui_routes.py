"""/v1/chat/completions in-process with the fake encoder: fast checks of the chat contract.

The same recorded Open WebUI requests as tests/test_openwebui.py, plus the edges chat
frontends reach: null content parts, long histories, long task prompts, the access log and
the OpenAPI schema. The real model's answers are checked in the slow tests.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
from fastapi.testclient import TestClient

from tests.test_openwebui import sse_chunks
from tests.test_openwebui_tasks import recorded_requests

QUESTION = "职业伤害保障试点有哪四个亮点？"


@pytest.fixture(scope="module")
def client(fake_engine):
    from api.app import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(), engine=fake_engine)) as client:
        yield client


def chat(client, messages, **body):
    return client.post("/v1/chat/completions", json={"messages": messages, **body})


@pytest.mark.parametrize(
    "record", recorded_requests(), ids=lambda r: r["json"]["messages"][-1]["content"][:30]
)
def test_every_recorded_request_is_answered(client, record):
    response = client.post("/v1/chat/completions", json=record["json"])
    assert response.status_code == 200
    if record["json"].get("stream"):
        chunks = sse_chunks(response.text)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        events = [c["event"] for c in chunks if "event" in c]
        assert len(events) == len(chunks[-1]["citations"])  # Open WebUI's: one per citation
    else:
        json.loads(response.json()["choices"][0]["message"]["content"])  # a task: JSON


def test_a_null_text_part_is_refused_not_answered_as_none(client):
    response = chat(client, [{"role": "user", "content": [{"type": "text", "text": None}]}])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"
    parts = [{"type": "text", "text": None}, {"type": "text", "text": QUESTION}]
    body = chat(client, [{"role": "user", "content": parts}]).json()
    assert (
        body["choices"][0]["message"]["content"]
        == chat(client, [{"role": "user", "content": QUESTION}]).json()["choices"][0]["message"][
            "content"
        ]
    )


def test_length_limits_apply_to_the_question_only(client):
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "其一," + "精准回应" * 1500},
    ]
    assert chat(client, [*history, {"role": "user", "content": "其二呢？"}]).status_code == 200
    too_long = chat(client, [{"role": "user", "content": "工" * 5000}])
    assert too_long.status_code == 400 and "messages" in too_long.json()["error"]["message"]
    transcript = "\n".join(f"USER: {QUESTION}\nASSISTANT: {'其一' * 1000}" for _ in range(3))
    task = (
        "### Task:\nSuggest follow-ups.\n### Output:\n"
        f'JSON format: {{ "follow_ups": [] }}\n<chat_history>\n{transcript}\n</chat_history>'
    )
    assert len(task) > 5000
    reply = chat(client, [{"role": "user", "content": task}])
    assert reply.status_code == 200
    assert isinstance(
        json.loads(reply.json()["choices"][0]["message"]["content"])["follow_ups"], list
    )


def test_streaming_without_a_model_sends_the_answer_line_by_line(client):
    messages = [{"role": "user", "content": "北京工会要实施哪些行动？"}]
    whole = chat(client, messages).json()
    chunks = sse_chunks(chat(client, messages, stream=True).text)
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks]
    assert "".join(p or "" for p in pieces) == whole["choices"][0]["message"]["content"]
    # One piece per line of the answer (the Sources list follows as one piece).
    answer_text = whole["choices"][0]["message"]["content"].split("\n\nSources:")[0]
    lines = answer_text.splitlines(keepends=True)
    assert [p for p in pieces if p][: len(lines)] == lines
    assert chunks[-1]["citations"] == whole["citations"]


def test_the_access_log_has_the_question_hash_answerable_and_citations(client, caplog):
    caplog.set_level(logging.INFO, logger="rag.access")
    body = chat(client, [{"role": "user", "content": QUESTION}]).json()
    chat(client, [{"role": "user", "content": QUESTION}], stream=True)
    task = '### Task:\nTitle.\n### Output:\nJSON format: { "title": "t" }'
    chat(client, [{"role": "user", "content": task}])
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.access"]
    digest = hashlib.sha256(QUESTION.encode()).hexdigest()[:12]
    plain, streamed, titled = lines
    for line in (plain, streamed):
        assert f"question=sha256:{digest}" in line and QUESTION not in line
        assert f"answerable={str(body['answerable']).lower()}" in line
        assert f"citations={len(body['citations'])}" in line
    assert 'task="title"' in titled and "question=" not in titled


def test_the_schema_documents_the_chat_completion(client):
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/chat/completions"]["post"]
    ref = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"choices", "citations", "sources", "answerable"} <= set(props)
    top_k = spec["components"]["schemas"]["ChatRequest"]["properties"]["top_k"]
    assert top_k["minimum"] == 1 and top_k["maximum"] == 100
