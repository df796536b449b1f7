"""/ask with the optional language model configured: a real chat server, a real uvicorn."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from rag.answering.extractive import NOT_FOUND_EN
from rag.engine import Engine, LLMConfig
from tests.conftest import serve
from tests.test_generation import QUESTION, Reply, server  # noqa: F401 (the scripted server)

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


def test_the_model_judging_no_answer_gives_not_found_with_passages(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(content="NOT_FOUND"))
    question = "天津市总工会有多少会员？"  # the topic is covered, the asked number is not
    engine = _engine_with_llm(real_engine, url)
    extractive = real_engine.ask(question)
    answer = engine.ask(question)
    assert not answer.answerable and answer.citations == ()
    assert answer.text.startswith("文章中没有找到")
    assert answer.passages  # the closest passages, for reference
    # The model was asked only where the extractive answer found something to say.
    assert len(script.requests) == (1 if extractive.answerable else 0)


def test_streamed_chat_with_a_model_sends_its_tokens_and_citations_last(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(pieces=["亮点一是", "精准回应 [", "3]", ",二是缴费[1", "]。"]))
    with serve(_engine_with_llm(real_engine, url)) as live:
        raw = httpx.post(
            f"{live.url}/v1/chat/completions",
            json={"stream": True, "messages": [{"role": "user", "content": QUESTION}]},
            timeout=60,
        )
    chunks = [
        json.loads(line[6:])
        for line in raw.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    text = "".join(pieces)
    assert text.startswith("亮点一是精准回应 [1],二是缴费[2]。")
    assert "\nSources:\n[1] " in text
    assert sum(1 for p in pieces if p) >= 3  # the model's tokens, not one block
    citations = chunks[-1]["citations"]
    assert [c["n"] for c in citations] == [1, 2]
    for c in citations:
        assert real_engine.document(c["doc_id"]).text[c["start"] : c["end"]] == c["quote"]
    assert script.requests[0]["json"]["stream"] is True


def test_a_follow_up_is_rewritten_by_the_model_before_searching(real_engine, server):  # noqa: F811
    url, script = server
    standalone = "职业伤害保障试点的第二个亮点“缴费方式上的突破和创新”具体指什么？"
    script.replies.extend([Reply(content=standalone), Reply(content="缴费按单进行[1]。")])
    first = real_engine.ask(QUESTION)
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "第二个亮点具体指什么？"},
    ]
    with serve(_engine_with_llm(real_engine, url)) as live:
        body = httpx.post(
            f"{live.url}/v1/chat/completions", json={"messages": messages}, timeout=60
        ).json()
    rewrite, answer = (r["json"]["messages"] for r in script.requests)
    assert "第二个亮点具体指什么？" in rewrite[-1]["content"] and "其一" in rewrite[-1]["content"]
    assert answer[-1]["content"].rstrip().endswith(standalone)
    assert body["choices"][0]["message"]["content"].startswith("缴费按单进行[1]。")
    # The passages shown to the model are those found for the standalone question.
    expected = real_engine.search(standalone, top_k=5).hits[0].chunk.text
    assert "[1] 《" in answer[-1]["content"] and expected in answer[-1]["content"]
    (citation,) = body["citations"]
    assert citation["quote"] == expected


def test_an_english_question_is_searched_in_the_models_translation(real_engine, server):  # noqa: F811
    url, script = server
    english = "Which two things did the pilot change about how contributions are paid?"
    chinese = "职业伤害保障试点在缴费方式上有哪些突破和创新？"
    script.replies.extend(
        [Reply(content=chinese), Reply(content="Contributions are paid per order [1].")]
    )
    with serve(_engine_with_llm(real_engine, url)) as live:
        body = httpx.post(f"{live.url}/ask", json={"question": english}, timeout=60).json()
    translate, answer = (r["json"]["messages"] for r in script.requests)
    assert translate[-1]["content"] == english
    # The model answers the question as asked, from the passages found for its translation.
    assert answer[-1]["content"].rstrip().endswith(english)
    expected = real_engine.search(chinese, top_k=5).hits[0].chunk.text
    assert expected in answer[-1]["content"]
    assert body["answer"] == "Contributions are paid per order [1]."
    (citation,) = body["citations"]
    text = real_engine.document(citation["doc_id"]).text
    assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_question_translation_can_be_turned_off(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(content="The pilot has four highlights [1]."))
    engine = _engine_with_llm(real_engine, url)
    engine.config = replace(
        engine.config, llm=replace(engine.config.llm, translate_questions=False)
    )
    answer = engine.ask("What are the four highlights of the occupational injury pilot?")
    assert len(script.requests) == 1  # the answer only, no translation
    assert answer.text == "The pilot has four highlights [1]."


def test_a_translation_the_articles_do_not_answer_is_not_found_in_english(real_engine, server):  # noqa: F811
    url, script = server
    script.replies.append(Reply(content="明天上海的天气怎么样？"))
    answer = _engine_with_llm(real_engine, url).ask(
        "What will the weather be in Shanghai tomorrow?"
    )
    assert not answer.answerable and answer.text == NOT_FOUND_EN
    assert answer.question == "What will the weather be in Shanghai tomorrow?"
    assert len(script.requests) == 1  # the translation; no answer is asked for
