"""GET /health: is the service up, and what does it serve."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import EngineDep
from api.schemas import Health
from rag import __version__

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(engine: EngineDep) -> Health:
    index = engine.index
    return Health(
        status="ok" if index is not None else "starting",
        version=__version__,
        model=index.encoder.name if index is not None else engine.config.model,
        documents=len(index.documents) if index is not None else 0,
        chunks=len(index) if index is not None else 0,
        index_built_at=index.built_at if index is not None else "",
        read_only=engine.config.read_only,
        generation=engine.config.llm is not None,
    )


# Load balancers and uptime checkers probe with HEAD; a separate route keeps one operation
# (and one operation id) per method in /openapi.json.
@router.head("/health", include_in_schema=False)
def health_head() -> Response:
    return Response(status_code=200)
