"""Query-time retrieval: dense, keyword and hybrid search over an :class:`rag.index.store.Index`."""

from rag.search.searcher import MODES, Searcher, SearchSettings

__all__ = ["MODES", "Searcher", "SearchSettings"]
