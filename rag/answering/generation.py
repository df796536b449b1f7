"""Optional phrasing of answers by a language model behind an OpenAI-compatible chat API.

The model sees the retrieved passages numbered ``[1]..[k]`` and must cite them, in the
language of the question. It also judges whether the passages answer the question at all:
a reply of ``NOT_FOUND`` turns the answer into "not found" with the closest passages (the
topic is covered, the asked fact is not). Its text is never trusted blindly: markers
pointing at no passage are dropped, the rest renumbered 1..N in order of first use (also
while streaming), and each citation quotes the whole passage it points at, sliced from the
document. When the server is down, slow or answers garbage, the extractive answer is
returned instead, with a note saying why: a question is never lost to a server.

The client is the official ``openai`` package, which brings timeouts, retries and streaming.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag.answering.extractive import not_found
from rag.answering.markers import MarkerRenumberer, make_citation
from rag.errors import GenerationError, InputError
from rag.index.tokenize import has_han
from rag.types import Answer, Document, Hit, SearchResult, Turn

logger = logging.getLogger(__name__)

NOT_FOUND = "NOT_FOUND"
SYSTEM_PROMPT = (
    "You answer questions about Chinese news articles. Use only the numbered passages "
    "given with the question; the passages are in Chinese. Cite the passage behind every "
    "statement with its number in square brackets, e.g. [1] or [2][3]. First judge whether "
    "the passages answer the question at all: when they only touch its topic but do not "
    f"state what is asked, reply with the single word {NOT_FOUND} and nothing else. Answer "
    "in the language of the question: in Chinese for a Chinese question, in English for an "
    "English question."
)
REWRITE_PROMPT = (
    "You rewrite the last question of a conversation about news articles into a standalone "
    "question that can be understood without the conversation: resolve pronouns, ordinals "
    "(the second one, 第二个) and ellipsis (那…呢？) from the earlier turns. Keep the language "
    "of the last question. Reply with the rewritten question only."
)
TRANSLATE_PROMPT = (
    "You translate a question about Chinese news and policy articles into Simplified Chinese, "
    "worded as the articles would word it, so that it can be searched in them. Write names "
    "of Chinese people, places and organisations in Chinese characters; keep numbers and "
    "quoted titles. Reply with the translated question only."
)
# Reasoning models served by llama.cpp or vLLM may prepend their deliberation.
_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_HISTORY_TURNS = 3  # earlier turns shown to the rewriter
_MAX_TRANSLATION_CHARS = 500  # a translated question longer than this is the model rambling
_HISTORY_CHARS = 600  # of each earlier answer


@dataclass(frozen=True)
class TextDelta:
    """A piece of an answer's text, final as sent (markers already renumbered)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The complete answer, sent last: its text is the concatenation of the deltas."""

    answer: Answer


AnswerEvent = TextDelta | Final


