"""The engine: one object tying the encoder, the index, search and answers together.

The CLI and the HTTP API both build an :class:`Engine` from an :class:`EngineConfig` of plain
values (read from the environment and flags at the edge), call :meth:`Engine.warm_up` once,
and then use it. Reads work on immutable snapshots; writes are serialised, logged durably and
published as the next snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag import conversation
from rag.chunking import Chunker, ChunkerSettings
from rag.components import AnswerStage, Generator
from rag.embedding.base import Encoder
from rag.errors import InputError, NotFoundError, ReadOnlyError
from rag.index.backend import DEFAULT_MILVUS_URI, IndexBackend, check_backend, check_faiss_folder
from rag.index.files import recover
from rag.index.lock import WriterLock
from rag.index.snapshot import Snapshot
from rag.index.store import FORMAT_VERSION, Index, IngestReport, read_manifest
from rag.index.tokenize import has_han
from rag.parsing import load_documents
from rag.parsing.loaders import load_batch
from rag.search import Searcher, SearchSettings
from rag.search.backend_searcher import BackendSearcher
from rag.search.enumeration import expand_result
from rag.search.filters import Filters
from rag.types import Answer, Chunk, Document, SearchResult, Turn

if TYPE_CHECKING:
    from rag.answering.generation import AnswerEvent
    from rag.index.milvus import MilvusBackend

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible chat server used to phrase answers (optional)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    max_retries: int = 0
    #: Search with the model's Chinese translation of a question without Chinese (the
    #: dictionary's word-by-word translation finds far less; docs/retrieval.md).
    translate_questions: bool = True


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs, as plain values."""

    index_dir: Path
    corpus: tuple[Path, ...] = ()
    model: str = DEFAULT_MODEL
    model_cache: Path = Path(".cache/models")
    query_prompt: str | None = "query: "
    passage_prompt: str | None = "passage: "
    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    ann: str = "auto"
    read_only: bool = False
    llm: LLMConfig | None = None
    device: str = "cpu"
    # Logged writes after which the log is folded into a new base, in the background.
    compact_after: int = 500
    runtime: str = "auto"  # onnx | torch | auto (onnx on CPU, torch on a GPU)
    backend: str = "faiss"  # or "milvus": rag.index.backend, docs/scale-out.md
    milvus_uri: str = DEFAULT_MILVUS_URI


def make_encoder(config: EngineConfig, progress: bool = False) -> Encoder:
    """The configured encoder (not loaded yet): the bundled e5 model unless another is named,
    on the configured runtime, with concurrent queries batched and query vectors cached."""
    from rag.embedding.factory import build_encoder

    if config.model == DEFAULT_MODEL:
        from rag.embedding.e5convert import ensure_e5_model
        from rag.embedding.encoder import DEFAULT_MODEL_NAME

        folder = ensure_e5_model(config.model_cache, progress=progress)
        return build_encoder(
            folder, DEFAULT_MODEL_NAME, runtime=config.runtime, device=config.device
        )
    return build_encoder(
        Path(config.model) if Path(config.model).is_dir() else config.model,
        config.model,
        runtime=config.runtime,
        device=config.device,
        query_prompt=config.query_prompt,
        passage_prompt=config.passage_prompt,
    )


def make_answerer(config: EngineConfig, encoder: Encoder | None = None) -> AnswerStage:
    """The default answer stage: quoting the retrieved sentences that best answer, scored
    with the index's encoder (question vs sentence)."""
    from rag.answering.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(encoder=encoder)


def make_generator(config: EngineConfig) -> Generator | None:
    """The configured language model's client (cheap: no connection yet), or None."""
    llm = config.llm
    if llm is None:
        return None
    from rag.answering.generation import ChatGenerator

    return ChatGenerator(
        llm.base_url, llm.model, llm.api_key, llm.timeout, max_retries=llm.max_retries
    )


@dataclass(frozen=True)
class _State:
    """What one request reads: a snapshot and a searcher over that same snapshot."""

    index: Snapshot | IndexBackend
    searcher: Searcher | BackendSearcher


