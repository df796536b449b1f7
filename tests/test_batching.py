"""The query micro-batcher and the query-vector cache (fast: a fake encoder)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rag.embedding.batching import BatchingEncoder, QueryCache
from rag.embedding.fake import HashEncoder
from rag.errors import InputError


class CountingEncoder(HashEncoder):
    """A fake encoder that records each call of ``encode_queries`` and can be slowed down, so
    that concurrent callers overlap as they do with a real model."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.documents_running = False
        self.documents_started = 0.0
        # (seconds since the documents started, queries running) at each query started meanwhile
        self.during_documents: list[tuple[float, int]] = []

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.documents_started = time.perf_counter()
        self.documents_running = True
        try:
            time.sleep(0.3)
            return super().encode_documents(texts, progress=progress)
        finally:
            self.documents_running = False

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            if self.documents_running:
                elapsed = time.perf_counter() - self.documents_started
                self.during_documents.append((elapsed, self.running))
        try:
            time.sleep(self.delay_s)
            return super().encode_queries(texts)
        finally:
            with self._lock:
                self.running -= 1


def _in_threads(n: int, work) -> list[BaseException]:
    """Run ``work(k)`` for k in 0..n-1, each in its own thread, all released at once; return
    the errors they raised (a thread's exception is otherwise lost). Every thread has ended."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            barrier.wait()
            work(k)
        except BaseException as e:  # returned to the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return errors


QUERIES = [f"问题 {i}：平台从业人员的职业伤害保障 question {i}" for i in range(64)]


def test_concurrent_results_equal_one_by_one_encoding() -> None:
    inner = CountingEncoder(delay_s=0.01)
    batcher = BatchingEncoder(inner, max_batch=8, cache_size=0)
    expected = {q: HashEncoder().encode_queries([q])[0] for q in QUERIES}
    results: dict[str, np.ndarray] = {}

    def client(offset: int) -> None:
        for q in QUERIES[offset::16]:
            results[q] = batcher.encode_queries([q])[0]

    assert not _in_threads(16, client)
    assert set(results) == set(QUERIES)
    for q in QUERIES:
        np.testing.assert_array_equal(results[q], expected[q])
    # Queries shared calls: fewer calls than queries, and none above the bound.
    assert len(inner.calls) < len(QUERIES)
    assert max(len(c) for c in inner.calls) <= 8
    assert sorted(t for c in inner.calls for t in c) == sorted(QUERIES)


def test_multi_text_requests_keep_their_rows_in_order() -> None:
    inner = CountingEncoder(delay_s=0.005)
    batcher = BatchingEncoder(inner, max_batch=6, cache_size=0)
    groups = [QUERIES[i : i + 3] for i in range(0, 24, 3)]
    out: dict[int, np.ndarray] = {}

    def client(i: int) -> None:
        out[i] = batcher.encode_queries(groups[i])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(groups))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i, group in enumerate(groups):
        np.testing.assert_array_equal(out[i], HashEncoder().encode_queries(group))


def test_a_lone_query_is_encoded_alone_and_at_once() -> None:
    inner = CountingEncoder()
    batcher = BatchingEncoder(inner, cache_size=0)
    for q in QUERIES[:5]:
        batcher.encode_queries([q])
    assert inner.calls == [[q] for q in QUERIES[:5]]


def test_cache_answers_repeated_queries_without_encoding() -> None:
    inner = CountingEncoder()
    batcher = BatchingEncoder(inner, cache_size=2)
    first = batcher.encode_queries([QUERIES[0]])
    again = batcher.encode_queries([QUERIES[0]])
    assert inner.calls == [[QUERIES[0]]]
    np.testing.assert_array_equal(first, again)
    assert batcher.cache.hits == 1
    # A mixed request only encodes what is missing, once even if repeated.
    mixed = batcher.encode_queries([QUERIES[1], QUERIES[0], QUERIES[1]])
    assert inner.calls[-1] == [QUERIES[1]]
    np.testing.assert_array_equal(
        mixed, HashEncoder().encode_queries([QUERIES[1], QUERIES[0], QUERIES[1]])
    )


def test_cache_evicts_the_least_recently_used() -> None:
    cache = QueryCache(2)
    v = np.ones(4, dtype=np.float32)
    cache.put("a", v)
    cache.put("b", v)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", v)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2


def test_cached_vectors_cannot_be_changed_by_callers() -> None:
    batcher = BatchingEncoder(HashEncoder(), cache_size=4)
    out = batcher.encode_queries([QUERIES[0]])
    out[0, :] = 0.0
    np.testing.assert_array_equal(
        batcher.encode_queries([QUERIES[0]]), HashEncoder().encode_queries([QUERIES[0]])
    )


@pytest.mark.parametrize("leaders", [1, 2])
def test_an_encoder_error_reaches_every_caller_of_the_batch(leaders: int) -> None:
    class Failing(CountingEncoder):
        broken = True

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            time.sleep(0.01)
            if self.broken:
                raise RuntimeError("model crashed")
            return super().encode_queries(texts)

    inner = Failing()
    batcher = BatchingEncoder(inner, cache_size=0, max_concurrent=leaders)
    errors: list[BaseException] = []

    def client(q: str) -> None:
        try:
            batcher.encode_queries([q])
        except RuntimeError as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(q,)) for q in QUERIES[:6]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(errors) == 6
    # And the same batcher works afterwards (no leader left stuck).
    inner.broken = False
    np.testing.assert_array_equal(
        batcher.encode_queries([QUERIES[0]]), HashEncoder().encode_queries([QUERIES[0]])
    )
    assert batcher._leaders == 0


def test_bad_input_and_settings_are_named() -> None:
    batcher = BatchingEncoder(HashEncoder())
    with pytest.raises(InputError, match="not a single string"):
        batcher.encode_queries("one string")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="item 1 is int"):
        batcher.encode_queries(["a", 3])  # type: ignore[list-item]
    with pytest.raises(InputError, match="max_batch"):
        BatchingEncoder(HashEncoder(), max_batch=0)
    with pytest.raises(InputError, match="max_concurrent"):
        BatchingEncoder(HashEncoder(), max_concurrent=0)
    assert batcher.encode_queries([]).shape == (0, 64)


def test_documents_and_identity_pass_through() -> None:
    inner = HashEncoder()
    batcher = BatchingEncoder(inner)
    assert (batcher.name, batcher.dim, batcher.runtime) == (inner.name, inner.dim, "hash")
    np.testing.assert_array_equal(
        batcher.encode_documents(QUERIES[:3]), inner.encode_documents(QUERIES[:3])
    )


@pytest.mark.parametrize("leaders", [1, 2, 3])
def test_concurrent_leaders_encode_each_request_once_and_correctly(leaders: int) -> None:
    """Several leaders at once (one per core for single-threaded ONNX runs): every caller gets
    its own rows, every text is encoded exactly once, and no more calls overlap than allowed."""
    inner = CountingEncoder(delay_s=0.004)
    batcher = BatchingEncoder(inner, max_batch=5, cache_size=0, max_concurrent=leaders)
    # Requests of one to three texts, so batches fill unevenly and some requests are skipped.
    requests = [QUERIES[i : i + 1 + i % 3] for i in range(0, 60, 2)]
    results: dict[int, np.ndarray] = {}

    def client(k: int) -> None:
        for i in range(k, len(requests), 12):
            results[i] = batcher.encode_queries(requests[i])

    assert not _in_threads(12, client)
    for i, texts in enumerate(requests):
        np.testing.assert_array_equal(results[i], HashEncoder().encode_queries(texts))
    encoded = [t for call in inner.calls for t in call]
    assert sorted(encoded) == sorted(t for r in requests for t in r)
    assert max(len(c) for c in inner.calls) <= 5
    assert inner.most_at_once <= leaders
    if leaders > 1:
        assert inner.most_at_once >= 2  # twelve callers kept more than one leader busy
    # Nothing is left leading once every caller has returned.
    assert batcher._leaders == 0


def test_queries_run_one_batch_at_a_time_while_documents_are_encoded() -> None:
    """A write's embedding gets the cores: queries go on, one batch at a time, then spread
    over every place again once the documents are done."""
    inner = CountingEncoder(delay_s=0.01)
    batcher = BatchingEncoder(inner, max_batch=2, cache_size=0, max_concurrent=3)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            i = 0
            while not stop.is_set():
                q = QUERIES[(k * 7 + i) % len(QUERIES)]
                np.testing.assert_array_equal(
                    batcher.encode_queries([q]), HashEncoder().encode_queries([q])
                )
                i += 1
        except BaseException as e:  # surfaced below
            errors.append(e)

    readers = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for t in readers:
        t.start()
    time.sleep(0.1)
    vectors = batcher.encode_documents(QUERIES[:3])
    time.sleep(0.1)
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors
    np.testing.assert_array_equal(vectors, HashEncoder().encode_documents(QUERIES[:3]))
    # Batches already admitted when the documents came finish first (one query delay, 10 ms).
    settled = [running for elapsed, running in inner.during_documents if elapsed > 0.05]
    assert settled, "queries starved while documents were encoded"
    assert max(settled) == 1
    assert inner.most_at_once >= 2  # before and after, several batches ran at once
    assert batcher._leaders == 0 and batcher._documents == 0
