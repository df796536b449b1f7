"""The FastAPI application: routers, error handling, security, the web page."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.access import AccessLog
from api.deps import require_api_key
from api.errors import UnexpectedErrors, install_error_handlers
from api.limits import BodySizeLimit, RejectLoneSurrogates
from api.routes import documents, health, openai, search
from api.settings import Settings, get_settings
from rag import __version__
from rag.engine import Engine

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """
Semantic search and cited question answering over Chinese news and policy articles.
Ask in Chinese or English: 职业伤害保障试点有哪四个亮点？ / What are the four highlights of
the injury-insurance pilot? Every answer cites the article, author, section and the exact
character span of each quote. When `RAG_API_KEY` is set, send `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; the engine (model and index) loads in the lifespan, before serving.

    Args:
        settings: Defaults to :func:`api.settings.get_settings` (the environment).
        engine: A ready engine to use instead of building one (tests).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = engine or Engine(settings.engine_config())
        await run_in_threadpool(app.state.engine.warm_up)
        logger.info("ready: %d documents", len(app.state.engine.documents()))
        yield
        if engine is None:  # an engine handed in belongs to the caller, who closes it
            # Finish a running compaction and give the writer lock back before exiting.
            await run_in_threadpool(app.state.engine.close)

    app = FastAPI(
        title="rag-news-zh", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)
    secured = [Depends(require_api_key)]
    app.include_router(health.router)
    for router in (search.router, documents.router, openai.router):
        app.include_router(router, dependencies=secured)
    # Each add_middleware wraps the ones before it, so this reads from the inside out: every
    # error response (500, 422, 413) passes through CORS, and the access log sees them all.
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(RejectLoneSurrogates)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(AccessLog, log_questions=settings.log_questions)
    if (STATIC / "index.html").exists():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def page() -> FileResponse:
            return FileResponse(STATIC / "index.html")

    return app
