"""/ask with the optional language model configured: a real chat server, a real uvicorn."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from rag.engine import Engine, LLMConfig
from tests.conftest import serve
from tests.test_generation import Reply, server  # noqa: F401 (the scripted chat server fixture)

pytestmark = pytest.mark.slow


def _engine_with_llm(real_engine, url: str, timeout: float = 5.0) -> Engine:
    config = replace(
        real_engine.config,
        llm=LLMConfig(base_url=url, model="scripted", api_key="sk-x", timeout=timeout),
    )
    engine = Engine(config)
    engine.index, engine.searcher = real_engine.index, real_engine.searcher
    return engine


def test_generated_answer_cites_passages_renumbered_and_exact(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(content="四个亮点见[3],另见[1]。无效引用[9]。"))
    with serve(_engine_with_llm(real_engine, url)) as live:
        body = httpx.post(
            f"{live.url}/ask", json={"question": "职业伤害保障试点有哪四个亮点？"}, timeout=60
        ).json()
    assert body["answer"] == "四个亮点见[1],另见[2]。无效引用。"
    assert [c["n"] for c in body["citations"]] == [1, 2]
    for c in body["citations"]:
        text = real_engine.document(c["doc_id"]).text
        assert text[c["start"] : c["end"]] == c["quote"]
    sent = script.requests[0]
    assert sent["json"]["model"] == "scripted" and sent["headers"]["Authorization"] == "Bearer sk-x"
    assert "[1]" in sent["json"]["messages"][-1]["content"]


def test_a_timed_out_model_gives_the_extractive_answer_with_a_note(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(content="太慢了[1]", sleep=5))
    with serve(_engine_with_llm(real_engine, url, timeout=1.0)) as live:
        body = httpx.post(
            f"{live.url}/ask", json={"question": "职业伤害保障试点有哪四个亮点？"}, timeout=60
        ).json()
    assert "timed out" in body["note"] and "extractive" in body["note"]
    assert "1. 其一" in body["answer"] and len(body["citations"]) >= 4