class ChatGenerator:
    """Phrases an answer from retrieved passages with an OpenAI-compatible chat server.

    Construction is cheap and opens no connection; the client is made on first use.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8080/v1``; requests go to
            ``{base_url}/chat/completions``.
        model: The model name sent with each request.
        api_key: Sent as a bearer token when given.
        timeout: Seconds to wait for the server (connecting, and between bytes).
        temperature: Sampling temperature; low, as the answer should stick to the passages.
        max_tokens: Upper bound on the answer's length in tokens.
        max_retries: Retries after a timeout, a dropped connection, 429 or a 5xx (with the
            client's backoff). 0 by default: a user waits for the answer, and the
            extractive one is ready.

    Raises:
        InputError: An empty model name, a base URL that is not http(s), a timeout that is
            not positive or a negative number of retries.
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
        max_retries: int = 0,
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
        if max_retries < 0:
            raise InputError(f"max_retries must be 0 or more, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self._client: Any = None

    def warm_up(self) -> None:
        """Make the client now (it opens no connection), so that a missing ``openai``
        package stops start-up rather than the first question."""
        _ = self.client

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    # ---- answers -------------------------------------------------------------------------
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
            "Not found" with those passages when the model judges that they do not answer.
            On any server problem, ``fallback`` with a note saying what went wrong.
        """
        hits = _usable_hits(result, documents)
        if not hits:
            return fallback
        try:
            content = self.complete(build_messages(question, hits, documents))
        except GenerationError as e:
            return _fallback(fallback, e)
        if _is_not_found(content):
            return not_found(question, hits)
        renumberer = MarkerRenumberer(set(range(1, len(hits) + 1)))
        text = renumberer.rewrite(content)
        return _answer(question, text, renumberer.order, hits, documents)

    def stream(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        fallback: Answer,
    ) -> Iterator[AnswerEvent]:
        """:meth:`generate`, streamed: the text as the model writes it, then the answer.

        Markers are renumbered on the fly (a marker cut across two tokens is held back
        until it is complete). Nothing is sent before the model's verdict is known, so a
        ``NOT_FOUND`` reply or a server that fails before its first words still ends in the
        "not found" or the extractive answer, sent line by line. A server that fails in the
        middle leaves the text written so far, with a note.

        Yields:
            :class:`TextDelta` pieces, then one :class:`Final` whose answer's text is the
            pieces joined.
        """
        hits = _usable_hits(result, documents)
        if not hits:
            yield from lines_of(fallback)
            return
        renumberer = MarkerRenumberer(set(range(1, len(hits) + 1)))
        head: str | None = ""  # the reply's opening, held until the verdict is known
        sent: list[str] = []
        pieces = self._stream_content(build_messages(question, hits, documents))
        try:
            for piece in pieces:
                if head is not None:
                    head += piece
                    opening = _THINKING.sub("", head).lstrip()
                    if _is_not_found(opening):
                        break
                    if _undecided(opening):
                        continue
                    piece, head = opening, None  # the verdict is in: an answer
                text = renumberer.feed(piece)
                if text:
                    sent.append(text)
                    yield TextDelta(text)
        except GenerationError as e:
            if head is not None:
                yield from lines_of(_fallback(fallback, e))
                return
            note = f"the language model stopped before finishing ({e})."
            text = "".join(sent) + renumberer.flush()
            answer = _answer(question, text, renumberer.order, hits, documents)
            yield TextDelta(text[len("".join(sent)) :] + f"\n\n_{note}_")
            yield Final(replace(answer, text=f"{text}\n\n_{note}_", note=note))
            return
        finally:
            pieces.close()
        if head is not None:  # the stream ended before an answer began
            opening = _THINKING.sub("", head).strip()
            if _is_not_found(opening):
                yield from lines_of(not_found(question, hits))
                return
            if not opening:
                empty = GenerationError("the server's reply was empty")
                yield from lines_of(_fallback(fallback, empty))
                return
            text = renumberer.feed(opening)
            if text:
                sent.append(text)
                yield TextDelta(text)
        tail = renumberer.flush()
        if tail:
            sent.append(tail)
            yield TextDelta(tail)
        yield Final(_answer(question, "".join(sent), renumberer.order, hits, documents))

    # ---- follow-up questions -------------------------------------------------------------
    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        """The follow-up ``question`` rewritten as a standalone one, or None on failure.

        Args:
            question: The last question of the conversation.
            history: The earlier turns, oldest first (the last few are shown).

        Returns:
            The model's standalone question (one line), or None when the server failed or
            answered nothing usable; the caller then keeps its own resolution.
        """
        if not history:
            return question
        lines = []
        for turn in history[-_HISTORY_TURNS:]:
            lines.append(f"User: {turn.question}")
            if turn.answer:
                lines.append(f"Assistant: {turn.answer[:_HISTORY_CHARS]}")
        user = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}"
        line = self._first_line(REWRITE_PROMPT, user, 120, "rewriting the follow-up")
        if line is None:
            return None
        line = line.removeprefix("Standalone question:").strip().strip("\"'“”")
        return line or None

    def translate(self, question: str) -> str | None:
        """``question`` (one without Chinese) in Simplified Chinese for searching the articles,
        or None when the server failed or answered with no Chinese; the caller then searches
        with the question as asked (through the dictionary)."""
        line = self._first_line(TRANSLATE_PROMPT, question, 200, "translating the question")
        if line is None:
            return None
        line = line.strip("\"'“”「」")
        if not has_han(line) or len(line) > _MAX_TRANSLATION_CHARS:
            logger.warning("the model's translation is no question in Chinese: %r", line[:200])
            return None
        return line

    def _first_line(self, system: str, user: str, max_tokens: int, task: str) -> str | None:
        """The first non-empty line of the model's reply to one instruction, or None when the
        request failed (logged; the caller keeps the question as asked)."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            content = self.complete(messages, max_tokens=max_tokens)
        except GenerationError as e:
            logger.warning("%s failed, keeping the question as asked: %s", task, e)
            return None
        return next((ln.strip() for ln in content.splitlines() if ln.strip()), "")

    # ---- the client ----------------------------------------------------------------------
    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """Send a chat request and return the reply's text.

        Raises:
            GenerationError: The server could not be reached, timed out, answered with an
                error status, with something other than a chat completion, or with
                nothing.
        """
        openai = _openai()
        with self._errors():
            reply = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                max_tokens=max_tokens or self.max_tokens,
                stream=False,
                extra_headers=self._headers(),
            )
        if not isinstance(reply, openai.types.chat.ChatCompletion):
            raise GenerationError("the server's reply was not a chat completion")
        try:
            content = reply.choices[0].message.content
        except (IndexError, AttributeError, TypeError) as e:
            raise GenerationError("the server's reply was not a chat completion") from e
        if not isinstance(content, str):
            raise GenerationError("the server's reply had no text")
        content = _THINKING.sub("", content).strip()
        if not content:
            raise GenerationError("the server's reply was empty")
        return content

    def _stream_content(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """The reply's text pieces as the server streams them."""
        with self._errors():
            stream = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                stream=True,
                extra_headers=self._headers(),
            )
            finished = False
            with stream:
                for chunk in stream:
                    choices = getattr(chunk, "choices", None) or []
                    delta = getattr(choices[0], "delta", None) if choices else None
                    content = getattr(delta, "content", None)
                    if isinstance(content, str) and content:
                        yield content
                    finished = finished or bool(choices and choices[0].finish_reason)
            # A connection dropped mid-reply can end the stream quietly; a complete reply
            # always ends with a finish reason.
            if not finished:
                raise GenerationError("the reply stopped before it was finished")

    @property
    def client(self) -> Any:
        if self._client is None:
            openai = _openai()
            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self.api_key or "unused",  # never sent: see _headers
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client

    def _headers(self) -> dict[str, Any] | None:
        # The API key is optional for local servers (llama.cpp, vLLM): without one the
        # Authorization header is left out rather than sent with a made-up key.
        return None if self.api_key else {"Authorization": _openai().Omit()}

    def _errors(self) -> _ClientErrors:
        return _ClientErrors(self)


