"""POST /search and POST /ask."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.schemas import (
    AskRequest,
    AskResponse,
    SearchRequest,
    SearchResponse,
    ask_response,
    search_response,
)
from rag.search.searcher import validate_query

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, engine: EngineDep) -> SearchResponse:
    """Rank passages for a query (hybrid by default), with per-leg scores and ranks."""
    result = await run_in_threadpool(engine.search, body.query, body.top_k, body.mode, body.expand)
    return search_response(result)


@router.post("/ask", response_model=AskResponse)
async def ask(body: AskRequest, engine: EngineDep) -> AskResponse:
    """Answer a question from the articles; every sentence cites its source."""
    question = validate_query(body.question, "question")
    answer = await run_in_threadpool(engine.ask, question, body.top_k)
    return ask_response(answer)
