"""Turning source files into cleaned :class:`rag.types.Document` records."""

from rag.parsing.loaders import load_documents, load_path

__all__ = ["load_documents", "load_path"]
