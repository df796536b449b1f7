"""Every route of the HTTP API, in-process (TestClient) over the fake encoder: seconds, not minutes.

The real model behind a real uvicorn is tested in test_api.py (slow); these check the HTTP
contract: shapes, status codes, messages, security, limits and hardening.
"""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import get_engine
from api.settings import Settings
from tests.conftest import BUNDLED_PAGE
from tests.test_api import BAD_INPUT

HIGHLIGHTS = "职业伤害保障试点有哪四个亮点？"
ORIGIN = "http://example.org"


def make_client(engine, **settings) -> TestClient:
    app = create_app(Settings().with_overrides(**settings), engine=engine)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(fake_engine):
    with make_client(fake_engine, max_body_bytes=20_000) as c:
        yield c


def _text(client, doc_id: str) -> str:
    return client.get(f"/documents/{doc_id}").json()["text"]


# ---- the routes -----------------------------------------------------------------------------
def test_health_get_and_head(client, fake_engine):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["chunks"] > 20
    assert body["model"] == fake_engine.index.encoder.name and body["index_built_at"]
    assert body["read_only"] is False and body["generation"] is False
    head = client.head("/health")
    assert head.status_code == 200 and head.content == b""


def test_search_hits_are_verbatim_slices_with_per_leg_scores(client):
    r = client.post("/search", json={"query": "职业伤害保障", "top_k": 3, "mode": "hybrid"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "hybrid" and len(body["hits"]) == 3
    assert [h["rank"] for h in body["hits"]] == [1, 2, 3]
    for hit in body["hits"]:
        assert _text(client, hit["doc_id"])[hit["start"] : hit["end"]] == hit["text"]
        assert hit["scores"] and set(hit["scores"]) <= {"dense", "keyword"}
    keyword = client.post("/search", json={"query": "职业伤害保障", "mode": "keyword"}).json()
    # Keyword mode ranks by the keyword leg alone: its score is the hit's score.
    assert keyword["hits"] and all(h["score"] == h["scores"]["keyword"] for h in keyword["hits"])


def test_ask_cites_verbatim_quotes_numbered_in_order(client):
    body = client.post("/ask", json={"question": HIGHLIGHTS, "top_k": 5}).json()
    assert body["answerable"] is True and body["citations"]
    assert [c["n"] for c in body["citations"]] == list(range(1, len(body["citations"]) + 1))
    for c in body["citations"]:
        assert _text(client, c["doc_id"])[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in body["answer"]


def test_documents_list_get_add_search_delete(client):
    listed = client.get("/documents").json()
    assert len(listed) == 5 and all(d["chunks"] > 0 and d["characters"] > 0 for d in listed)
    doc = client.get(f"/documents/{listed[0]['id']}").json()
    assert doc["id"] == listed[0]["id"] and len(doc["text"]) == listed[0]["characters"]
    assert all(
        doc["text"].startswith(s["title"], s["start"]) for s in doc["sections"] if s["title"]
    )
    r = client.post(
        "/documents",
        json={
            "title": "社区食堂试点扩大",
            "text": "本市社区食堂试点扩大到二十个街道。",
            "authors": ["张三"],
        },
    )
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["chunks"] >= 1 and added["authors"] == ["张三"]
    hits = client.post("/search", json={"query": "社区食堂", "mode": "keyword"}).json()["hits"]
    assert hits[0]["doc_id"] == added["id"]
    r = client.delete(f"/documents/{added['id']}")
    assert r.status_code == 200
    assert r.json() == {"deleted": added["id"], "chunks_removed": added["chunks"]}
    assert client.get(f"/documents/{added['id']}").status_code == 404
    assert len(client.get("/documents").json()) == 5


def test_openai_models_and_chat_completion(client):
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["rag-news-zh"]
    r = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": HIGHLIGHTS}]}
    )
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert "[1]" in reply["choices"][0]["message"]["content"]


def test_openai_chat_completion_streams_chunks_ending_with_done(client):
    payload = {"stream": True, "messages": [{"role": "user", "content": HIGHLIGHTS}]}
    with client.stream("POST", "/v1/chat/completions", json=payload) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        data = [line[len("data: ") :] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    # Completion chunks (other events, such as a frontend's source events, may come between)
    chunks = [c for c in map(json.loads, data[:-1]) if c.get("choices")]
    assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "[1]" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "payload", "status", "needle"), BAD_INPUT)
def test_bad_input_gets_a_4xx_naming_the_problem(client, path, payload, status, needle):
    r = client.post(path, json=payload)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


@pytest.mark.parametrize("top_k", [True, "5", 100.0, 5.0, None])
@pytest.mark.parametrize("path", ["/search", "/ask"])
def test_top_k_is_strict(client, path, top_k):
    field = "query" if path == "/search" else "question"
    r = client.post(path, json={field: "工会", "top_k": top_k})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == "top_k" and "field 'top_k'" in r.json()["detail"]


def test_overlong_title_is_refused_naming_the_limit(client):
    r = client.post("/documents", json={"title": "题" * 301, "text": "正文。"})
    assert r.status_code == 400 and "the limit is 300" in r.json()["detail"]


def test_malformed_json_unknown_document_and_endpoint(client):
    r = client.post(
        "/search", content=b'{"query": "x",', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = client.get("/documents/no-such-doc")
    assert r.status_code == 404 and "no document with id 'no-such-doc'" in r.json()["detail"]
    assert client.delete("/documents/no-such-doc").status_code == 404
    r = client.get("/nowhere")
    assert r.status_code == 404 and "no such endpoint" in r.json()["detail"]


def test_body_over_the_limit_is_413_with_or_without_content_length(client):
    r = client.post("/ask", json={"question": "长" * 30_000})
    assert r.status_code == 413 and "larger than 20000 bytes" in r.json()["detail"]

    def chunked():  # a generator body is sent chunked, without Content-Length
        yield b'{"question": "'
        for _ in range(30):
            yield "长".encode() * 1000
        yield b'"}'

    r = client.post("/ask", content=chunked(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert "larger than 20000 bytes" in r.json()["detail"]


# Raw strings: the JSON text holds the escape \ud800 (a lone high surrogate), as a client sends.
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/search", r'{"query": "\ud800"}', "query"),
        ("/ask", r'{"question": "工会\ud800"}', "question"),
        ("/documents", r'{"title": "t", "text": "\ud800"}', "text"),
        ("/documents", r'{"title": "t", "text": "正文", "authors": ["a", "\ud800"]}', "authors.1"),
        (
            "/v1/chat/completions",
            r'{"messages": [{"role": "user", "content": "\ud800"}]}',
            "messages.0.content",
        ),
        ("/search", r'{"query": "\udc00x"}', "query"),  # a lone low surrogate
    ],
)
def test_lone_surrogates_get_422_naming_the_field(client, path, body, field):
    r = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == field and "surrogate" in r.json()["detail"]


def test_a_surrogate_pair_is_ordinary_text(client):
    body = '{"query": "\\ud83d\\ude00 工会"}'  # an emoji written as a JSON escape pair
    r = client.post("/search", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["query"].startswith("\U0001f600")


def test_unexpected_error_is_one_logged_500_with_cors_headers(fake_engine, caplog):
    class Broken:
        config = fake_engine.config

        def search(self, *args, **kwargs):
            raise RuntimeError("boom")

    app = create_app(Settings().with_overrides(cors_origins=(ORIGIN,)), engine=fake_engine)
    app.dependency_overrides[get_engine] = lambda: Broken()
    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR):
        r = c.post("/search", json={"query": "工会"}, headers={"Origin": ORIGIN})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert "boom" not in r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    logged = [rec for rec in caplog.records if rec.exc_info and "boom" in str(rec.exc_info[1])]
    assert len(logged) == 1


def test_413_and_422_carry_cors_headers(fake_engine):
    with make_client(fake_engine, cors_origins=(ORIGIN,), max_body_bytes=100) as c:
        r = c.post("/search", json={"query": "长" * 200}, headers={"Origin": ORIGIN})
        assert r.status_code == 413 and r.headers["access-control-allow-origin"] == ORIGIN
        r = c.post("/search", json={"top_k": 1}, headers={"Origin": ORIGIN})
        assert r.status_code == 422 and r.headers["access-control-allow-origin"] == ORIGIN
        r = c.options(
            "/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert r.headers["access-control-allow-origin"] == ORIGIN
    with make_client(fake_engine) as c:  # CORS off unless origins are listed
        r = c.post("/search", json={"query": "工会"}, headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in r.headers


# ---- security -------------------------------------------------------------------------------
def test_api_key_guards_everything_but_health(fake_engine):
    with make_client(fake_engine, api_key="s3cret") as c:
        assert c.get("/health").status_code == 200
        r = c.post("/search", json={"query": "工会"})
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
        for method, path in [
            ("GET", "/documents"),
            ("GET", "/v1/models"),
            ("DELETE", "/documents/x"),
        ]:
            assert (
                c.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code
                == 401
            )
        ok = c.post("/search", json={"query": "工会"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        # A non-ASCII token is a wrong key (401), not a crash.
        r = c.get("/documents", headers={"Authorization": "Bearer 密钥".encode()})
        assert r.status_code == 401


def test_a_non_ascii_api_key_works_with_the_right_key(fake_engine):
    with make_client(fake_engine, api_key="密钥") as c:
        assert (
            c.get("/documents", headers={"Authorization": "Bearer 密钥".encode()}).status_code
            == 200
        )
        assert (
            c.get("/documents", headers={"Authorization": "Bearer 密".encode()}).status_code == 401
        )
        assert c.get("/documents", headers={"Authorization": b"Bearer \xe5\xaf"}).status_code == 401
        assert c.get("/documents").status_code == 401


def test_read_only_service_refuses_writes(fake_engine):
    from dataclasses import replace

    from rag.engine import Engine

    ro = Engine(replace(fake_engine.config, read_only=True))
    ro.index, ro.searcher = fake_engine.index, fake_engine.searcher
    with make_client(ro) as c:
        r = c.post("/documents", json={"title": "t", "text": "正文。"})
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
        assert c.delete("/documents/anything").status_code == 403
        assert c.post("/search", json={"query": "工会"}).status_code == 200
        assert c.get("/health").json()["read_only"] is True


# ---- the documented contract ----------------------------------------------------------------
def test_openapi_documents_bounds_and_every_response(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    top_k = schemas["SearchRequest"]["properties"]["top_k"]
    assert (top_k["minimum"], top_k["maximum"], top_k["type"]) == (1, 100, "integer")
    assert schemas["SearchRequest"]["properties"]["mode"]["enum"] == ["hybrid", "dense", "keyword"]
    assert schemas["AskRequest"]["properties"]["question"]["maxLength"] == 2000
    for path, method in [
        ("/health", "get"),
        ("/search", "post"),
        ("/ask", "post"),
        ("/documents", "get"),
        ("/documents", "post"),
        ("/documents/{doc_id}", "get"),
        ("/documents/{doc_id}", "delete"),
    ]:
        responses = spec["paths"][path][method]["responses"]
        ok = responses.get("200") or responses.get("201")
        assert ok["content"]["application/json"]["schema"], (path, method)
    assert "head" not in spec["paths"]["/health"]
    assert "职业伤害保障试点有哪四个亮点" in json.dumps(spec, ensure_ascii=False)


def test_a_500_is_logged_once_by_a_real_server(fake_engine, caplog):
    """Starlette's handler re-raised after answering, and uvicorn logged the error again."""
    import httpx

    from tests.conftest import LiveServer

    class Broken:
        config = fake_engine.config

        def documents(self):
            raise RuntimeError("boom")

    app = create_app(Settings(), engine=fake_engine)
    app.dependency_overrides[get_engine] = lambda: Broken()
    uvicorn_log = logging.getLogger("uvicorn.error")  # does not propagate to the root logger
    with caplog.at_level(logging.ERROR), LiveServer(app) as live:
        uvicorn_log.addHandler(caplog.handler)  # once started: its logging set-up resets handlers
        try:
            r = httpx.get(f"{live.url}/documents", timeout=30)
        finally:
            uvicorn_log.removeHandler(caplog.handler)
    assert r.status_code == 500
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1, [rec.getMessage() for rec in errors]
    assert "GET /documents" in errors[0].getMessage()


def test_the_app_closes_the_engine_it_built_at_shutdown(monkeypatch, tmp_path):
    """The writer lock is given back (and a compaction finished) when the server stops."""
    import api.app as app_module
    from rag.embedding.fake import HashEncoder
    from rag.engine import Engine
    from rag.index.lock import held_here

    built: list[Engine] = []

    def engine_with_fake_encoder(config):
        built.append(Engine(config, encoder=HashEncoder()))
        return built[-1]

    monkeypatch.setattr(app_module, "Engine", engine_with_fake_encoder)
    settings = Settings(index_dir=tmp_path / "idx", corpus=(BUNDLED_PAGE,))
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert held_here(settings.index_dir)
    assert len(built) == 1 and not held_here(settings.index_dir)
