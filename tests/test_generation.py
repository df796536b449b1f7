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

from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.generation import ChatGenerator
from rag.answering.markers import renumber_citations
from rag.errors import InputError
from rag.types import Answer, Chunk, Document, Hit, SearchResult

QUESTION = "职业伤害保障试点有哪四个亮点？"


# ---- a scripted chat server ----------------------------------------------------------------
@dataclass
class Reply:
    """What the server does with the next request."""

    content: str | None = None
    status: int = 200
    sleep: float = 0.0
    raw: bytes | None = None


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


def check_citations(answer: Answer, documents: dict[str, Document]) -> None:
    for c in answer.citations:
        doc = documents[c.doc_id]
        assert doc.text[c.start : c.end] == c.quote
        assert c.lines == doc.lines_for(c.start, c.end)
    markers = list(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", answer.text)))
    assert markers == list(range(1, len(answer.citations) + 1))


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
