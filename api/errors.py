"""One place that maps errors to HTTP responses: ``{"error": {...}, "detail": message}``.

The shape follows OpenAI's error object (``message``, ``type``, ``param``), so chat frontends
show the message; ``detail`` repeats it for clients that expect FastAPI's shape.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def error_response(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body | {"detail": message}, status_code=status)


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
    if first.get("type") == "missing":
        return f"field '{field}' is required", field
    if first.get("type") == "model_attributes_type" or field is None:
        return f"request body must be a JSON object ({msg})", field
    return f"field '{field}': {msg}", field


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, (status, kind) in _STATUS.items():

        async def handler(request: Request, exc: Exception, status=status, kind=kind):
            return error_response(status, str(exc), kind, getattr(exc, "param", None))

        app.add_exception_handler(exc_type, handler)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError):
        message, field = _validation_message(exc)
        return error_response(422, message, "invalid_request_error", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        kind = {401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                413: "invalid_request_error"}.get(exc.status_code, "error")  # fmt: skip
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        return error_response(exc.status_code, message, kind)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details", "server_error")
