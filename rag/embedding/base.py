"""The encoder protocol every index and search component depends on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import InputError


@runtime_checkable
class Encoder(Protocol):
    """Turns text into L2-normalised float32 vectors.

    Queries and documents are encoded separately because e5-style models need a different
    prompt for each (``query: `` / ``passage: ``). Constructors are cheap; the model loads in
    :meth:`warm_up` (the encode methods call it on first use).

    ``name`` identifies the model, not how it runs: an index records it, and a query encoder
    with another name is refused. ``runtime`` (e.g. ``torch-fp32``, ``onnx-int8``) is recorded
    too, but vectors of the same model from two runtimes are compatible.
    """

    name: str
    dim: int
    runtime: str

    def warm_up(self) -> None:
        """Load the model once; later calls return at once."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)``, rows of unit length."""
        ...

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)``, rows of unit length."""
        ...


def warm_up_in_background(encoder: Encoder) -> Callable[[], None]:
    """Start ``encoder.warm_up()`` in a thread; return a function that waits for it and
    re-raises its error, if any.

    Loading a model is mostly native code that releases the GIL (reading the tokenizer,
    creating the ONNX Runtime session, torch's loaders), so on a multi-core machine it
    overlaps with loading the index.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            encoder.warm_up()
        except BaseException as e:  # handed to the caller's thread by wait()
            failure.append(e)

    thread = threading.Thread(target=run, name="encoder-warm-up", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return wait


def check_batching(batch_size: int, num_threads: int | None) -> None:
    """Refuse a batch size or thread count an encoder cannot run with (every encoder)."""
    if batch_size <= 0:
        raise InputError(
            f"batch_size must be greater than 0. Currently, batch_size is {batch_size}"
        )
    if num_threads is not None and num_threads <= 0:
        raise InputError(
            f"num_threads must be greater than 0 or None. Currently, num_threads is {num_threads}"
        )


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts an encode method was given, as a list, refused with a clear error when they
    are one string (which would be encoded character by character) or hold a non-string."""
    if isinstance(texts, str):
        raise InputError("texts must be a list of strings, not a single string")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise InputError(
            f"texts must all be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}"
        )
    return texts
