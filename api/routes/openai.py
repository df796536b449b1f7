"""OpenAI-compatible endpoints, so chat frontends (Open WebUI, LobeChat...) can use the service.

The last user message is the question and the earlier messages are the conversation it
follows. The reply's text carries the ``[n]`` markers and a Sources list, so any client
shows where the answer comes from; the same citations also come as a structured
``citations`` field. For Open WebUI, which keeps neither, each citation is also sent as one
of its ``source`` events (streamed) or in ``sources`` (not streamed), shown as citation
chips; the text Sources list is then left out so sources are not shown twice.

Background tasks that frontends send as chat requests (titles, tags, follow-up
suggestions) are answered by :mod:`rag.chat.tasks`, without searching.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.access import annotate
from api.deps import EngineDep, SettingsDep
from api.schemas import citation_out
from api.schemas_openai import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatMessage,
    ChatRequest,
    Choice,
    ModelCard,
    ModelList,
    Source,
    SourceMeta,
    SourceRef,
    chunk,
)
from rag.answering.generation import Final, TextDelta
from rag.chat import Message, answer_task, recognise_task
from rag.conversation import turns_from_messages
from rag.errors import InputError
from rag.search.searcher import validate_query
from rag.types import Answer, Citation

router = APIRouter(prefix="/v1", tags=["openai"])

# Open WebUI's marks on a chat request (recorded from 0.12.4, tests/data/openwebui/): the
# headers it adds when forwarding user info, and the built-in tools it offers the model
# with every chat (~36 functions: knowledge, notes, chats, memories...).
_OPENWEBUI_HEADERS = ("x-openwebui-chat-id", "x-openwebui-user-id", "x-openwebui-message-id")
_OPENWEBUI_TOOLS = {
    "query_knowledge_files",
    "view_knowledge_file",
    "search_knowledge_bases",
    "search_chats",
    "view_chat",
    "search_notes",
    "view_note",
    "search_memories",
}


@router.get("/models", response_model=ModelList)
def list_models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID)])


def conversation(messages: list[ChatMessage]) -> list[Message]:
    """The request's messages as the library's, with their text (content parts joined)."""
    return [Message(m.role, m.text()) for m in messages]


def split_question(messages: list[Message]) -> tuple[str, list[Message]]:
    """The question (the last user message, validated) and the messages before it."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return validate_query(messages[i].text, "messages"), messages[:i]
    raise InputError("messages must contain at least one message with role 'user'", "messages")


def reply_text(answer: Answer, with_sources: bool = True) -> str:
    """The answer with a Sources list under it (what generic chat clients display)."""
    lines = [answer.text]
    if answer.note and answer.note not in answer.text:
        lines.append(f"\n_{answer.note}_")
    if answer.citations and with_sources:
        lines.append("\nSources:")
        for c in answer.citations:
            section = f" · {c.section}" if c.section else ""
            lines.append(f"[{c.n}] {c.title}{section}: “{c.quote}”")
    elif answer.passages and not answer.answerable:
        lines.append("\nClosest passages:")
        for hit in answer.passages[:3]:
            lines.append(f"- {hit.chunk.title}: “{hit.chunk.text[:120]}”")
    return "\n".join(lines)


def open_webui_sources(citations: tuple[Citation, ...]) -> list[Source]:
    """One Open WebUI source per citation, in marker order, each with a distinct key.

    Open WebUI groups its chips by ``metadata.source``: five quotes from one article need
    five distinct keys, or the ``[1]..[5]`` markers collapse into one chip.
    """
    sources = []
    for c in citations:
        key = f"{c.doc_id}#{c.start}-{c.end}"
        name = f"{c.title} · {c.section}" if c.section else c.title
        sources.append(
            Source(
                source=SourceRef(id=key, name=name),
                document=[c.quote],
                metadata=[SourceMeta(source=key, name=name)],
            )
        )
    return sources


def looks_like_open_webui(request: Request, body: ChatRequest) -> bool:
    """True for requests with Open WebUI's marks: its headers, or its built-in tools."""
    if any(h in request.headers for h in _OPENWEBUI_HEADERS):
        return True
    tools = (body.model_extra or {}).get("tools")
    if not isinstance(tools, list):
        return False
    names = {
        t.get("function", {}).get("name")
        for t in tools
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }
    return len(names & _OPENWEBUI_TOOLS) >= 2


