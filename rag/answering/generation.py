"""Optional phrasing of answers by a language model behind an OpenAI-compatible chat API.

The model sees the retrieved passages numbered ``[1]..[k]`` and must cite them. Its text is
never trusted blindly: markers pointing at no passage are dropped, the rest renumbered
1..N in order of first use, and each citation quotes the whole passage it points at, sliced
from the document. When the server is down, slow or answers garbage, the extractive
answer is returned instead, with a note saying why: a question is never lost to a server.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import replace

import httpx

from rag.answering.markers import make_citation, renumber_citations
from rag.errors import GenerationError, InputError
from rag.types import Answer, Document, Hit, SearchResult

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about Chinese news articles. Use only the numbered passages "
    "given with the question; the passages are in Chinese. Cite the passage behind every "
    "statement with its number in square brackets, e.g. [1] or [2][3]. If the passages do "
    "not contain the answer, say so briefly. Answer in the language of the question: in "
    "Chinese for a Chinese question, in English for an English question."
)
# Reasoning models served by llama.cpp or vLLM may prepend their deliberation.
_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)


class ChatGenerator:
    """Phrases an answer from retrieved passages with an OpenAI-compatible chat server.

    Construction is cheap and opens no connection.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8080/v1``; requests go to
            ``{base_url}/chat/completions``.
        model: The model name sent with each request.
        api_key: Sent as a bearer token when given.
        timeout: Seconds to wait for the server (connecting, and between bytes).
        temperature: Sampling temperature; low, as the answer should stick to the passages.
        max_tokens: Upper bound on the answer's length in tokens.

    Raises:
        InputError: An empty model name, a base URL that is not http(s), or a timeout
            that is not positive.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        *,
        temperature: float = 0.1,
        max_tokens: int = 800,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InputError(
                f"base_url must start with http:// or https://, got {base_url!r} "
                "(e.g. http://127.0.0.1:8080/v1)"
            )
        if not model.strip():
            raise InputError("model must not be empty: name the model the server should use")
        if timeout <= 0:
            raise InputError(f"timeout must be greater than 0 seconds, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def generate(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        fallback: Answer,
    ) -> Answer:
        """Answer ``question`` from the hits of ``result``, or return ``fallback``.

        Args:
            question: The user's question.
            result: The retrieved passages, numbered in the prompt in rank order.
            documents: The index's documents by id (citations are sliced from them).
            fallback: The answer to give when generation fails (the extractive one).

        Returns:
            The model's answer with canonical ``[n]`` markers and one citation per marker,
            each quoting its whole passage; ``passages`` are the passages it was shown.
            On any server problem, ``fallback`` with a note saying what went wrong.
        """
        hits = [h for h in sorted(result.hits, key=lambda h: h.rank) if h.chunk.doc_id in documents]
        if not hits:
            return fallback
        try:
            content = self.complete(build_messages(question, hits))
        except GenerationError as e:
            logger.warning("generation failed, using the extractive answer: %s", e)
            note = f"language model unavailable ({e}); showing the extractive answer."
            return replace(fallback, note=" ".join(n for n in (note, fallback.note) if n))
        text, order = renumber_citations(content, set(range(1, len(hits) + 1)))
        citations = []
        for new_n, old_n in enumerate(order, start=1):
            chunk = hits[old_n - 1].chunk
            doc = documents[chunk.doc_id]
            citations.append(make_citation(new_n, doc, chunk.chunk_id, chunk.start, chunk.end))
        note = "" if citations else "The language model cited no passage; check its answer."
        return Answer(
            question=question,
            text=text,
            answerable=True,
            citations=tuple(citations),
            passages=tuple(hits),
            note=note,
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        """Send a chat request and return the reply's text.

        Raises:
            GenerationError: The server could not be reached, timed out, answered with an
                error status, with something other than a chat completion, or with
                nothing.
        """
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": False,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            # trust_env=False: the library takes its settings as arguments, never from
            # the environment (proxy variables included).
            with httpx.Client(timeout=self.timeout, trust_env=False) as client:
                response = client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as e:
            raise GenerationError(f"timed out after {self.timeout:g} s") from e
        except httpx.HTTPError as e:
            raise GenerationError(f"could not reach {self.url}: {e}") from e
        if response.status_code != 200:
            raise GenerationError(
                f"the server answered HTTP {response.status_code}: {response.text[:200].strip()}"
            )
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GenerationError("the server's reply was not JSON") from e
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise GenerationError("the server's reply was not a chat completion") from e
        if not isinstance(content, str):
            raise GenerationError("the server's reply had no text")
        content = _THINKING.sub("", content).strip()
        if not content:
            raise GenerationError("the server's reply was empty")
        return content


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    """The chat messages for a question: the rules, then the passages numbered ``[1]..[k]``."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        c = hit.chunk
        source = f"《{c.title}》" + (f" — {c.section}" if c.section else "")
        blocks.append(f"[{n}] {source}\n{c.text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
