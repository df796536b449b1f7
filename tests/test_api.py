"""The HTTP API against a real uvicorn server and the real embedding model."""

from __future__ import annotations

import httpx
import pytest

from rag.engine import Engine
from tests.conftest import serve

pytestmark = pytest.mark.slow

HIGHLIGHTS_ZH = "职业伤害保障试点有哪四个亮点？"
HIGHLIGHTS_EN = "What are the four highlights of the injury-insurance pilot?"


@pytest.fixture(scope="module")
def server(real_engine):
    with serve(real_engine, max_body_bytes=20_000) as live:
        yield live


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def test_health_reports_model_and_counts(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["chunks"] > 20
    assert "e5" in body["model"] and body["index_built_at"]


def test_search_returns_ranked_hits_with_scores_and_offsets(client):
    r = client.post("/search", json={"query": "累计有多少人纳入职业伤害保障范围", "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] is True and len(body["hits"]) == 3
    top = body["hits"][0]
    assert "668万人" in top["text"]
    assert top["rank"] == 1 and set(top["scores"]) <= {"dense", "keyword"} and top["scores"]
    doc = client.get(f"/documents/{top['doc_id']}").json()
    assert doc["text"][top["start"] : top["end"]] == top["text"]
    assert top["lines"][0] <= top["lines"][1] and "embed" in body["timings_ms"]


def test_english_query_finds_chinese_passage(client):
    body = client.post(
        "/search", json={"query": "How many people were covered by the pilot by September?"}
    ).json()
    assert any("668万人" in h["text"] for h in body["hits"][:3])


@pytest.mark.parametrize("question", [HIGHLIGHTS_ZH, HIGHLIGHTS_EN])
def test_ask_four_highlights_lists_four_cited_points(client, question):
    body = client.post("/ask", json={"question": question}).json()
    assert body["answerable"] is True
    for marker in ("其一", "其二", "其三", "其四"):
        assert marker in body["answer"]
    quotes = [c["quote"] for c in body["citations"]]
    for marker in ("其一", "其二", "其三", "其四"):
        assert any(q.startswith(marker) for q in quotes), marker
    _check_citations(client, body)


def _check_citations(client, body):
    docs = {}
    numbers = [c["n"] for c in body["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    for c in body["citations"]:
        if c["doc_id"] not in docs:
            docs[c["doc_id"]] = client.get(f"/documents/{c['doc_id']}").json()["text"]
        assert docs[c["doc_id"]][c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in body["answer"]


def test_unanswerable_question_says_not_found_and_shows_closest_passages(client):
    body = client.post("/ask", json={"question": "上海市2024年的最低工资标准是多少？"}).json()
    assert body["answerable"] is False and body["citations"] == []
    assert "没有找到" in body["answer"] and body["passages"]


BAD_INPUT = [
    ("/ask", {"question": ""}, 400, "question must not be empty"),
    ("/ask", {"question": "   \n "}, 400, "question must not be empty"),
    ("/ask", {"question": "问" * 2001}, 400, "the limit is 2000"),
    ("/ask", {}, 422, "field 'question' is required"),
    ("/search", {"query": "工会", "top_k": 0}, 400, "top_k must be between 1 and 100"),
    ("/search", {"query": "工会", "top_k": 101}, 400, "top_k must be between 1 and 100"),
    ("/search", {"query": "工会", "top_k": "many"}, 422, "field 'top_k'"),
    (
        "/search",
        {"query": "工会", "mode": "magic"},
        400,
        "mode must be one of hybrid, dense, keyword",
    ),
    ("/search", [1, 2], 422, "JSON object"),
    ("/documents", {"title": "", "text": "正文。"}, 400, "title must not be empty"),
    ("/documents", {"title": "标题", "text": "  "}, 400, "text must not be empty"),
]


@pytest.mark.parametrize(("path", "payload", "status", "needle"), BAD_INPUT)
def test_bad_input_gets_a_4xx_naming_the_problem(client, path, payload, status, needle):
    r = client.post(path, json=payload)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_malformed_json_and_oversized_body_and_unknown_document(client):
    r = client.post(
        "/search", content=b'{"query": "x",', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    r = client.post("/ask", json={"question": "长" * 30_000})
    assert r.status_code == 413 and "larger than 20000 bytes" in r.json()["detail"]
    r = client.get("/documents/no-such-doc")
    assert r.status_code == 404 and "no document with id 'no-such-doc'" in r.json()["detail"]
    assert client.delete("/documents/no-such-doc").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_documents_can_be_added_searched_and_deleted(client):
    listed = client.get("/documents").json()
    assert {d["title"] for d in listed} >= {"建立和完善平台从业人员职业伤害保障的有益探索"}
    assert all(d["chunks"] > 0 and d["characters"] > 0 for d in listed)
    r = client.post(
        "/documents",
        json={
            "title": "社区食堂试点扩大",
            "text": "本市社区食堂试点扩大到二十个街道。\n\n试点食堂为老年人提供优惠餐。",
            "authors": ["张三"],
        },
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    hits = client.post("/search", json={"query": "社区食堂为老年人提供什么", "top_k": 3}).json()[
        "hits"
    ]
    assert hits[0]["doc_id"] == doc_id and hits[0]["authors"] == ["张三"]
    r = client.delete(f"/documents/{doc_id}")
    assert r.status_code == 200 and r.json()["chunks_removed"] >= 1
    hits = client.post("/search", json={"query": "社区食堂为老年人提供什么", "top_k": 10}).json()[
        "hits"
    ]
    assert all(h["doc_id"] != doc_id for h in hits)


def test_openapi_docs_have_chinese_and_english_examples(client):
    spec = client.get("/openapi.json").text
    assert "职业伤害保障试点有哪四个亮点" in spec and "four highlights" in spec
    assert client.get("/docs").status_code == 200


def test_read_only_service_refuses_writes(real_engine):
    ro = Engine(real_engine.config.__class__(**{**real_engine.config.__dict__, "read_only": True}))
    ro.index, ro.searcher = real_engine.index, real_engine.searcher
    with serve(ro) as live, httpx.Client(base_url=live.url, timeout=60) as c:
        r = c.post("/documents", json={"title": "t", "text": "正文。"})
        assert r.status_code == 403 and "read-only" in r.json()["detail"]
        assert c.delete("/documents/anything").status_code == 403
        assert c.post("/search", json={"query": "工会"}).status_code == 200


def test_api_key_guards_everything_but_health(real_engine):
    with (
        serve(real_engine, api_key="s3cret") as live,
        httpx.Client(base_url=live.url, timeout=60) as c,
    ):
        assert c.get("/health").status_code == 200
        r = c.post("/search", json={"query": "工会"})
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["detail"]
        assert c.get("/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/models").status_code == 401
        ok = c.post("/search", json={"query": "工会"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_cors_is_off_unless_origins_are_listed(client, real_engine):
    headers = {"Origin": "http://example.org", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/search", headers=headers).headers
    with serve(real_engine, cors_origins=("http://example.org",)) as live:
        r = httpx.options(f"{live.url}/search", headers=headers)
        assert r.headers.get("access-control-allow-origin") == "http://example.org"
