"""The keyword leg: BM25 (the maintained ``bm25s`` library) over Chinese-aware tokens."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import numpy as np

logger = logging.getLogger(__name__)


class KeywordIndex:
    """BM25 over pre-tokenised chunks; row i is chunk i of the store.

    The tokens of every chunk are kept (``tokens.jsonl``) so that adding or deleting
    documents recomputes BM25 statistics without re-tokenising the corpus. The scoring
    matrix is built once per change and stored, never per query.

    Readers share an index with writers only through :meth:`copy`: a change replaces the
    token list and the model instead of changing them in place, and :meth:`prepare` builds
    the model before the copy is published, so a search never sees a half-built one.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.tokens: list[list[str]] = []
        self._bm25: bm25s.BM25 | None = None
        self._vocab: set[str] = set()

    def __len__(self) -> int:
        return len(self.tokens)

    def set_tokens(self, tokens: list[list[str]]) -> None:
        self.tokens = [list(t) for t in tokens]
        self._bm25 = None

    def add(self, tokens: list[list[str]]) -> None:
        self.tokens = self.tokens + [list(t) for t in tokens]
        self._bm25 = None

    def copy(self) -> KeywordIndex:
        """A new index sharing this one's tokens and model (neither is changed in place)."""
        other = KeywordIndex(self.k1, self.b)
        other.tokens = self.tokens
        other._bm25 = self._bm25
        other._vocab = self._vocab
        return other

    def prepare(self) -> None:
        """Build the BM25 model now, so that no search pays for it."""
        self._model()

    def keep(self, mask: np.ndarray) -> None:
        self.tokens = [t for t, keep in zip(self.tokens, mask, strict=True) if keep]
        self._bm25 = None

    @property
    def vocabulary(self) -> set[str]:
        """Every token of the corpus."""
        self._model()
        return self._vocab

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when nothing matches)."""
        if not self.tokens:
            return np.zeros(0, dtype=np.float32)
        known = [t for t in query_tokens if t in self.vocabulary]
        if not known:
            return np.zeros(len(self.tokens), dtype=np.float32)
        return np.asarray(self._model().get_scores(known), dtype=np.float32)

    def search(self, query_tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` chunks with a positive score: (scores, rows), best first."""
        scores = self.scores(query_tokens)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return scores[top], top

    def _model(self) -> bm25s.BM25:
        if self._bm25 is None:
            model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
            if self.tokens:
                model.index([t or [""] for t in self.tokens], show_progress=False)
            # The vocabulary first: a reader that finds the model set finds its vocabulary too.
            self._vocab = {t for toks in self.tokens for t in toks}
            self._bm25 = model
        return self._bm25

    def save(self, folder: Path) -> None:
        with open(folder / "tokens.jsonl", "w", encoding="utf-8") as f:
            for toks in self.tokens:
                f.write(json.dumps(toks, ensure_ascii=False) + "\n")
        bm25_dir = folder / "bm25"
        bm25_dir.mkdir(exist_ok=True)
        if self.tokens:
            self._model().save(str(bm25_dir), show_progress=False)
        (folder / "keyword.json").write_text(json.dumps({"k1": self.k1, "b": self.b}))

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        params = json.loads((folder / "keyword.json").read_text())
        index = cls(k1=params["k1"], b=params["b"])
        with open(folder / "tokens.jsonl", encoding="utf-8") as f:
            index.tokens = [json.loads(line) for line in f]
        bm25_dir = folder / "bm25"
        if index.tokens and (bm25_dir / "params.index.json").exists():
            index._bm25 = bm25s.BM25.load(str(bm25_dir), mmap=False, show_progress=False)
            index._vocab = {t for toks in index.tokens for t in toks}
        return index
