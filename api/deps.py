"""FastAPI dependencies: the engine, the settings, and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.settings import Settings
from rag.engine import Engine


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def require_api_key(request: Request) -> None:
    """When RAG_API_KEY is set, every API endpoint needs ``Authorization: Bearer <key>``."""
    key = request.app.state.settings.api_key
    if not key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 before). Starlette decodes
    # header bytes as latin-1, so encoding back to latin-1 gives the bytes the client sent,
    # and a UTF-8 key such as RAG_API_KEY=密钥 matches a client sending it as UTF-8.
    sent = token.strip().encode("latin-1")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent, key.encode("utf-8")):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
