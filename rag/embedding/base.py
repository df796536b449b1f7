"""The encoder protocol every index and search component depends on."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """Turns text into L2-normalised float32 vectors.

    Queries and documents are encoded separately because e5-style models need a
    different prompt for each (``query: `` / ``passage: ``).
    """

    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)``, rows of unit length."""
        ...

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)``, rows of unit length."""
        ...
