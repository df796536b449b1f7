"""The engine: one object tying the encoder, the index, search and answers together.

The CLI and the HTTP API both build an :class:`Engine` from an :class:`EngineConfig` of plain
values (read from the environment and flags at the edge), call :meth:`Engine.warm_up` once,
and then use it. Writes are serialised by a lock and saved atomically.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.chunking import Chunker, ChunkerSettings
from rag.embedding.base import Encoder
from rag.errors import InputError, NotFoundError, ReadOnlyError
from rag.index.backend import DEFAULT_MILVUS_URI, IndexBackend, check_backend, check_faiss_folder
from rag.index.store import Index, IngestReport, read_manifest
from rag.parsing import load_documents
from rag.search import Searcher, SearchSettings
from rag.search.backend_searcher import BackendSearcher
from rag.types import Answer, Document, SearchResult, Turn

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class LLMConfig:
    """An OpenAI-compatible chat server used to phrase answers (optional)."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0


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
    backend: str = "faiss"  # or "milvus" (rag.index.backend)
    milvus_uri: str = DEFAULT_MILVUS_URI


def make_encoder(config: EngineConfig, progress: bool = False) -> Encoder:
    """The configured encoder (not loaded yet): the bundled e5 model unless another is named."""
    from rag.embedding.encoder import SentenceTransformerEncoder, default_encoder

    if config.model == DEFAULT_MODEL:
        return default_encoder(config.model_cache, progress=progress, device=config.device)
    return SentenceTransformerEncoder(
        config.model,
        query_prompt=config.query_prompt,
        passage_prompt=config.passage_prompt,
        device=config.device,
        name=config.model,
    )