def _wants_events(request: Request, body: ChatRequest, default: str) -> bool:
    mode = body.sources or default
    if mode == "events":
        return True
    if mode == "text":
        return False
    return looks_like_open_webui(request, body)


@router.post("/chat/completions", response_model=ChatCompletion, response_model_exclude_none=True)
async def chat_completions(
    body: ChatRequest, request: Request, engine: EngineDep, settings: SettingsDep
):
    messages = conversation(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = body.model or MODEL_ID

    task = recognise_task(messages)
    if task is not None:
        annotate(request, task=task.kind)
        documents = {d.doc_id: d for d in await run_in_threadpool(engine.documents)}
        text = answer_task(task, documents)
        if body.stream:
            return _sse(_text_chunks(completion_id, created, model, text))
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=model,
            choices=[Choice(message=AssistantMessage(content=text))],
        )

    question, earlier = split_question(messages)
    annotate(request, question=question, turns=len(earlier))
    # The earlier turns, with the quotes of their answers found again by the resolver.
    history = turns_from_messages([{"role": m.role, "content": m.text} for m in messages])
    events = _wants_events(request, body, settings.chat_sources)

    if not body.stream:
        answer = await run_in_threadpool(engine.ask, question, body.top_k, history)
        annotate(request, answerable=answer.answerable, citations=len(answer.citations))
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=model,
            choices=[Choice(message=AssistantMessage(content=reply_text(answer, not events)))],
            citations=[citation_out(c) for c in answer.citations],
            answerable=answer.answerable,
            sources=open_webui_sources(answer.citations) if events else None,
        )
    stream = engine.ask_stream(question, body.top_k, history)
    # The search (and the model's first words) before the response starts: an error there
    # still gets its proper status instead of cutting a stream that said 200.
    first = await run_in_threadpool(next, stream, None)
    pending = itertools.chain([first] if first is not None else [], stream)
    return _sse(_answer_chunks(completion_id, created, model, pending, events, request))


def _sse(chunks: Iterator[dict[str, Any]]) -> EventSourceResponse:
    def frames() -> Iterator[dict[str, str]]:
        for c in chunks:
            yield {"data": json.dumps(c, ensure_ascii=False)}
        yield {"data": "[DONE]"}

    # A sync iterator runs in a worker thread, so a slow language model blocks no one.
    return EventSourceResponse(
        frames(), sep="\n", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _text_chunks(cid: str, created: int, model: str, text: str) -> Iterator[dict[str, Any]]:
    yield chunk(cid, created, model, {"role": "assistant", "content": ""})
    for line in text.splitlines(keepends=True):
        yield chunk(cid, created, model, {"content": line})
    yield chunk(cid, created, model, {}, "stop")


def _answer_chunks(
    cid: str,
    created: int,
    model: str,
    events: Iterator[TextDelta | Final],
    source_events: bool,
    request: Request,
) -> Iterator[dict[str, Any]]:
    """The streamed reply: text as it comes, the Sources list, source events, citations."""
    yield chunk(cid, created, model, {"role": "assistant", "content": ""})
    answer: Answer | None = None
    for event in events:
        if isinstance(event, TextDelta):
            yield chunk(cid, created, model, {"content": event.text})
        else:
            answer = event.answer
    assert answer is not None  # every answer stream ends with its Final event
    # The access log line is written after the last byte, so these still make it in.
    annotate(request, answerable=answer.answerable, citations=len(answer.citations))
    # What reply_text adds under the answer's text (note, Sources or closest passages).
    rest = reply_text(answer, not source_events)[len(answer.text) :]
    if rest:
        yield chunk(cid, created, model, {"content": rest})
    if source_events:
        for source in open_webui_sources(answer.citations):
            event = {"type": "source", "data": source.model_dump()}
            yield chunk(cid, created, model, {}, event=event)
    extra = {
        "citations": [citation_out(c).model_dump() for c in answer.citations],
        "answerable": answer.answerable,
    }
    yield chunk(cid, created, model, {}, "stop", **extra)
