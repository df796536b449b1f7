"""Chinese-aware tokens for the keyword index.

A token stream mixes three views of the text, so that both a word-level match and a
character-level match count:

* jieba words (``职业伤害``), without punctuation;
* CJK character bigrams inside every run of Han characters (robust to jieba's mistakes);
* numbers and dates kept whole with their unit (``668万``, ``2023年``, ``94.9%``) and Latin
  words lower-cased.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Collection

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*\s*(?:%|万|亿|千|百|元|年|月|日|个|人|次|岁)?")
_LATIN = re.compile(r"[a-z][a-z0-9_\-']*")
_jieba_lock = threading.Lock()
_jieba = None


def jieba_tokenizer():
    """jieba's dictionary takes a second to load: load it once, on first use."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            _jieba = tok
    return _jieba


def has_han(text: str) -> bool:
    """True when the text contains at least one Han character."""
    return _HAN_RUN.search(text) is not None


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for BM25 (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for m in _NUMBER.finditer(text):
        tokens.append(re.sub(r"\s+", "", m.group(0)))
    tokens.extend(_LATIN.findall(text))
    for run in _HAN_RUN.findall(text):
        tokens.extend(w for w in jieba_tokenizer().lcut(run) if w.strip())
        if len(run) > 1:
            tokens.extend(bigrams(run))
        else:
            tokens.append(run)
    return tokens


def bigrams(text: str) -> list[str]:
    """The character bigrams of ``text``, in order (the index holds those of every Han run)."""
    return [text[i : i + 2] for i in range(len(text) - 1)]


def in_corpus(word: str, vocabulary: Collection[str]) -> bool:
    """Whether the corpus holds ``word``: as a token, or as a chain of its bigrams (a word jieba
    cut differently there: 新闻发布会 as 新闻 + 发布会)."""
    return word in vocabulary or (len(word) > 1 and all(b in vocabulary for b in bigrams(word)))
