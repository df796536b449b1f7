"""Answers with citations: extractive quotes, or phrasing by an optional language model."""

from rag.answering.extractive import ExtractiveAnswerer, not_found
from rag.answering.generation import ChatGenerator
from rag.answering.markers import make_citation, renumber_citations
from rag.answering.sentences import Sentence, chunk_sentences, split_sentences

__all__ = [
    "ChatGenerator",
    "ExtractiveAnswerer",
    "Sentence",
    "chunk_sentences",
    "make_citation",
    "not_found",
    "renumber_citations",
    "split_sentences",
]
