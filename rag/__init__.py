"""Semantic search and cited question answering over Chinese news and policy articles."""

__version__ = "0.1.0"
