"""The keyword leg: BM25 (Lucene's variant, as ``bm25s`` computes it) over Chinese-aware tokens.

Scores are those of ``bm25s.BM25(method="lucene")`` to the last bit (``tests/test_index.py``
compares them), but the index is kept the way Lucene keeps one: term frequencies in immutable
segments, with the corpus statistics (document count, document frequencies, mean length)
summed over the segments at query time. ``bm25s`` bakes those statistics into one precomputed
score matrix, so every added document meant rebuilding it for the whole corpus (three quarters
of a POST's time at 1,400 chunks, growing with the corpus); here an addition builds a segment
for its own rows only, and a deletion rebuilds only the segments it removes rows from.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.index.segments import keep_rows
from rag.index.tokenize import bigrams

logger = logging.getLogger(__name__)

# More segments than this and the appended ones are merged into one (each costs a lookup per
# query token).
MAX_SEGMENTS = 8


class _Segment:
    """Consecutive rows: their tokens, lengths and term frequencies; never changed once built."""

    __slots__ = ("tokens", "vocab", "tf", "lengths", "df", "total")

    def __init__(self, tokens: list[list[str]]) -> None:
        self.tokens = tokens
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.empty(len(tokens), dtype=np.int64)
        for row, toks in enumerate(tokens):
            toks = toks or [""]  # as bm25s indexes an empty chunk: one empty token
            lengths[row] = len(toks)
            for token, count in Counter(toks).items():
                rows.append(row)
                cols.append(vocab.setdefault(token, len(vocab)))
                counts.append(count)
        self.vocab = vocab
        # Column per token: a query token's postings are one contiguous slice.
        self.tf = sparse.csc_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, cols)),
            shape=(len(tokens), len(vocab)),
        )
        self.tf.sort_indices()
        self.df = np.diff(self.tf.indptr)
        self.lengths = lengths
        self.total = int(lengths.sum())

    def __len__(self) -> int:
        return len(self.tokens)


class KeywordIndex:
    """BM25 over pre-tokenised chunks; row i is chunk i of the store.

    The tokens of every chunk are kept (``tokens.jsonl``) so that adding or deleting documents
    never re-tokenises the corpus. Readers share an index with writers only through
    :meth:`copy`: a change replaces the tuple of segments instead of changing one, and
    :meth:`prepare` computes the vocabulary before the copy is published.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._segments: tuple[_Segment, ...] = ()
        self._vocab: frozenset[str] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(s) for s in self._segments)

    @property
    def tokens(self) -> list[list[str]]:
        """The tokens of every row, in order."""
        return [t for seg in self._segments for t in seg.tokens]

    @property
    def segments(self) -> int:
        return len(self._segments)

    def copy(self) -> KeywordIndex:
        """A new index sharing this one's (immutable) segments: what a writer changes."""
        other = KeywordIndex(self.k1, self.b)
        other._segments = self._segments
        other._vocab = self._vocab
        return other

    def set_tokens(self, tokens: list[list[str]]) -> None:
        tokens = [list(t) for t in tokens]
        self._segments = (_Segment(tokens),) if tokens else ()
        self._vocab = None

    def add(self, tokens: list[list[str]]) -> None:
        """Append rows as a new segment; the existing segments are not rebuilt."""
        tokens = [list(t) for t in tokens]
        if not tokens:
            return
        segments = (*self._segments, _Segment(tokens))
        if len(segments) > MAX_SEGMENTS:
            # The appended segments become one; once they outgrow the first, all become one.
            head, tail = segments[0], [t for s in segments[1:] for t in s.tokens]
            if len(tail) >= len(head):
                segments = (_Segment(head.tokens + tail),)
            else:
                segments = (head, _Segment(tail))
        self._segments = segments
        self._vocab = None

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` is true; only segments that lose rows are rebuilt."""
        self._segments = keep_rows(
            self._segments,
            mask,
            lambda seg, part: _Segment([t for t, k in zip(seg.tokens, part, strict=True) if k]),
        )
        self._vocab = None

    def prepare(self) -> None:
        """Compute what searches share (the vocabulary) now, so that no search pays for it."""
        _ = self.vocabulary

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every token of the corpus."""
        vocab = self._vocab
        if vocab is None:
            with self._lock:
                vocab = self._vocab
                if vocab is None:
                    # Less the placeholder of empty chunks, which is no word of the corpus.
                    vocab = frozenset(t for seg in self._segments for t in seg.vocab) - {""}
                    self._vocab = vocab
        return vocab

    def frequency(self, token: str) -> int:
        """How many chunks hold ``token``."""
        return _document_frequency(self._segments, token)

    def term_tokens(self, terms: Sequence[str]) -> list[str]:
        """Extra query terms (an English question's translations) as tokens of this index: a
        term the index holds as a token stays whole; one it does not (a name found as a chain
        of corpus bigrams, 蒋巨峰, which jieba cut as 蒋 + 巨峰) is searched as its bigrams."""
        vocabulary = self.vocabulary
        out: list[str] = []
        for term in terms:
            if term in vocabulary:
                out.append(term)
            else:
                out.extend(bigrams(term))
        return list(dict.fromkeys(out))

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when nothing matches).

        A query token counts once per occurrence, as in ``bm25s``; scores are summed in
        float32 in query-token order, also as there.
        """
        segments = self._segments
        n_docs = sum(len(s) for s in segments)
        if not n_docs:
            return np.zeros(0, dtype=np.float32)
        vocabulary = self.vocabulary
        known = [t for t in query_tokens if t in vocabulary]
        scores = np.zeros(n_docs, dtype=np.float32)
        if not known:
            return scores
        avg_len = np.float64(sum(s.total for s in segments)) / n_docs
        idf: dict[str, np.float32] = {}
        for token in set(known):
            df = _document_frequency(segments, token)
            idf[token] = np.float32(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)))
        k1, b = self.k1, self.b
        for token in known:
            offset = 0
            for seg in segments:
                col = seg.vocab.get(token)
                if col is not None:
                    lo, hi = seg.tf.indptr[col], seg.tf.indptr[col + 1]
                    rows = seg.tf.indices[lo:hi]
                    tf = seg.tf.data[lo:hi]
                    norm = k1 * ((1 - b) + b * seg.lengths[rows] / avg_len)
                    scores[offset + rows] += (idf[token] * (tf / (norm + tf))).astype(np.float32)
                offset += len(seg)
        return scores

    def search(
        self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` chunks with a positive score: (scores, rows), best first.

        With ``allowed`` (row numbers), only those rows compete (BM25 statistics stay those of
        the whole corpus, so a chunk scores the same filtered or not).
        """
        scores = self.scores(query_tokens)
        if allowed is not None and len(scores):
            mask = np.zeros(len(scores), dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        top = positive[np.argsort(-scores[positive], kind="stable")[:k]]
        return scores[top], top

    def save(self, folder: Path) -> None:
        with open(folder / "tokens.jsonl", "w", encoding="utf-8") as f:
            for toks in self.tokens:
                f.write(json.dumps(toks, ensure_ascii=False) + "\n")
        (folder / "keyword.json").write_text(json.dumps({"k1": self.k1, "b": self.b}))

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        params = json.loads((folder / "keyword.json").read_text())
        index = cls(k1=params["k1"], b=params["b"])
        with open(folder / "tokens.jsonl", encoding="utf-8") as f:
            index.set_tokens([json.loads(line) for line in f])
        return index


def _document_frequency(segments: Sequence[_Segment], token: str) -> int:
    """How many rows of ``segments`` hold ``token``."""
    return sum(int(s.df[s.vocab[token]]) for s in segments if token in s.vocab)
