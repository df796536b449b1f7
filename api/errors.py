"""One place that maps errors to HTTP responses: ``{"error": {...}, "detail": message}``.

The shape follows OpenAI's error object (``message``, ``type``, ``param``), so chat frontends
show the message; ``detail`` repeats it for clients that expect FastAPI's shape.

Status codes: 422 for a body of the wrong shape (not JSON, a missing field, a wrong type),
400 for a well-formed value the service does not accept (out of range, not one of the choices,
too long, empty). Unexpected exceptions become a 500 in :class:`UnexpectedErrors`, inside the
CORS middleware (so browsers can read it) and logged once.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import (
    GenerationError,
    IndexMismatchError,
    InputError,
    ModelError,
    NotFoundError,
    ReadOnlyError,
    SourceError,
)

logger = logging.getLogger(__name__)

_STATUS = {
    InputError: (400, "invalid_request_error"),
    SourceError: (400, "invalid_request_error"),
    NotFoundError: (404, "not_found_error"),
    ReadOnlyError: (403, "permission_error"),
    IndexMismatchError: (503, "index_error"),
    ModelError: (503, "model_error"),
    GenerationError: (502, "generation_error"),
}


def error_response(
    status: int,
    message: str,
    kind: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body | {"detail": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return (
            "request body is not valid JSON: send a JSON object with Content-Type: application/json",
            None,
        )
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or None
    msg = first.get("msg", "invalid value")
    kind = first.get("type")
    if kind == "missing":
        return f"field '{field}' is required", field
    if kind == "model_attributes_type" or field is None:
        return f"request body must be a JSON object ({msg})", field
    return f"field '{field}': {msg}", field


def _refused_value(exc: RequestValidationError) -> tuple[str, str] | None:
    """A 400 message for a well-typed value outside what the field accepts, else None."""
    errors = exc.errors()
    if not errors:
        return None
    first = errors[0]
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    value, ctx = first.get("input"), first.get("ctx") or {}
    kind = first.get("type")
    if kind == "out_of_range":
        return f"{field} must be between {ctx['lo']} and {ctx['hi']}, got {value!r}", field
    if kind == "literal_error":
        # pydantic's "'a', 'b' or 'c'" read as the plain list the service's messages use
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{field} must be one of {expected}, got {value!r}", field
    if kind == "string_too_long" and isinstance(value, str):
        limit = ctx.get("max_length")
        return f"{field} is {len(value)} characters long; the limit is {limit}: shorten it", field
    return None


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, (status, kind) in _STATUS.items():

        async def handler(request: Request, exc: Exception, status=status, kind=kind):
            return error_response(status, str(exc), kind, getattr(exc, "param", None))

        app.add_exception_handler(exc_type, handler)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError):
        refused = _refused_value(exc)
        if refused is not None:
            return error_response(400, refused[0], "invalid_request_error", refused[1])
        message, field = _validation_message(exc)
        return error_response(422, message, "invalid_request_error", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        kind = {401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                413: "invalid_request_error"}.get(exc.status_code, "error")  # fmt: skip
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        # The exception's headers (WWW-Authenticate on a 401) go out with the response.
        return error_response(exc.status_code, message, kind, headers=exc.headers)


class UnexpectedErrors:
    """ASGI middleware: any exception a route lets through becomes one logged 500.

    Starlette's own handler for ``Exception`` runs outside every user middleware (so its 500
    carried no CORS headers) and re-raises afterwards (so the server logged it a second time).
    This one sits innermost, logs once and ends the exception there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # a streamed reply broke off: too late for a status, the log has it
                return
            response = error_response(
                500, "internal error; the server log has the details", "server_error"
            )
            await response(scope, receive, send)
