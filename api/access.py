"""The access log: one line per request on the ``rag.access`` logger.

Each line has the method, the path, the status and the latency; routes that answer a question
add what an operator needs to judge the answer by calling :func:`annotate` (which stores the
fields in ``request.state.log_fields``)::

    annotate(request, question=question, answerable=answer.answerable,
             citations=len(answer.citations))

``/search``, ``/ask`` and ``/v1/chat/completions`` do so. The question is logged as a short
hash (the first 12 hex digits of its SHA-256, enough to count repeats and match a user's
report) unless ``RAG_LOG_QUESTIONS=true``; then as text. Headers are never logged, so neither
is the API key. ``rag serve`` turns uvicorn's own access log off in favour of this one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("rag.access")

STATE_KEY = "log_fields"
HASH_DIGITS = 12
MAX_LOGGED_QUESTION_CHARS = 300


def annotate(request: Request, **fields: Any) -> None:
    """Add fields to this request's access-log line (``question``, ``answerable``...)."""
    current = getattr(request.state, STATE_KEY, None) or {}
    setattr(request.state, STATE_KEY, current | fields)


def question_hash(question: str) -> str:
    # surrogatepass: a question the JSON check has not seen (a library caller) still hashes.
    digest = hashlib.sha256(question.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:HASH_DIGITS]


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    # JSON-quoted, so a question with spaces or newlines stays one parseable field.
    return json.dumps(str(value), ensure_ascii=False)


class AccessLog:
    """ASGI middleware writing one ``rag.access`` line when a response has been sent.

    Args:
        app: The wrapped application.
        log_questions: Log questions as text instead of a hash.
    """

    def __init__(self, app: ASGIApp, log_questions: bool = False) -> None:
        self.app = app
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # After the last byte of a streamed reply too: the latency is the whole answer's.
            self._log(scope, status or 500, time.perf_counter() - start)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        fields = dict((scope.get("state") or {}).get(STATE_KEY) or {})
        question = fields.pop("question", None)
        parts = [scope.get("method", "-"), scope.get("path", "-"), str(status)]
        parts.append(f"{seconds * 1000:.1f}ms")
        if question is not None:
            if self.log_questions:
                parts.append(f"question={_format(question[:MAX_LOGGED_QUESTION_CHARS])}")
            else:
                parts.append(f"question=sha256:{question_hash(question)}")
        parts.extend(f"{k}={_format(v)}" for k, v in fields.items() if v is not None)
        extra = {"status": status, "latency_ms": round(seconds * 1000, 1)}
        logger.info(" ".join(parts), extra={"access": extra})
