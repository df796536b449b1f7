"""The access log: one rag.access line per request, questions hashed unless told, no keys."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

QUESTION = "职业伤害保障试点有哪四个亮点？"
KEY = "sk-very-secret-key-123"
LINE = re.compile(r"^(GET|POST|DELETE|HEAD) (\S+) (\d{3}) (\d+\.\d)ms(?: (.*))?$")


def _client(engine, **settings) -> TestClient:
    app = create_app(Settings().with_overrides(**settings), engine=engine)
    return TestClient(app, raise_server_exceptions=False)


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rag.access"]


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, so a leak anywhere would show
    return caplog


def test_one_line_per_request_with_method_path_status_latency(fake_engine, access):
    with _client(fake_engine) as c:
        c.get("/health")
        c.post("/search", json={"top_k": 1})
        c.get("/documents/nope")
    lines = _lines(access)
    assert len(lines) == 3
    parsed = [LINE.match(line).groups()[:3] for line in lines]
    assert parsed == [
        ("GET", "/health", "200"),
        ("POST", "/search", "422"),
        ("GET", "/documents/nope", "404"),
    ]
    record = next(r for r in access.records if r.name == "rag.access")
    assert record.access["status"] == 200 and record.access["latency_ms"] >= 0


def test_ask_logs_a_hash_of_the_question_answerable_and_citations(fake_engine, access):
    with _client(fake_engine) as c:
        body = c.post("/ask", json={"question": QUESTION}).json()
    (line,) = _lines(access)
    digest = hashlib.sha256(QUESTION.encode()).hexdigest()[:12]
    assert f"question=sha256:{digest}" in line and QUESTION not in line
    assert "answerable=true" in line and f"citations={len(body['citations'])}" in line
    assert LINE.match(line).group(3) == "200" and "turns=" not in line


def test_a_follow_up_logs_how_many_earlier_turns_came_with_it(fake_engine, access):
    earlier = {"question": QUESTION, "answer": "1. 其一。[1]"}
    with _client(fake_engine) as c:
        c.post("/ask", json={"question": "第二个呢？", "history": [earlier, earlier]})
    (line,) = _lines(access)
    assert "turns=2" in line and "第二个" not in line


def test_search_logs_the_question_text_when_asked(fake_engine, access):
    with _client(fake_engine, log_questions=True) as c:
        c.post("/search", json={"query": "工会 \n 职工", "top_k": 2})
    (line,) = _lines(access)
    # JSON-quoted, so a question with a newline stays on one line
    assert 'question="工会 \\n 职工"' in line and "hits=2" in line and "\n" not in line


def test_the_api_key_never_appears_in_any_log(fake_engine, access):
    with _client(fake_engine, api_key=KEY, log_questions=True) as c:
        auth = {"Authorization": f"Bearer {KEY}"}
        assert c.post("/ask", json={"question": QUESTION}, headers=auth).status_code == 200
        assert c.get("/documents", headers={"Authorization": f"Bearer {KEY}x"}).status_code == 401
        c.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "工会"}]},
            headers=auth,
        )
    assert len(_lines(access)) == 3
    assert KEY not in access.text
    assert all(KEY not in str(vars(r)) for r in access.records)


def test_errors_and_streamed_replies_are_logged_with_their_status(fake_engine, access):
    with _client(fake_engine, max_body_bytes=100) as c:
        c.post("/ask", json={"question": "长" * 100})
        c.post(
            "/search", content=rb'{"query": "\ud800"}', headers={"content-type": "application/json"}
        )
    with _client(fake_engine) as c:
        payload = {"stream": True, "messages": [{"role": "user", "content": QUESTION}]}
        with c.stream("POST", "/v1/chat/completions", json=payload) as r:
            assert not _lines(access)[2:]  # not logged before the reply has been sent
            text = "".join(r.iter_text())
    statuses = [LINE.match(line).groups()[:3] for line in _lines(access)]
    assert statuses == [
        ("POST", "/ask", "413"),
        ("POST", "/search", "422"),
        ("POST", "/v1/chat/completions", "200"),
    ]
    assert "[DONE]" in text