class Engine:
    """Search, answers and document management over one index folder."""

    def __init__(self, config: EngineConfig, encoder: Encoder | None = None) -> None:
        self.config = config
        self._encoder = encoder
        self.index: Index | IndexBackend | None = None
        self.searcher: Searcher | BackendSearcher | None = None
        self._write_lock = threading.Lock()

    # ---- life cycle ----------------------------------------------------------------------
    def warm_up(self, build_if_missing: bool = True, progress: bool = False) -> None:
        """Load the model and the index; build the index from the corpus if there is none."""
        if self.index is not None:
            return
        encoder = self._encoder or make_encoder(self.config, progress=progress)
        self._encoder = encoder
        if hasattr(encoder, "warm_up"):
            encoder.warm_up()
        if not self.has_index():
            if not build_if_missing:
                raise NotFoundError(f"no index in {self._where()}; build one with `rag ingest`")
            logger.info("no index in %s: building it from %s", self._where(), self.corpus_names())
            self._set_index(self._new_index())
            self.ingest(list(self.config.corpus), progress=progress)
        elif self.config.backend == "milvus":
            self._set_index(self._new_index(rebuild=False))
        else:
            self._set_index(Index.load(self.config.index_dir, encoder))
        # The first query pays for lazy initialisation (jieba's dictionary, BM25 matrices).
        self.search("预热 warm-up", top_k=1)

    def corpus_names(self) -> str:
        return ", ".join(str(p) for p in self.config.corpus) or "(no corpus)"

    def has_index(self) -> bool:
        """Whether the configured backend holds an index already."""
        if check_backend(self.config.backend) == "milvus":
            from rag.index.milvus import MilvusBackend

            if isinstance(self.index, MilvusBackend):
                return self.index.exists()
            return MilvusBackend.probe(self.config.milvus_uri)
        check_faiss_folder(self.config.index_dir)
        return read_manifest(self.config.index_dir) is not None

    def _where(self) -> str:
        if self.config.backend == "milvus":
            return f"Milvus at {self.config.milvus_uri}"
        return str(self.config.index_dir)

    # The one place the backend is chosen: the FAISS index folder with the row-based searcher
    # (the default), or Milvus with the backend searcher.
    def _new_index(self, rebuild: bool = True) -> Index | IndexBackend:
        assert self._encoder is not None
        if check_backend(self.config.backend) == "milvus":
            from rag.index.milvus import MilvusBackend

            if isinstance(self.index, MilvusBackend):
                self.index.close()
            return MilvusBackend.open(
                self.config.milvus_uri, self._encoder, self.config.chunker, rebuild=rebuild
            )
        return Index(self._encoder, Chunker(self.config.chunker), self.config.ann)

    def _set_index(self, index: Index | IndexBackend) -> None:
        self.index = index
        if isinstance(index, Index):
            self.searcher = Searcher(index, self.config.search)
        else:
            self.searcher = BackendSearcher(index, self.config.search)

    def _ready(self) -> tuple[Index | IndexBackend, Searcher | BackendSearcher]:
        if self.index is None or self.searcher is None:
            self.warm_up()
        assert self.index is not None and self.searcher is not None
        return self.index, self.searcher

    # ---- reading -------------------------------------------------------------------------
    def search(self, query: str, top_k: int = 5, mode: str = "hybrid") -> SearchResult:
        return self._ready()[1].search(query, top_k=top_k, mode=mode)

    def ask(self, question: str, top_k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """Answer a question with citations (extractive, or phrased by the configured LLM).

        ``history`` holds the conversation's earlier turns, oldest first; a follow-up question
        is resolved against them.
        """
        from rag.answering.extractive import ExtractiveAnswerer

        index, searcher = self._ready()
        t0 = time.perf_counter()
        result = searcher.search(question, top_k=top_k, mode="hybrid")
        t1 = time.perf_counter()
        answer = ExtractiveAnswerer().answer(result.query, result, index.documents)
        if self.config.llm is not None and answer.answerable:
            from rag.answering.generation import ChatGenerator

            llm = self.config.llm
            generator = ChatGenerator(llm.base_url, llm.model, llm.api_key, llm.timeout)
            answer = generator.generate(result.query, result, index.documents, fallback=answer)
        timings = dict(result.timings_ms)
        timings["search"] = round((t1 - t0) * 1000, 2)
        timings["answer"] = round((time.perf_counter() - t1) * 1000, 2)
        timings["total"] = round((time.perf_counter() - t0) * 1000, 2)
        return _with_timings(answer, timings)

    def documents(self) -> list[Document]:
        return list(self._ready()[0].documents.values())

    def document(self, doc_id: str) -> Document:
        return self._ready()[0].document(doc_id)

    def chunk_count(self, doc_id: str) -> int:
        return len(self._ready()[0].chunks_of(doc_id))

    # ---- writing -------------------------------------------------------------------------
    def ingest(
        self, paths: list[Path], rebuild: bool = False, progress: bool = False
    ) -> IngestReport:
        """Add files and folders to the index (or start over with ``rebuild``) and save it."""
        self._check_writable()
        docs = load_documents(paths)
        with self._write_lock:
            if self.index is None or rebuild:
                if self._encoder is None:
                    self._encoder = make_encoder(self.config, progress=progress)
                self._set_index(self._new_index(rebuild=rebuild))
            assert self.index is not None
            report = self.index.add_documents(docs, progress=progress)
            self.index.save(self.config.index_dir)
        return report

    def add_document(self, doc: Document) -> IngestReport:
        self._check_writable()
        if not doc.text.strip():
            raise InputError("text must not be empty: send the article's body in 'text'")
        index, _ = self._ready()
        with self._write_lock:
            report = index.add_documents([doc])
            index.save(self.config.index_dir)
        return report

    def delete_document(self, doc_id: str) -> int:
        self._check_writable()
        index, _ = self._ready()
        with self._write_lock:
            removed = index.delete_document(doc_id)
            index.save(self.config.index_dir)
        return removed

    def _check_writable(self) -> None:
        if self.config.read_only:
            raise ReadOnlyError(
                "the service was started read-only; restart it without --read-only to change documents"
            )


def _with_timings(answer: Answer, timings: dict[str, float]) -> Answer:
    return replace(answer, timings_ms=timings)
