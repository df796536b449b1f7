"""A deterministic, dependency-free encoder for fast unit tests."""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np

from rag.errors import InputError


class HashEncoder:
    """Hash character unigrams and bigrams into a small normalised vector.

    Texts sharing characters and character pairs get close vectors, which is enough to test
    indexing and ranking code without loading a model. Hashes come from blake2b, not Python's
    salted ``hash``, so vectors are identical across processes. Queries and documents are
    encoded alike (there are no prompts).

    Args:
        dim: Vector size.
        name: Name recorded in index manifests.

    Raises:
        InputError: if ``dim`` is smaller than 2.
    """

    def __init__(self, dim: int = 64, name: str = "hash-bigram") -> None:
        if dim < 2:
            raise InputError(f"dim must be at least 2. Currently, dim is {dim}")
        self.dim = dim
        self.name = f"{name}-{dim}"
        self.runtime = "hash"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode queries; float32 ``(len(texts), dim)``, rows of unit length."""
        return self._encode(texts)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode documents; float32 ``(len(texts), dim)``, rows of unit length."""
        return self._encode(texts)

    def warm_up(self) -> None:
        """Nothing to load; present so callers can treat every encoder alike."""

    def _encode(self, texts: list[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InputError("texts must be a list of strings, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"texts must all be strings; item {row} is {type(text).__name__}")
            self._fill(out[row], text)
        return out

    def _fill(self, vec: np.ndarray, text: str) -> None:
        chars = "".join(unicodedata.normalize("NFKC", text).lower().split())
        grams = list(chars) + [chars[i : i + 2] for i in range(len(chars) - 1)]
        for gram in grams:
            digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            # A hash-derived sign keeps collisions from only ever adding up.
            vec[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            # Empty text (or cancelling collisions): any fixed unit vector keeps rows unit length.
            vec[0] = 1.0
        else:
            vec /= norm