class Engine:
    """Search, answers and document management over one index folder.

    Reads take no lock: each request reads :attr:`_state` once and works on that immutable
    snapshot to the end, while a write builds the next snapshot and swaps the state in one
    assignment. Writes are serialised, logged durably before they return, and a writable
    engine holds the folder's writer lock (``rag.index.lock``) from :meth:`warm_up` on, so a
    second writer (another server, ``rag ingest``) is refused instead of losing data.
    """

    def __init__(
        self,
        config: EngineConfig,
        encoder: Encoder | None = None,
        answerer: AnswerStage | None = None,
        generator: Generator | None = None,
    ) -> None:
        """Take the parts given; the others are built from ``config`` (the encoder when
        first needed, as it may have to be converted first)."""
        self.config = config
        self._encoder = encoder
        # The default answer stage scores sentences with the encoder (remade in warm_up()
        # once the encoder is loaded, when none was given).
        self._default_answerer = answerer is None
        self._answerer = answerer if answerer is not None else make_answerer(config, encoder)
        self._chat_generator = generator if generator is not None else make_generator(config)
        self._store: Index | MilvusBackend | None = None
        self._state: _State | None = None
        self._writer: WriterLock | None = None
        self._write_lock = threading.RLock()
        self._compaction: threading.Thread | None = None

    # ---- state ---------------------------------------------------------------------------
    @property
    def index(self) -> Snapshot | IndexBackend | None:
        """The current snapshot (None before :meth:`warm_up`)."""
        state = self._state
        return state.index if state is not None else None

    @index.setter
    def index(self, snapshot: Snapshot) -> None:
        self._state = _State(snapshot, Searcher(snapshot, self.config.search))

    @property
    def searcher(self) -> Searcher | None:
        state = self._state
        return state.searcher if state is not None else None

    @searcher.setter
    def searcher(self, searcher: Searcher) -> None:
        self._state = _State(searcher.index, searcher)

    def _publish(self) -> None:
        assert self._store is not None
        snapshot = self._store.snapshot
        if self._milvus():
            # Milvus is read live (replicas share it): its "snapshot" is the backend itself.
            self._state = _State(snapshot, BackendSearcher(snapshot, self.config.search))
        else:
            self._state = _State(snapshot, Searcher(snapshot, self.config.search))

    def _milvus(self) -> bool:
        """The one place the backend is told apart (check_backend refuses unknown names)."""
        return check_backend(self.config.backend) == "milvus"

    def _open_store(self, encoder: Encoder) -> Index | MilvusBackend:
        if self._milvus():
            from rag.index.milvus import MilvusBackend

            return MilvusBackend.open(self.config.milvus_uri, encoder, self.config.chunker)
        return Index.load(self.config.index_dir, encoder)

    def _where(self) -> str:
        return (
            f"Milvus at {self.config.milvus_uri}" if self._milvus() else str(self.config.index_dir)
        )

    # ---- life cycle ----------------------------------------------------------------------
    def warm_up(self, build_if_missing: bool = True, progress: bool = False) -> None:
        """Load the model and the index; build the index from the corpus if there is none.

        Raises:
            IndexLockedError: The engine is writable and another writer holds the folder.
        """
        if self._state is not None:
            return
        encoder = self._load_encoder(progress)
        encoder.warm_up()
        if self._default_answerer:
            self._answerer = make_answerer(self.config, encoder)
        self._answerer.warm_up()
        if self._chat_generator is not None:
            self._chat_generator.warm_up()
        with self._write_lock:
            if not self.config.read_only:
                self._take_writer_lock()
            if self.has_index():
                self._store = self._open_store(encoder)
                if self._store.format_version < FORMAT_VERSION and not self.config.read_only:
                    logger.info("upgrading the index in %s", self.config.index_dir)
                    self._store.compact()
                self._publish()
            elif not build_if_missing:
                raise NotFoundError(f"no index in {self._where()}; build one with `rag ingest`")
            else:
                logger.info(
                    "no index in %s: building it from %s", self._where(), self.corpus_names()
                )
                self._build(load_documents(list(self.config.corpus)), progress)
        # The first query pays for lazy initialisation (jieba's dictionary, BM25 matrices).
        self.search("预热 warm-up", top_k=1)

    def has_index(self) -> bool:
        """Whether the folder holds an index, after finishing any save a crash interrupted
        (for Milvus: whether its collections hold one)."""
        if self._milvus():
            from rag.index.milvus import MilvusBackend

            if isinstance(self._store, MilvusBackend):
                return self._store.exists()
            return MilvusBackend.probe(self.config.milvus_uri)
        check_faiss_folder(self.config.index_dir)
        recover(self.config.index_dir)
        return read_manifest(self.config.index_dir) is not None

    def close(self) -> None:
        """Finish a running compaction, close the log and give the writer lock back."""
        thread = self._compaction
        if thread is not None:
            thread.join()
        with self._write_lock:
            if self._store is not None:
                self._store.close()
            if self._writer is not None:
                self._writer.release()
                self._writer = None

    def corpus_names(self) -> str:
        return ", ".join(str(p) for p in self.config.corpus) or "(no corpus)"

    def _load_encoder(self, progress: bool = False) -> Encoder:
        if self._encoder is None:
            self._encoder = make_encoder(self.config, progress=progress)
        return self._encoder

    def _take_writer_lock(self) -> None:
        # Milvus takes writes from any number of replicas itself: no folder to lock.
        if self._writer is None and not self._milvus():
            self._writer = WriterLock.acquire(self.config.index_dir)

    def _build(self, docs: list[Document], progress: bool) -> IngestReport:
        """A new index of ``docs``, saved whole and swapped in, then logged to."""
        # Building even a read-only engine's missing index is setting up, not a document
        # change; it still takes the writer lock for as long as it writes.
        own_lock = self._writer is None
        self._take_writer_lock()
        try:
            encoder = self._load_encoder(progress)
            if self._milvus():
                from rag.index.milvus import MilvusBackend

                if self._store is not None:  # one client per Milvus Lite path in a process
                    self._store.close()
                    self._store = None
                store = MilvusBackend.open(
                    self.config.milvus_uri, encoder, self.config.chunker, rebuild=True
                )
                report = store.add_documents(docs, progress=progress)
                self._store = store
                self._publish()
                return report
            store = Index(encoder, Chunker(self.config.chunker), self.config.ann)
            report = store.add_documents(docs, progress=progress)
            store.save(self.config.index_dir)
            store.attach(self.config.index_dir)
            if self._store is not None:
                self._store.close()
            self._store = store
            self._publish()
            return report
        finally:
            if own_lock and self.config.read_only and self._writer is not None:
                self._writer.release()
                self._writer = None

    def _ready(self) -> _State:
        state = self._state
        if state is None:
            self.warm_up()
            state = self._state
        assert state is not None
        return state

    # ---- reading -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: str = "hybrid",
        filters: Filters | None = None,
        expand: bool = True,
    ) -> SearchResult:
        """Ranked passages; ``expand`` runs the list-expansion stage (hybrid mode only)."""
        state = self._ready()
        result = state.searcher.search(query, top_k=top_k, mode=mode, filters=filters)
        return expand_result(result, state.index.chunks_of) if expand else result

    def ask(
        self,
        question: str,
        top_k: int = 5,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
    ) -> Answer:
        """Answer a question with citations (extractive, or phrased by the configured LLM).

        ``history`` holds the conversation's earlier turns, oldest first; a follow-up question
        is resolved against them. ``filters`` limit the documents the answer draws from.
        """
        index, result, answer, followup, t0, t1 = self._answer_from_passages(
            question, top_k, history, filters
        )
        generator = self._generator()
        if generator is not None and answer.answerable:
            # The question as asked (not a translation searched for it): the model answers in
            # its language.
            answer = generator.generate(followup.query, result, index.documents, fallback=answer)
        return _with_timings(followup.annotate(answer), _timings(result, t0, t1))

    def ask_stream(
        self,
        question: str,
        top_k: int = 5,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
    ) -> Iterator[AnswerEvent]:
        """:meth:`ask`, streamed: text pieces as they are written, then the whole answer.

        With a language model configured its tokens come as it writes them (markers
        renumbered on the fly); without one the extractive answer comes line by line.
        """
        from rag.answering.generation import Final, lines_of

        index, result, answer, followup, t0, t1 = self._answer_from_passages(
            question, top_k, history, filters
        )
        generator = self._generator()
        if generator is not None and answer.answerable:
            events = generator.stream(followup.query, result, index.documents, fallback=answer)
        else:
            events = lines_of(answer)
        for event in events:
            if isinstance(event, Final):
                answer = followup.annotate(event.answer)
                event = Final(_with_timings(answer, _timings(result, t0, t1)))
            yield event

    def _answer_from_passages(
        self,
        question: str,
        top_k: int,
        history: Sequence[Turn],
        filters: Filters | None = None,
    ) -> tuple[Snapshot, SearchResult, Answer, conversation.FollowUp, float, float]:
        """Search for the (standalone) question and build the extractive answer."""
        # One state for the whole answer: the passages and the documents they are quoted
        # from come from the same snapshot, whatever is written meanwhile.
        state = self._ready()
        index, searcher = state.index, state.searcher
        t0 = time.perf_counter()
        generator = self._generator()
        if history and generator is not None:
            # With a model, the follow-up is rewritten into a standalone question first.
            question = generator.rewrite(question, history) or question
        # A follow-up ("第二个呢？", "那天津市总工会呢？") is read against the earlier turns.
        followup = conversation.resolve(question, history, index.documents)
        query = self._search_query(followup.query, generator)
        result = searcher.search(
            query, followup.search_depth(top_k), mode="hybrid", filters=filters
        )
        # List expansion is a stage of its own after retrieval (rag/search/enumeration.py).
        result = expand_result(result, index.chunks_of)
        result = conversation.focus(result, followup.documents, top_k)
        t1 = time.perf_counter()
        answer = conversation.item_answer(
            followup, result, index.documents, index.chunks_of
        ) or _extract(self._answerer, result, index)
        if query != followup.query:
            from rag.answering.extractive import as_asked

            # Searched in a translation: the answer is still the one to the question as asked.
            answer = as_asked(answer, followup.query)
        return index, result, answer, followup, t0, t1

    def _search_query(self, question: str, generator: Generator | None) -> str:
        """What is searched for ``question``: with a model configured, a question without
        Chinese is searched in the model's Chinese translation (the answer is still written in
        the question's language); otherwise the question as asked."""
        llm = self.config.llm
        if generator is None or has_han(question) or (llm and not llm.translate_questions):
            return question
        return generator.translate(question) or question

    def _generator(self) -> Generator | None:
        """The language model's client, or None when answers are extractive only."""
        return self._chat_generator

    def documents(self) -> list[Document]:
        return list(self._ready().index.documents.values())

    def document(self, doc_id: str) -> Document:
        return self._ready().index.document(doc_id)

    def chunk_count(self, doc_id: str) -> int:
        return len(self._ready().index.chunks_of(doc_id))

    # ---- writing -------------------------------------------------------------------------
    def ingest(
        self, paths: list[Path], rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Add files and folders to the index (or start over with ``rebuild``), durably.

        A file that cannot be read is left out and listed in the report's ``skipped``; the
        rest of the batch still goes in.

        Raises:
            IndexLockedError: Another writer (a running server, say) holds the folder.
        """
        self._check_writable()
        batch = load_batch(paths)
        skipped = tuple((f.path, f.reason) for f in batch.skipped)
        return replace(
            self.ingest_documents(list(batch.documents), rebuild, progress), skipped=skipped
        )

    def ingest_documents(
        self, docs: list[Document], rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """:meth:`ingest` for documents already loaded (``rag ingest --ray`` parses elsewhere)."""
        self._check_writable()
        with self._write_lock:
            self._take_writer_lock()
            if self._store is None and not rebuild and self.has_index():
                self.warm_up(build_if_missing=False, progress=progress)
            if self._store is None or rebuild:
                return self._build(docs, progress)
            report = self._store.add_documents(docs, progress=progress)
            # A bulk load is worth folding into the base at once; a few documents are not.
            if self._store.log_records and report.chunks_added >= len(self._store) // 4:
                self._store.compact()
            self._publish()
        return report

    def ingest_embedded(
        self,
        docs: list[Document],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        rebuild: bool = False,
    ) -> IngestReport:
        """:meth:`ingest_documents` for chunks embedded elsewhere (``rag ingest --ray``).

        The stores embed inside their add, so for this call they get an encoder that looks
        the vectors up by text instead of computing them.
        """
        from rag.index.backend import PrecomputedEncoder

        encoder = self._load_encoder()
        lookup = PrecomputedEncoder(encoder, chunks, vectors)
        with self._write_lock:
            self._encoder = lookup
            if self._store is not None:
                self._store.encoder = lookup
            try:
                return self.ingest_documents(docs, rebuild)
            finally:
                self._encoder = encoder
                if self._store is not None:
                    self._store.encoder = encoder
                lookup.release()  # snapshots keep it for queries: it delegates those

    @property
    def encoder(self) -> Encoder:
        """The configured encoder (loaded on first use)."""
        return self._load_encoder()

    def add_document(self, doc: Document) -> IngestReport:
        """Add or replace one document; it is searchable, and on disk, when this returns.

        Raises:
            InputError: The document is empty or has nothing to index (only punctuation).
        """
        self._check_writable()
        if not doc.text.strip():
            raise InputError("text must not be empty: send the article's body in 'text'", "text")
        store = self._writable_store()
        # Marks alone make no searchable chunk (or a chunk no query can reach).
        if not any(ch.isalnum() for ch in doc.text) or not store.chunker.split(doc):
            raise InputError(
                "text has nothing to index (only punctuation or symbols), so the document "
                "could never be found: send the article's words in 'text'",
                "text",
            )
        with self._write_lock:
            report = store.add_documents([doc])
            self._publish()
        logger.info(
            "added %s: %d chunks; ms: %s",
            doc.doc_id,
            report.chunks_added,
            ", ".join(f"{k} {v:.0f}" for k, v in report.timings_ms.items()),
        )
        self._maybe_compact()
        return report

    def delete_document(self, doc_id: str) -> int:
        """Delete a document; no search started after this returns can find it."""
        self._check_writable()
        store = self._writable_store()
        with self._write_lock:
            removed = store.delete_document(doc_id)
            self._publish()
        self._maybe_compact()
        return removed

    def compact(self) -> None:
        """Fold the write log into a new base of the index folder."""
        self._check_writable()
        store = self._writable_store(build_if_missing=False)
        with self._write_lock:
            store.compact()
            self._publish()

    def _writable_store(self, build_if_missing: bool = True) -> Index | MilvusBackend:
        self._ready() if build_if_missing else self.warm_up(build_if_missing=False)
        with self._write_lock:
            self._take_writer_lock()  # again after close()
            if self._store is None:
                # The state was handed over from another engine (tests): open the folder.
                self._store = self._open_store(self._load_encoder())
            return self._store

    def _maybe_compact(self) -> None:
        store = self._store
        if store is None or store.log_records < self.config.compact_after:
            return
        with self._write_lock:
            if self._compaction is not None and self._compaction.is_alive():
                return
            # Off the request: the write that crossed the limit returns at once, later writes
            # wait for the compaction's lock, reads go on against their snapshots.
            self._compaction = threading.Thread(
                target=self.compact, name="rag-compaction", daemon=True
            )
            self._compaction.start()

    def _check_writable(self) -> None:
        if self.config.read_only:
            raise ReadOnlyError(
                "the service was started read-only; restart it without --read-only to change documents"
            )


def _timings(result: SearchResult, t0: float, t1: float) -> dict[str, float]:
    timings = dict(result.timings_ms)
    timings["search"] = round((t1 - t0) * 1000, 2)
    timings["answer"] = round((time.perf_counter() - t1) * 1000, 2)
    timings["total"] = round((time.perf_counter() - t0) * 1000, 2)
    return timings


def _extract(answerer: AnswerStage, result: SearchResult, index: Snapshot) -> Answer:
    """The answer stage's answer; the extractive one may also cite an author note outside
    the hits, so it gets the snapshot's chunks."""
    from rag.answering.extractive import ExtractiveAnswerer

    if isinstance(answerer, ExtractiveAnswerer):
        return answerer.answer(result.query, result, index.documents, chunks_of=index.chunks_of)
    return answerer.answer(result.query, result, index.documents)


def _with_timings(answer: Answer, timings: dict[str, float]) -> Answer:
    return replace(answer, timings_ms=timings)
