"""Semantic search and cited question answering over Chinese news and policy articles."""

# OpenMP threads (torch's and faiss's) must not busy-wait: set before either is imported.
from rag.embedding import _omp  # noqa: E402,F401

__version__ = "0.1.0"
