"""LLM phrasing against a real local HTTP server speaking the OpenAI chat completions API."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rag.answering.extractive import NOT_FOUND_EN, NOT_FOUND_ZH, ExtractiveAnswerer
from rag.answering.generation import ChatGenerator, Final, TextDelta
from rag.answering.markers import MarkerRenumberer, renumber_citations
from rag.errors import InputError
from rag.types import Answer, Chunk, Hit, SearchResult, Turn
from tests.invariants import check_citations

QUESTION = "职业伤害保障试点有哪四个亮点？"


# ---- a scripted chat server ----------------------------------------------------------------
@dataclass
class Reply:
    """What the server does with the next request."""

    content: str | None = None
    status: int = 200
    sleep: float = 0.0
    raw: bytes | None = None
    # A streamed reply: these pieces as server-sent events, then "fail" cuts the connection
    # after them instead of finishing (a server dying mid-answer).
    pieces: list[str] | None = None
    fail: bool = False


@dataclass
class Script:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class ChatHandler(BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        script = self.server.script
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        script.requests.append(
            # Header names are case-insensitive (HTTP/1.1 clients differ in how they spell them).
            {
                "path": self.path,
                "headers": httpx.Headers(dict(self.headers)),
                "json": json.loads(body),
            }
        )
        reply = script.replies.pop(0) if script.replies else Reply(content="")
        if reply.sleep:
            # Woken early at teardown, so a slow reply never holds the test run up.
            script.release.wait(reply.sleep)
        if reply.pieces is not None:
            self._stream(reply)
            return
        if reply.raw is not None:
            payload = reply.raw
        elif reply.status != 200:
            payload = json.dumps({"error": {"message": "model crashed"}}).encode()
        else:
            payload = json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": "scripted",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout test)

    def _stream(self, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in reply.pieces or []:
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "scripted",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        if not reply.fail:
            done = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "scripted",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
        if reply.fail:
            self.wfile.write(b"data: {not json")
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # quiet test output
        pass


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    script: Script


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    httpd = ChatServer(("127.0.0.1", 0), ChatHandler)
    httpd.script = Script()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", httpd.script
    finally:
        httpd.script.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# ---- corpus --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result(index) -> SearchResult:
    """Three passages: [1] 其一…, [2] 其二…, [3] the 668万 paragraph."""
    chunks: list[Chunk] = [
        next(c for c in index.chunks if c.text.startswith("其一")),
        next(c for c in index.chunks if c.text.startswith("其二")),
        next(c for c in index.chunks if "668万人" in c.text),
    ]
    hits = tuple(Hit(chunk=c, rank=i, score=1.0 / i) for i, c in enumerate(chunks, start=1))
    return SearchResult(query=QUESTION, mode="hybrid", hits=hits, answerable=True)


@pytest.fixture(scope="module")
def fallback(result, documents) -> Answer:
    return ExtractiveAnswerer().answer(QUESTION, result, documents)


# ---- generation ----------------------------------------------------------------------------
def test_markers_are_renumbered_in_order_of_first_use(server, result, documents, fallback):
    url, script = server
    script.replies.append(
        Reply(content="缴费方式有突破[2],并回应了最大职业风险[1]。两者都重要[2]。")
    )
    generator = ChatGenerator(url, "qwen-test", api_key="sk-test", timeout=5)
    answer = generator.generate(QUESTION, result, documents, fallback)

    assert answer.text == "缴费方式有突破[1],并回应了最大职业风险[2]。两者都重要[1]。"
    assert answer.answerable and answer.note == ""
    assert [c.n for c in answer.citations] == [1, 2]
    assert answer.citations[0].quote == result.hits[1].chunk.text  # was [2]: 其二…
    assert answer.citations[1].quote == result.hits[0].chunk.text  # was [1]: 其一…
    assert answer.citations[0].chunk_id == result.hits[1].chunk.chunk_id
    assert answer.passages == result.hits
    check_citations(answer, documents)

    (request,) = script.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = request["json"]
    assert body["model"] == "qwen-test"
    assert body["stream"] is False
    system, user = body["messages"]
    assert system["role"] == "system" and "[1]" in system["content"]
    assert "only" in system["content"] and "language of the question" in system["content"]
    for n, hit in enumerate(result.hits, start=1):
        assert f"[{n}] 《{hit.chunk.title}》" in user["content"]
        assert hit.chunk.text in user["content"]
    assert (
        user["content"].index("[1]") < user["content"].index("[2]") < user["content"].index("[3]")
    )
    assert user["content"].rstrip().endswith(QUESTION)


def test_marker_to_a_missing_passage_is_removed(server, result, documents, fallback):
    url, script = server
    script.replies.append(Reply(content="试点精准回应了职业风险 [7]。缴费按单进行[2][7]。"))
    answer = ChatGenerator(url, "m", timeout=5).generate(QUESTION, result, documents, fallback)
    assert answer.text == "试点精准回应了职业风险。缴费按单进行[1]。"
    assert [c.quote for c in answer.citations] == [result.hits[1].chunk.text]
    check_citations(answer, documents)
    assert "Authorization" not in script.requests[0]["headers"]


def test_timeout_falls_back_to_the_extractive_answer(server, result, documents, fallback):
    url, script = server
    script.replies.append(Reply(content="太迟了[1]", sleep=10))
    answer = ChatGenerator(url, "m", timeout=0.3).generate(QUESTION, result, documents, fallback)
    assert answer.text == fallback.text
    assert answer.citations == fallback.citations
    assert "timed out after 0.3 s" in answer.note
    assert "extractive answer" in answer.note


def test_server_error_falls_back_with_a_note(server, result, documents, fallback):
    url, script = server
    script.replies.append(Reply(status=500))
    answer = ChatGenerator(url, "m", timeout=5).generate(QUESTION, result, documents, fallback)
    assert answer.text == fallback.text and answer.citations == fallback.citations
    assert "HTTP 500" in answer.note and "language model unavailable" in answer.note


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(raw=b"<html>gateway</html>"), "not JSON"),
        (Reply(raw=b'{"choices": []}'), "not a chat completion"),
        (Reply(content="   "), "empty"),
        (Reply(content="<think>hmm</think>\n"), "empty"),
    ],
)
def test_garbage_replies_fall_back_with_a_note(server, result, documents, fallback, reply, reason):
    url, script = server
    script.replies.append(reply)
    answer = ChatGenerator(url, "m", timeout=5).generate(QUESTION, result, documents, fallback)
    assert answer.text == fallback.text
    assert reason in answer.note


def test_unreachable_server_falls_back(result, documents, fallback):
    # Port 9 (discard) on localhost: nothing listens there in a test environment.
    generator = ChatGenerator("http://127.0.0.1:9/v1", "m", timeout=2)
    answer = generator.generate(QUESTION, result, documents, fallback)
    assert answer.text == fallback.text
    assert "language model unavailable" in answer.note


def test_english_fallback_keeps_the_english_note(server, result, documents):
    url, script = server
    script.replies.append(Reply(status=503))
    question = "What are the highlights of the pilot?"
    fallback = ExtractiveAnswerer().answer(question, result, documents)
    answer = ChatGenerator(url, "m", timeout=5).generate(question, result, documents, fallback)
    assert "HTTP 503" in answer.note and fallback.note in answer.note


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="base_url"):
        ChatGenerator("127.0.0.1:8080/v1", "m")
    with pytest.raises(InputError, match="timeout"):
        ChatGenerator("http://127.0.0.1:8080/v1", "m", timeout=0)
    with pytest.raises(InputError, match="model"):
        ChatGenerator("http://127.0.0.1:8080/v1", " ")
    with pytest.raises(InputError, match="max_retries"):
        ChatGenerator("http://127.0.0.1:8080/v1", "m", max_retries=-1)


# ---- streaming, the model's verdict, follow-ups ------------------------------------------
def _run(events) -> tuple[list[str], Answer]:
    events = list(events)
    assert isinstance(events[-1], Final)
    assert all(isinstance(e, TextDelta) for e in events[:-1])
    return [e.text for e in events[:-1]], events[-1].answer


def test_streamed_tokens_are_renumbered_as_they_come(server, result, documents, fallback):
    url, script = server
    pieces = ["缴费方式有突破[", "2", "],并回应了", "最大职业风险 [", "1]。", "无效 [9", "]。"]
    script.replies.append(Reply(pieces=pieces))
    generator = ChatGenerator(url, "m", timeout=5)
    deltas, answer = _run(generator.stream(QUESTION, result, documents, fallback))

    assert "".join(deltas) == answer.text == "缴费方式有突破[1],并回应了最大职业风险 [2]。无效。"
    assert len(deltas) > 1  # sent as it came, not all at the end
    for delta in deltas:  # a marker is never cut across two pieces
        assert delta.count("[") == delta.count("]") == len(re.findall(r"\[\d+\]", delta))
    assert [c.quote for c in answer.citations] == [
        result.hits[1].chunk.text,
        result.hits[0].chunk.text,
    ]
    check_citations(answer, documents)
    assert script.requests[0]["json"]["stream"] is True


@pytest.mark.parametrize(
    "reply",
    [Reply(content="NOT_FOUND"), Reply(content="<think>no</think>NOT_FOUND\n")],
)
def test_the_model_judges_the_passages_do_not_answer(server, result, documents, fallback, reply):
    url, script = server
    script.replies.append(reply)
    question = "天津市总工会有多少会员？"
    answer = ChatGenerator(url, "m", timeout=5).generate(question, result, documents, fallback)
    assert not answer.answerable and answer.citations == ()
    assert answer.text == NOT_FOUND_ZH
    assert answer.passages == result.hits  # the closest passages, for reference


def test_a_streamed_not_found_verdict_is_never_shown_as_text(server, result, documents, fallback):
    url, script = server
    script.replies.append(Reply(pieces=["NOT", "_FOU", "ND"]))
    question = "How many members does the Tianjin federation have?"
    deltas, answer = _run(
        ChatGenerator(url, "m", timeout=5).stream(question, result, documents, fallback)
    )
    assert "".join(deltas) == answer.text == NOT_FOUND_EN
    assert not answer.answerable and answer.passages == result.hits


def test_the_answer_is_asked_in_the_question_language(server, result, documents, fallback):
    url, script = server
    script.replies.extend([Reply(content="Two highlights [1]."), Reply(content="两个亮点[1]。")])
    generator = ChatGenerator(url, "m", timeout=5)
    english = generator.generate("What are the highlights?", result, documents, fallback)
    generator.generate(QUESTION, result, documents, fallback)
    assert english.text == "Two highlights [1]." and english.answerable
    first, second = (r["json"]["messages"][-1]["content"] for r in script.requests)
    assert "Answer in English." in first and "用中文回答" not in first
    assert "用中文回答" in second and "Answer in English." not in second


def test_the_model_sees_each_passage_s_authors_date_and_source(server, result, documents, fallback):
    from dataclasses import replace

    url, script = server
    script.replies.append(Reply(content="作者是鲁全[1]。"))
    doc_id = result.hits[0].chunk.doc_id
    # The bundled page prints no dates or sources: give its article some, as a web page has.
    dated = {
        **documents,
        doc_id: replace(documents[doc_id], published="2023-11-07", site="工人日报"),
    }
    ChatGenerator(url, "m", timeout=5).generate("这篇文章是谁写的？", result, dated, fallback)
    shown = script.requests[0]["json"]["messages"][-1]["content"]
    header = next(line for line in shown.splitlines() if line.startswith("[1] "))
    assert header.startswith("[1] 《" + documents[doc_id].title + "》")
    assert (
        "作者：鲁全" in header and "发布日期：2023-11-07" in header and "来源：工人日报" in header
    )


def test_a_stream_cut_midway_keeps_what_was_written_with_a_note(
    server, result, documents, fallback
):
    url, script = server
    script.replies.append(Reply(pieces=["其一很重要[1]", ",其二"], fail=True))
    deltas, answer = _run(
        ChatGenerator(url, "m", timeout=5).stream(QUESTION, result, documents, fallback)
    )
    assert "".join(deltas) == answer.text
    assert answer.text.startswith("其一很重要[1],其二")
    assert "stopped before finishing" in answer.note and answer.note in answer.text
    assert [c.quote for c in answer.citations] == [result.hits[0].chunk.text]


def test_a_stream_that_fails_at_once_sends_the_extractive_answer(
    server, result, documents, fallback
):
    url, script = server
    script.replies.append(Reply(status=500))
    deltas, answer = _run(
        ChatGenerator(url, "m", timeout=5).stream(QUESTION, result, documents, fallback)
    )
    assert "".join(deltas) == answer.text == fallback.text
    assert answer.citations == fallback.citations and "HTTP 500" in answer.note


def test_a_follow_up_is_rewritten_into_a_standalone_question(server):
    url, script = server
    script.replies.append(Reply(content="职业伤害保障试点的第二个亮点具体指什么？\n"))
    history = [Turn(QUESTION, "1. 其一,精准回应了…[1]\n2. 其二,在缴费方式上…[2]")]
    generator = ChatGenerator(url, "m", timeout=5)
    rewritten = generator.rewrite("第二个亮点具体指什么？", history)
    assert rewritten == "职业伤害保障试点的第二个亮点具体指什么？"
    sent = script.requests[0]["json"]["messages"]
    assert sent[0]["role"] == "system" and "standalone" in sent[0]["content"]
    assert QUESTION in sent[1]["content"] and "其二" in sent[1]["content"]
    assert sent[1]["content"].rstrip().endswith("第二个亮点具体指什么？")


def test_a_failed_rewrite_leaves_the_question_to_the_caller(server):
    url, script = server
    script.replies.append(Reply(status=503))
    generator = ChatGenerator(url, "m", timeout=5)
    assert generator.rewrite("第二个呢？", [Turn(QUESTION, "…")]) is None


ENGLISH = "What are the four highlights of the occupational injury pilot?"


def test_an_english_question_is_translated_for_searching(server):
    url, script = server
    script.replies.append(
        Reply(content="<think>它问亮点。</think>\n“职业伤害保障试点有哪四个亮点？”\n")
    )
    assert ChatGenerator(url, "m", timeout=5).translate(ENGLISH) == QUESTION
    sent = script.requests[0]["json"]["messages"]
    assert sent[0]["role"] == "system" and "Simplified Chinese" in sent[0]["content"]
    assert sent[1] == {"role": "user", "content": ENGLISH}


@pytest.mark.parametrize(
    "reply",
    [Reply(status=503), Reply(content="Sorry, I cannot help."), Reply(content="问" * 600)],
    ids=["server error", "no Chinese", "rambling"],
)
def test_a_failed_translation_leaves_the_question_as_asked(server, reply):
    url, script = server
    script.replies.append(reply)
    assert ChatGenerator(url, "m", timeout=5).translate(ENGLISH) is None


# ---- marker rewriting ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected, order",
    [
        ("甲[2]乙[1]丙[2]", "甲[1]乙[2]丙[1]", [2, 1]),
        ("甲[1][2]。", "甲[1][2]。", [1, 2]),
        ("甲[2, 1]。", "甲[1][2]。", [2, 1]),
        ("甲[1、3]。", "甲[1][2]。", [1, 3]),
        ("甲[１]乙［２］丙【3】", "甲[1]乙[2]丙[3]", [1, 2, 3]),
        ("甲[1-3]。", "甲[1][2][3]。", [1, 2, 3]),
        ("甲 [7]。乙[2][7]", "甲。乙[1]", [2]),
        ("甲 [7, 9].", "甲.", []),
        ("甲[1, 1]", "甲[1]", [1]),
        ("no markers [a] here", "no markers [a] here", []),
    ],
)
def test_renumber_citations(text, expected, order):
    assert renumber_citations(text, {1, 2, 3}) == (expected, order)


def test_streamed_marker_renumbering_matches_the_whole_text():
    text = "甲[2]乙 [7]丙[1, 3]丁【2】戊 [ 未完"
    expected = renumber_citations(text, {1, 2, 3})
    for size in range(1, 6):
        renumberer = MarkerRenumberer({1, 2, 3})
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        out = "".join(renumberer.feed(p) for p in pieces) + renumberer.flush()
        assert (out, renumberer.order) == expected
