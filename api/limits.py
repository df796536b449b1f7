"""Checks on the request body before a route parses it: its size, and that its text is text."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodySizeLimit:
    """Answer 413 for bodies over ``max_bytes`` (by Content-Length, or while streaming).

    A chunked body has no Content-Length: the limit is counted as it arrives, and the route's
    reading stops with an exception. FastAPI turns any exception while it reads a body into a
    400, so the response the route sends is replaced by the 413 here.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        seen = 0
        too_big = False
        replaced = False

        async def limited() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal replaced
            if too_big:
                if not replaced:
                    replaced = True
                    await self._reject(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, limited, sending)
        except _TooLarge:
            if not replaced:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.max_bytes} bytes: send a smaller one"
        await error_response(413, message, "invalid_request_error")(scope, receive, send)


class _TooLarge(Exception):
    pass


# A JSON escape of a UTF-16 surrogate (\ud800-\udfff); only such an escape can put a lone
# surrogate into a decoded string (raw UTF-8 cannot encode one), so bodies without it skip the
# check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class RejectLoneSurrogates:
    """Answer 422 for a JSON body whose strings hold a lone surrogate (``"\\ud800"``).

    Python's JSON parser accepts one, and the request then fails deep inside (tokenising,
    encoding the reply) with a 500. Checked once here for every JSON route, so each route and
    the chat endpoint get the same clear message naming the field.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending it all
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        field = _surrogate_field(body) if _SURROGATE_ESCAPE.search(body) else None
        if field is not None:
            where = f"field '{field}'" if field else "the request body"
            text = (
                f"{where} contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
                "which is not valid Unicode text: send the text as UTF-8 or as a complete pair"
            )
            await error_response(422, text, "invalid_request_error", field or None)(
                scope, receive, send
            )
            return
        replay = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replay], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _surrogate_field(body: bytes) -> str | None:
    """The dotted path of the first string holding a lone surrogate ('' for the body itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing reports that
    return _find(data, [])


def _find(value: Any, path: list[str]) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return ".".join(path)
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _find(key, path) if isinstance(key, str) else None
        if found is not None:
            return found
        found = _find(item, [*path, str(key)])
        if found is not None:
            return found
    return None
