"""Micro-batching of concurrent queries and a small LRU cache of query vectors.

A transformer encodes eight short queries in one call in little more time than one, so when
several requests are in flight their queries should share a call. :class:`BatchingEncoder`
wraps any encoder: the first caller becomes the *leader* and encodes at once; callers that
arrive while it is busy queue up, and when it finishes, the oldest waiting caller becomes the
next leader and encodes everything queued (up to ``max_batch`` texts) in one call. A lone
query therefore never waits for a timer. Only when the previous batch held several requests
(a sign of concurrent traffic) does a leader wait up to ``max_wait_ms`` for more to join. Up
to ``max_concurrent`` leaders encode at once: the ONNX encoder runs each call on one core, so
on two cores two batches go side by side.

Documents come first: while documents are being embedded (a write's chunks, or the sentences
an answer scores for the first time), queries run one batch at a time, so that a POST is not
held back by readers keeping every core busy (issue 13's target: a 3,000-character POST under
0.5 s at p50 with eight readers). Queries slow down only while documents are being embedded.

The batch is formed by hand here because the maintained options do not fit a synchronous
library called from a thread pool: ``asyncio``-based batchers (e.g. Ray Serve's
``@serve.batch``) need an event loop and a serving framework around the model.

Repeated questions (a newsroom asks the same thing many times) are answered from an LRU cache
of query vectors, keyed by the query text.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from rag.embedding.base import Encoder, check_texts
from rag.errors import InputError


class _Request:
    __slots__ = ("texts", "result", "error", "done", "lead")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False


class QueryCache:
    """A thread-safe LRU map from query text to its (read-only) vector."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise InputError(f"cache size must be 0 or more. Currently, size is {size}")
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        if not self.size:
            return
        vector = np.array(vector, dtype=np.float32)  # a copy the caller cannot change
        vector.flags.writeable = False
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class BatchingEncoder:
    """An encoder whose ``encode_queries`` batches concurrent callers and caches vectors.

    Documents pass straight through (ingest already sends large batches).

    Args:
        encoder: The encoder to wrap.
        max_batch: Most query texts in one call of the wrapped encoder.
        max_wait_ms: Longest a leader waits for more queries, and only under concurrent load.
        cache_size: Query vectors kept (0 disables the cache).
        max_concurrent: Calls of the wrapped encoder at once (its cores, when each call runs
            on one; 1 for an encoder whose calls use every core already).

    Raises:
        InputError: if ``max_batch`` or ``max_concurrent`` is not positive or ``max_wait_ms``
            is negative.
    """

    def __init__(
        self,
        encoder: Encoder,
        max_batch: int = 16,
        max_wait_ms: float = 1.0,
        cache_size: int = 1024,
        max_concurrent: int = 1,
    ) -> None:
        if max_batch <= 0:
            raise InputError(
                f"max_batch must be greater than 0. Currently, max_batch is {max_batch}"
            )
        if max_wait_ms < 0:
            raise InputError(
                f"max_wait_ms must be 0 or more. Currently, max_wait_ms is {max_wait_ms}"
            )
        if max_concurrent <= 0:
            raise InputError(
                f"max_concurrent must be greater than 0. Currently, max_concurrent is "
                f"{max_concurrent}"
            )
        self.encoder = encoder
        self.max_concurrent = max_concurrent
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.cache = QueryCache(cache_size)
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._leaders = 0  # callers encoding a batch right now
        self._documents = 0  # encode_documents calls in progress
        self._last_batch_requests = 0
        self._last_batch_end = 0.0
        self.batches = 0  # calls of the wrapped encoder's encode_queries

    # ---- the Encoder protocol, delegated ------------------------------------------------
    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def runtime(self) -> str:
        return self.encoder.runtime

    def warm_up(self) -> None:
        self.encoder.warm_up()

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode passages with the wrapped encoder, queries held to one batch at a time."""
        with self._cond:
            self._documents += 1
        try:
            return self.encoder.encode_documents(texts, progress=progress)
        finally:
            with self._cond:
                self._documents -= 1
                self._promote()
                self._cond.notify_all()

    # ---- queries ---------------------------------------------------------------------------
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode queries, sharing one call of the wrapped encoder with concurrent callers.

        Returns:
            float32 ``(len(texts), dim)``, equal to the wrapped encoder's output.
        """
        texts = check_texts(texts)
        rows: list[np.ndarray | None] = [self.cache.get(t) for t in texts]
        missing = list(dict.fromkeys(t for t, r in zip(texts, rows, strict=True) if r is None))
        if missing:
            vectors = self._batched(missing)
            fresh = dict(zip(missing, vectors, strict=True))
            for t, v in fresh.items():
                self.cache.put(t, v)
            rows = [fresh[t] if r is None else r for t, r in zip(texts, rows, strict=True)]
        if not rows:
            return self.encoder.encode_queries([])
        return np.vstack(rows).astype(np.float32, copy=False)

    def _batched(self, texts: list[str]) -> np.ndarray:
        request = _Request(texts)
        with self._cond:
            self._queue.append(request)
            if self._leaders >= self._limit():
                while not (request.done or request.lead):
                    self._cond.wait()
                if request.done:
                    return _result(request)
                # A finishing leader handed its place to this request (and counted it).
            else:
                self._leaders += 1
                request.lead = True  # so no other leader takes it into its batch
            self._gather()
            batch = self._take(request)
        self._run(batch)
        with self._cond:
            self._last_batch_requests = len(batch)
            self._last_batch_end = time.perf_counter()
            self._leaders -= 1
            self._promote()
            self._cond.notify_all()
        return _result(request)

    def _limit(self) -> int:
        """Query batches allowed at once: one while documents are being encoded."""
        return 1 if self._documents else self.max_concurrent

    def _promote(self) -> None:
        """Hand free places to the oldest callers still waiting: each encodes what queued
        meanwhile. Holds the condition's lock; the caller notifies."""
        while self._leaders < self._limit():
            waiting = next((r for r in self._queue if not r.lead), None)
            if waiting is None:
                return
            waiting.lead = True
            self._leaders += 1

    def _gather(self) -> None:
        """Under concurrent load, wait (at most ``max_wait_s``) for a batch to fill. Holds the
        condition's lock; ``wait`` releases it so that others can queue."""
        recent = time.perf_counter() - self._last_batch_end < 0.1
        if self._last_batch_requests < 2 or not recent:
            return
        deadline = time.perf_counter() + self.max_wait_s
        while sum(len(r.texts) for r in self._queue if not r.lead) < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self._cond.wait(left)

    def _take(self, own: _Request) -> list[_Request]:
        """The leader's own request, then the oldest waiting ones, up to ``max_batch`` texts.

        A request handed the lead stays for its own caller to take, so that no two leaders
        ever encode the same request.
        """
        self._queue.remove(own)
        batch, count = [own], len(own.texts)
        for request in list(self._queue):
            if request.lead or count + len(request.texts) > self.max_batch:
                continue
            self._queue.remove(request)
            batch.append(request)
            count += len(request.texts)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        try:
            vectors = self.encoder.encode_queries(texts)
            self.batches += 1
        except BaseException as e:  # every caller of the batch gets the error, not just one
            for r in batch:
                r.error = e
        else:
            start = 0
            for r in batch:
                r.result = vectors[start : start + len(r.texts)]
                start += len(r.texts)
        with self._cond:
            for r in batch:
                r.done = True

    def __repr__(self) -> str:
        return f"BatchingEncoder({self.encoder!r}, max_batch={self.max_batch})"


def _result(request: _Request) -> np.ndarray:
    if request.error is not None:
        raise request.error
    assert request.result is not None
    return request.result
