"""Request and response models of the OpenAI-compatible routes (``/v1/...``).

They follow OpenAI's chat completions API closely enough for its clients and for chat
frontends, and add what those frontends can show: ``citations`` (this service's own
structured citations) and ``sources`` (Open WebUI's citation chips).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import CitationOut

MODEL_ID = "rag-news-zh"


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text: a string, or its text parts joined (null parts are empty)."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


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
                        {"role": "user", "content": "职业伤害保障试点有哪四个亮点？"},
                        {"role": "assistant", "content": "1. 其一,精准回应了…[1]"},
                        {"role": "user", "content": "第二个亮点具体指什么？"},
                    ],
                },
            ]
        },
    )
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(
        description="The conversation, oldest first; the last user message is asked and the "
        "earlier turns resolve follow-up questions."
    )
    stream: bool = False
    top_k: int = Field(5, ge=1, le=100, description="How many passages to draw the answer from.")
    sources: Literal["auto", "events", "text"] | None = Field(
        None,
        description="How citations are shown: 'events' sends Open WebUI's source events (and "
        "a 'sources' field) instead of the text Sources list, 'text' the list only, 'auto' "
        "(the service's default) events for requests that look like Open WebUI's.",
    )


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = MODEL_ID


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class SourceRef(BaseModel):
    id: str
    name: str


class SourceMeta(BaseModel):
    source: str = Field(description="Unique per citation: Open WebUI groups chips by it.")
    name: str


class Source(BaseModel):
    """One citation as Open WebUI shows it: a chip named after the article, with its quote."""

    source: SourceRef
    document: list[str]
    metadata: list[SourceMeta]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    citations: list[CitationOut] = Field(default_factory=list)
    answerable: bool = True
    sources: list[Source] | None = Field(
        None, description="Open WebUI's citation chips (when sources are sent as events)."
    )

    model_config = ConfigDict(json_schema_extra={"additionalProperties": True})


def chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` of a streamed reply (extra top-level fields in ``more``)."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **more,
    }
