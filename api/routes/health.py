"""GET /health: is the service up, and what does it serve."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep
from rag import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health(engine: EngineDep) -> dict:
    index = engine.index
    return {
        "status": "ok" if index is not None else "starting",
        "version": __version__,
        "model": index.encoder.name if index is not None else engine.config.model,
        "documents": len(index.documents) if index is not None else 0,
        "chunks": len(index) if index is not None else 0,
        "index_built_at": index.built_at if index is not None else "",
        "read_only": engine.config.read_only,
        "generation": engine.config.llm is not None,
    }
