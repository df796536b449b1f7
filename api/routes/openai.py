"""OpenAI-compatible endpoints, so chat frontends (Open WebUI, LobeChat...) can use the service.

The last user message is the question. The reply's text carries the ``[n]`` markers and a
Sources list, so any client shows where the answer comes from; the same citations also come
as a structured ``citations`` field for clients that read it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.schemas import citation_out
from rag.errors import InputError
from rag.search.searcher import validate_query
from rag.types import Answer

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "rag-news-zh"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": MODEL_ID,
                    "messages": [{"role": "user", "content": "职业伤害保障试点有哪四个亮点？"}],
                },
                {
                    "model": MODEL_ID,
                    "stream": True,
                    "messages": [
                        {
                            "role": "user",
                            "content": "What are the four highlights of the injury-insurance pilot?",
                        }
                    ],
                },
            ]
        },
    )
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(
        description="The conversation; the last user message is asked."
    )
    stream: bool = False
    top_k: int = 5


@router.get("/models")
def list_models() -> dict:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag-news-zh"}],
    }


def _question(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
            content = "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        return validate_query(content or "", "messages")
    raise InputError("messages must contain at least one message with role 'user'", "messages")


def reply_text(answer: Answer) -> str:
    """The answer with a Sources list under it (what generic chat clients display)."""
    lines = [answer.text]
    if answer.note and answer.note not in answer.text:
        lines.append(f"\n_{answer.note}_")
    if answer.citations:
        lines.append("\nSources:")
        for c in answer.citations:
            section = f" · {c.section}" if c.section else ""
            lines.append(f"[{c.n}] {c.title}{section}: “{c.quote}”")
    elif answer.passages:
        lines.append("\nClosest passages:")
        for hit in answer.passages[:3]:
            lines.append(f"- {hit.chunk.title}: “{hit.chunk.text[:120]}”")
    return "\n".join(lines)


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, engine: EngineDep):
    question = _question(body.messages)
    answer = await run_in_threadpool(engine.ask, question, body.top_k)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    text = reply_text(answer)
    citations = [citation_out(c).model_dump() for c in answer.citations]
    extra = {"citations": citations, "answerable": answer.answerable}
    if not body.stream:
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model or MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **extra,
        }
    return StreamingResponse(
        _stream(completion_id, created, body.model or MODEL_ID, text, extra),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _stream(cid: str, created: int, model: str, text: str, extra: dict) -> Iterator[str]:
    def event(delta: dict, finish: str | None = None, **more) -> str:
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    # Line by line: the answer already exists, streaming just lets clients render as usual.
    for line in text.splitlines(keepends=True):
        yield event({"content": line})
    yield event({}, "stop", **extra)
    yield "data: [DONE]\n\n"