class _ClientErrors:
    """Turns the ``openai`` package's errors into :class:`GenerationError` with a reason."""

    def __init__(self, generator: ChatGenerator) -> None:
        self.generator = generator

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb) -> bool:
        if error is None or isinstance(error, GenerationError | GeneratorExit):
            return False
        openai = _openai()
        g = self.generator
        if isinstance(error, openai.APITimeoutError):
            raise GenerationError(f"timed out after {g.timeout:g} s") from error
        if isinstance(error, openai.APIConnectionError):
            raise GenerationError(f"could not reach {g.url}: {error}") from error
        if isinstance(error, openai.APIStatusError):
            body = (error.response.text or "")[:200].strip()
            raise GenerationError(
                f"the server answered HTTP {error.status_code}: {body}"
            ) from error
        if isinstance(error, openai.APIResponseValidationError | ValueError | KeyError):
            raise GenerationError("the server's reply was not JSON") from error
        if isinstance(error, openai.OpenAIError):
            raise GenerationError(
                f"the server's reply was not a chat completion: {error}"
            ) from error
        if isinstance(error, Exception):
            # A connection dropped while a stream is read surfaces as the HTTP library's own
            # error, not the client's; whatever it is, the extractive answer is still there.
            raise GenerationError(f"the reply could not be read: {error!r}") from error
        return False


def _openai() -> Any:
    try:
        import openai
    except ImportError as e:  # pragma: no cover - a runtime dependency
        raise GenerationError("the 'openai' package is missing: pip install openai") from e
    return openai


def build_messages(
    question: str, hits: list[Hit], documents: Mapping[str, Document] | None = None
) -> list[dict[str, str]]:
    """The chat messages for a question: the rules, then the passages numbered ``[1]..[k]``,
    each under its article's title, section, authors, date and source (who wrote it, when and
    where it appeared are often in the page's metadata only)."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        c = hit.chunk
        source = f"《{c.title}》" + (f" — {c.section}" if c.section else "")
        doc = documents.get(c.doc_id) if documents is not None else None
        facts = [
            f"{label}：{value}"
            for label, value in (
                ("作者", "、".join(doc.authors if doc else c.authors)),
                ("发布日期", doc.published if doc else ""),
                ("来源", doc.site if doc else ""),
            )
            if value
        ]
        if facts:
            source += " | " + " | ".join(facts)
        blocks.append(f"[{n}] {source}\n{c.text}")
    language = "用中文回答。" if has_han(question) else "Answer in English."
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\n{language}\nQuestion: {question}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def lines_of(answer: Answer) -> Iterator[AnswerEvent]:
    """A finished answer as events: its text line by line, then the answer itself."""
    for line in answer.text.splitlines(keepends=True):
        yield TextDelta(line)
    yield Final(answer)


def _usable_hits(result: SearchResult, documents: Mapping[str, Document]) -> list[Hit]:
    return [h for h in sorted(result.hits, key=lambda h: h.rank) if h.chunk.doc_id in documents]


def _fallback(fallback: Answer, error: GenerationError) -> Answer:
    logger.warning("generation failed, using the extractive answer: %s", error)
    note = f"language model unavailable ({error}); showing the extractive answer."
    return replace(fallback, note=" ".join(n for n in (note, fallback.note) if n))


def _is_not_found(text: str) -> bool:
    return text.strip().strip("*`[]()（）【】.。 ").upper().startswith(NOT_FOUND)


def _undecided(opening: str) -> bool:
    """True while the reply's opening could still be a thinking block or the NOT_FOUND verdict."""
    if not opening:
        return True
    if "<think>".startswith(opening[:7]) or opening.startswith("<think>"):
        return "</think>" not in opening
    bare = opening.lstrip("*`[(（【")
    return len(bare) < len(NOT_FOUND) and NOT_FOUND.startswith(bare.upper())


def _answer(
    question: str,
    text: str,
    order: list[int],
    hits: list[Hit],
    documents: Mapping[str, Document],
) -> Answer:
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
