"""POST /search and POST /ask."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.access import annotate
from api.deps import EngineDep
from api.schemas import (
    AskRequest,
    AskResponse,
    SearchRequest,
    SearchResponse,
    ask_response,
    history_turns,
    search_response,
)
from rag.conversation import validate_history
from rag.search.searcher import validate_query

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, engine: EngineDep, request: Request) -> SearchResponse:
    """Rank passages for a query (hybrid by default), with per-leg scores and ranks."""
    annotate(request, question=body.query)
    result = await run_in_threadpool(
        engine.search, body.query, body.top_k, body.mode, body.filters(), body.expand
    )
    annotate(request, answerable=result.answerable, hits=len(result.hits))
    return search_response(result)


@router.post("/ask", response_model=AskResponse)
async def ask(body: AskRequest, engine: EngineDep, request: Request) -> AskResponse:
    """Answer a question from the articles; every sentence cites its source.

    Send the earlier turns in ``history`` and a follow-up ("第二个亮点具体指什么？",
    "那天津市总工会呢？", "Tell me more about the second one") is read against them.
    """
    annotate(request, question=body.question, turns=len(body.history) or None)
    question = validate_query(body.question, "question")
    # The question's length limit is not applied to earlier turns; the history has its own.
    history = validate_history(history_turns(body.history), "history")
    filters = body.filters()
    answer = await run_in_threadpool(engine.ask, question, body.top_k, history, filters)
    annotate(request, answerable=answer.answerable, citations=len(answer.citations))
    return ask_response(answer)
