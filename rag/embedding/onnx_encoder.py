"""Encoder that runs an ONNX export with ONNX Runtime: no torch in the serving process.

The graph (see :mod:`rag.embedding.onnx_export`) already pools and normalises, so encoding is:
tokenise with the model's own ``tokenizer.json`` (the ``tokenizers`` library, as
sentence-transformers' fast tokenizer does), pad each batch to its longest text, run, read the
unit vectors. Texts are sorted by length before batching, so a batch holds texts of similar
length and little time goes to padding.

Threads: every run of the graph is single-threaded, and the cores are used by running several
batches at once (ONNX Runtime sessions take concurrent ``run`` calls). On the 2-core host a
short query took 4.4 ms on one intra-op thread against 6.4 ms on two (waking a sleeping
worker for each of the graph's ~200 operators costs more than the split saves), documents
encoded as fast on two concurrent single-threaded runs as on one two-threaded run (76 against
77 passages/s), and two clients querying at once got 413 against 284 queries/s
(a spike over the project's questions and 300-character slices of the bundled page; the
table is in docs/embedding.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding import onnx_export
from rag.embedding.base import check_batching, check_texts
from rag.embedding.encoder import dim_from_folder
from rag.errors import InputError, ModelError

logger = logging.getLogger(__name__)

#: Below this many texts, tokenising one by one beats the tokenizer's thread pool.
INLINE_TOKENIZE = 16
PAD_ID = 1  # XLM-R's <pad>; e5's tokenizer.json declares it too, read from there when present


class OnnxEncoder:
    """Encode queries and documents with an ONNX model under ONNX Runtime (CPU).

    Args:
        onnx_dir: A folder written by :func:`rag.embedding.onnx_export.ensure_onnx_model`.
        name: Name recorded in index manifests (the model's, not the runtime's: vectors of the
            same model from torch and ONNX are compatible).
        file_name: The graph to run: ``model_qint8.onnx`` (default) or ``model.onnx`` (fp32).
        query_prompt: Text put before every query; None takes the folder's ``query`` prompt.
        passage_prompt: Text put before every document; None takes the folder's ``passage``.
        batch_size: Most texts per run when encoding documents.
        num_threads: Runs of the graph at once when encoding documents (each run is
            single-threaded); None uses the CPUs this process may use. Queries are encoded in
            one run, so concurrent callers (see :class:`rag.embedding.batching.BatchingEncoder`)
            use that many cores between them.
        max_batch_tokens: Most padded tokens in one run of documents (see ``_batches``).

    Raises:
        InputError: if ``batch_size``, ``num_threads`` or ``max_batch_tokens`` is not positive.
    """

    def __init__(
        self,
        onnx_dir: str | Path,
        name: str,
        *,
        file_name: str = onnx_export.INT8_FILE,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int = 16,
        num_threads: int | None = None,
        max_batch_tokens: int = 1024,
    ) -> None:
        check_batching(batch_size, num_threads)
        self.onnx_dir = Path(onnx_dir)
        self.name = name
        self.file_name = file_name
        self.batch_size = batch_size
        if max_batch_tokens <= 0:
            raise InputError(
                f"max_batch_tokens must be greater than 0. Currently, max_batch_tokens is "
                f"{max_batch_tokens}"
            )
        self.max_batch_tokens = max_batch_tokens
        self.num_threads = num_threads
        self.workers = num_threads or _allowed_cpus()
        self.runtime = "onnx-int8" if file_name == onnx_export.INT8_FILE else "onnx-fp32"
        marker = _read_json(self.onnx_dir / onnx_export.MARKER_FILE)
        prompts = marker.get("prompts", {})
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", "")
        self.passage_prompt = (
            passage_prompt if passage_prompt is not None else prompts.get("passage", "")
        )
        self.max_length = int(marker.get("max_seq_length", 512))
        self._source = str(marker.get("source") or "")
        self._session: Any = None
        self._tokenizer: Any = None
        self._pad_id = PAD_ID
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def dim(self) -> int:
        """Embedding dimension, read from the source folder's pooling config when the model is
        not loaded yet (so an index can be checked and loaded while the model loads)."""
        if self._dim is None:
            self._dim = dim_from_folder(Path(self._source)) if self._source else None
        if self._dim is None:
            self.warm_up()
        return int(self._dim or 0)

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX Runtime session once; later calls return at once.

        Raises:
            ImportError: if onnxruntime or tokenizers is missing.
            ModelError: if the files cannot be loaded.
        """
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._load()

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise ImportError("OnnxEncoder needs `pip install onnxruntime tokenizers`") from e
        path = self.onnx_dir / self.file_name
        # Reading the 250k-piece tokenizer and creating the session each take seconds and each
        # keep one core busy: on 2 cores, doing both at once halves the wait.
        loaded: dict[str, Any] = {}

        def load_tokenizer() -> None:
            try:
                loaded["tokenizer"] = Tokenizer.from_file(str(self.onnx_dir / "tokenizer.json"))
            except Exception as e:  # re-raised below, in the caller's thread
                loaded["error"] = e

        reader = threading.Thread(target=load_tokenizer, name="tokenizer-load")
        reader.start()
        try:
            session = _session(ort, path)
        except Exception as e:  # onnxruntime raises its own exception types; name the file
            raise ModelError(f"cannot load ONNX model {path}: {e}") from e
        finally:
            reader.join()
        if "error" in loaded:
            raise ModelError(f"cannot load {self.onnx_dir / 'tokenizer.json'}: {loaded['error']}")
        tokenizer = loaded["tokenizer"]
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_length)
        pad = tokenizer.token_to_id("<pad>")
        self._pad_id = PAD_ID if pad is None else int(pad)
        self._tokenizer = tokenizer
        out = session.get_outputs()[0].shape
        self._dim = int(out[-1]) if isinstance(out[-1], int) else None
        self._session = session
        if self._dim is None:
            self._dim = int(self._run([[0, 2]]).shape[1])
        logger.info("loaded %s with ONNX Runtime (dim %d)", path, self._dim)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode search queries (with ``query_prompt``): float32 ``(len(texts), dim)``."""
        # One run: concurrent queries already keep the cores busy (one batch per core, see
        # BatchingEncoder), and handing a short query to a pool thread costs more than it saves.
        return self._encode(texts, self.query_prompt, workers=1)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode passages (with ``passage_prompt``): float32 ``(len(texts), dim)``."""
        return self._encode(texts, self.passage_prompt, progress=progress, workers=self.workers)

    def _encode(
        self, texts: list[str], prompt: str | None, *, workers: int, progress: bool = False
    ) -> np.ndarray:
        texts = check_texts(texts)
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompted = [(prompt or "") + t for t in texts]
        # encode_batch hands the texts to the tokenizer's thread pool, and waking it costs more
        # than it saves below ~16 texts (one query: 0.07 ms against 0.03 ms; 8 queries: 0.32
        # against 0.23 ms), so short batches, every query batch among them, are tokenised inline.
        if len(prompted) < INLINE_TOKENIZE:
            encodings = [self._tokenizer.encode(t) for t in prompted]
        else:
            encodings = self._tokenizer.encode_batch(prompted)
        ids = [e.ids for e in encodings]
        # Longest first, so the first batch shows the worst case and the rest only get faster.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        # Small enough that every worker gets a batch: a POST of 11 chunks runs as 6 + 5 on
        # two cores rather than 11 on one.
        size = max(1, min(self.batch_size, -(-len(order) // workers)))
        batches = _batches(order, [len(ids[i]) for i in order], size, self.max_batch_tokens)

        def run(rows: list[int]) -> int:
            out[rows] = self._run([ids[i] for i in rows])
            return len(rows)

        if len(batches) == 1 or workers == 1:
            done = map(run, batches)
        else:
            done = self._executor().map(run, batches)
        if progress:
            from tqdm.auto import tqdm

            done = tqdm(done, desc="Embedding", unit="batch", total=len(batches))
        for _ in done:  # map is lazy: this runs the batches and re-raises their errors
            pass
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.workers, thread_name_prefix="onnx-encode", initializer=_raise_priority
                )
            return self._pool

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, x in enumerate(batch):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OnnxEncoder(name={self.name!r}, file={self.file_name!r})"


#: Nice value of the threads that embed documents: a writer waits for them (a POST is
#: acknowledged only once its chunks are embedded and logged), while a reader's request is
#: short and stays at the default 0. With 8 readers busy on 2 cores (scripts/bench_load.py,
#: 20 s, two runs each): POST p50 438/444 ms at -5 against 532/512 ms at 0, for 127 against
#: 172 reads/s.
DOCUMENT_THREAD_NICE = -5


def _raise_priority() -> None:
    """Give this document-encoding thread a higher CPU priority than request threads.

    Best effort: lowering a nice value needs CAP_SYS_NICE (root, or a raised RLIMIT_NICE); an
    unprivileged service keeps the default priority and only loses the head start.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), DOCUMENT_THREAD_NICE)
    except (OSError, AttributeError):
        logger.debug("cannot raise the priority of document encoding threads", exc_info=True)


def _batches(order: list[int], lengths: list[int], size: int, max_tokens: int) -> list[list[int]]:
    """Cut ``order`` (longest text first; ``lengths`` in the same order) into batches of at
    most ``size`` texts and at most ``max_tokens`` padded tokens (always at least one text).

    Why a token budget: a run's activations, held in ONNX Runtime's arena after it, grow with
    texts x length (and length squared in attention). On the bundled page's 214-token chunks,
    two concurrent runs of 16 texts peaked at 879 MB of RSS and encoded 58 chunks/s; runs of 4
    peaked at 612 MB and encoded 76 chunks/s (smaller working sets stay in cache).
    """
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0  # longest first: the batch's first text sets the padded width of all of it
    for row, length in zip(order, lengths, strict=True):
        if current and (len(current) >= size or (len(current) + 1) * width > max_tokens):
            batches.append(current)
            current = []
        if not current:
            width = length
        current.append(row)
    if current:
        batches.append(current)
    return batches


def _session(ort: Any, path: Path) -> Any:
    """An ONNX Runtime session for ``path``, its optimised graph cached beside it.

    Full graph optimisation of the int8 model takes seconds at every start; ONNX Runtime can
    save the optimised graph, but it may hold kernels specific to this CPU, so the cached file
    is named by the CPU's flags and the runtime's version and made once per machine.
    """
    options = ort.SessionOptions()
    # One thread per run; parallelism comes from concurrent runs (see the module docstring).
    # With a single intra-op thread there is no worker pool to spin or to wake.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    cached = path.with_name(f"{path.stem}.optimized-{_machine_tag(ort.__version__)}.onnx")
    if cached.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), sess_options=options, providers=providers)
        except Exception:  # a stale or damaged cache: rebuild it from the model below
            logger.warning("ignoring unusable optimised graph %s", cached, exc_info=True)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    tmp = cached.with_name(f"{cached.name}.tmp-{os.getpid()}")
    options.optimized_model_filepath = str(tmp)
    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    try:
        os.replace(tmp, cached)  # whole or absent, even with several processes starting
    except OSError:
        logger.info("could not cache the optimised graph in %s", cached, exc_info=True)
    return session


def _machine_tag(ort_version: str) -> str:
    try:
        flags = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        )
    except (OSError, StopIteration):
        flags = os.uname().machine
    digest = hashlib.sha256(f"{ort_version} {flags}".encode()).hexdigest()[:12]
    return digest


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _allowed_cpus() -> int:
    # os.cpu_count() counts the host's cores, which inside a container or under taskset can
    # exceed the CPUs this process may use; more threads than CPUs only adds contention.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
