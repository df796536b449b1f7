"""Scoring candidate sentences against a question: meaning, words, rank and answer type.

Every sentence of the retrieved chunks is a candidate. Four signals, each between 0 and 1:

* **dense**: the e5 model's cosine between the question (``query:``) and the sentence
  (``passage:``), min-max scaled over the candidates. It is the only signal that crosses
  languages well (an English question over Chinese text); all candidates go through the model
  in one batch.
* **lexical**: the share of the question's content words found in the sentence, words
  weighted by how rare they are among the candidates; an English question's words count
  through their CC-CEDICT translations (:mod:`rag.index.crosslingual`).
* **rank**: ``1 / r`` for the rank ``r`` of the sentence's chunk.
* **type**: the sentence holds the kind of thing asked for (a number for 多少/how many, a date
  for 何时/when, a person for 谁/who, a place for 哪里/where, an organisation for 哪个单位).

The weights were tuned on the dev half of the project's question set and the tuning half of
the CMRC 2018 tune split only (docs/answers.md).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embedding.base import Encoder
from rag.index.tokenize import has_han, tokenize
from rag.lexicon import ZH_QUESTION_CHARS, ZH_STOPWORDS, fold

EN_STOPWORDS = frozenset(
    "the a an of what which who whom how is are was were in on to and does do did for by with "
    "from at as be been it its this that these those there their they he she his her can could "
    "should would will many much according article".split()
)


@dataclass(frozen=True)
class Weights:
    """How much each signal adds to a sentence's score (tuned on dev data, see module doc)."""

    dense: float = 0.5
    lexical: float = 0.5
    rank: float = 0.6
    type: float = 0.3
    position: float = 0.05
    #: A supporting sentence is quoted when it scores at least this share of the lead's score.
    support: float = 0.5


# ---- answer types -----------------------------------------------------------------------------
_ASK_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "date",
        re.compile(
            r"何时|什么时候|什么时间|哪一?年|哪一?天|哪个月|几月|几号|几日|哪个朝代|"
            r"\bwhen\b|what year|what date|which year|what time",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|多大|多高|多长|多久|多远|多重|几[个次名项家位岁倍种条年天]|比例|比重|"
            r"占比|百分之|how many|how much|how long|how old|what share|"
            r"what proportion|what percentage|what fraction|how far",
            re.I,
        ),
    ),
    (
        "org",
        re.compile(
            r"哪个单位|什么单位|哪家|哪个机构|什么机构|哪个组织|什么组织|哪个部门|哪个公司|"
            r"哪所|哪个课题组|哪个团队|哪个学校|哪个大学|which organi[sz]ation|"
            r"which company|which institution|affiliated|which body|which agency",
            re.I,
        ),
    ),
    ("person", re.compile(r"谁|哪位|哪个人|什么人|\bwho\b|\bwhom\b", re.I)),
    ("place", re.compile(r"哪里|哪儿|在哪|什么地方|哪个国家|哪个城市|哪个省|哪座|\bwhere\b", re.I)),
)
_NUMBER = re.compile(
    r"\d|[一二三四五六七八九十两百千万亿半]+[个家人元次倍成项名位座条种岁万亿%％]|分之"
)
_DATE = re.compile(
    r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[今去前明]年|世纪|年代|[一二三四五六七八九十]+月|"
    r"[〇零一二三四五六七八九]{4}年|朝|时期|期间"
)
_ORG = re.compile(
    r"[会院局部委厅处署司]|公司|集团|大学|学校|学院|课题组|研究所|中心|银行|协会|团队|政府|组织"
)
_PLACE = re.compile(r"[省市县区州国镇村岛山河湖海]|北京|上海|天津|重庆|香港|澳门")
_POS_TYPES = {"person": ("nr",), "place": ("ns",), "org": ("nt",)}


def asked_type(question: str) -> str:
    """What kind of thing the question asks for: date, number, org, person, place or ""."""
    q = fold(question)
    for name, pattern in _ASK_TYPES:
        if pattern.search(q):
            return name
    return ""


def holds_type(text: str, kind: str) -> bool:
    """Whether a sentence holds something of the asked ``kind`` (cheap surface tests first)."""
    t = fold(text)
    if kind == "number":
        return _NUMBER.search(t) is not None
    if kind == "date":
        return _DATE.search(t) is not None
    if kind in _POS_TYPES:
        import jieba.posseg as pseg  # only for who/where/which-organisation questions

        flags = _POS_TYPES[kind]
        if any(p.flag.startswith(flags) for p in pseg.lcut(t)):
            return True
        if kind == "org":
            return _ORG.search(t) is not None
        if kind == "place":
            return _PLACE.search(t) is not None
    return False


# ---- lexical overlap ----------------------------------------------------------------------------
def question_terms(question: str, candidate_tokens: Sequence[set[str]]) -> set[str]:
    """The question's content words; an English question's through their CC-CEDICT translations
    (only translations found among the candidates count)."""
    terms = set()
    for t in tokenize(question):
        if t in ZH_STOPWORDS or t in EN_STOPWORDS or any(ch in ZH_QUESTION_CHARS for ch in t):
            continue
        if has_han(t) and len(t) < 2:
            continue
        terms.add(t)
    if not has_han(question):
        from rag.index.crosslingual import DICTIONARY

        vocabulary = set().union(*candidate_tokens) if candidate_tokens else set()
        terms |= set(DICTIONARY.translate(question, vocabulary).terms)
    return terms


def overlaps(question: str, texts: Sequence[str]) -> list[float]:
    """Share of the question's terms in each text, terms weighted by rarity (0..1)."""
    token_sets = [set(tokenize(t)) for t in texts]
    terms = question_terms(question, token_sets)
    if not terms:
        return [0.0] * len(texts)
    n = len(texts)
    # A term found in every candidate tells them apart no better than none.
    weight = {t: math.log(1 + (n + 1) / (sum(t in ts for ts in token_sets) + 0.5)) for t in terms}
    total = sum(weight.values())
    return [sum(w for t, w in weight.items() if t in ts) / total for ts in token_sets]


# ---- dense similarity ---------------------------------------------------------------------------
class SentenceVectors:
    """Sentence vectors computed on first use and kept (bounded, least recently used out).

    Encoding every candidate of every question costs one batched model call per question;
    sentences of popular passages come back again and again, so their vectors are kept, keyed
    by the model's name and the text. Measured in docs/answers.md.
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        name = getattr(encoder, "name", type(encoder).__name__)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (name, t) not in self._vectors]
        if missing:
            fresh = np.asarray(encoder.encode_documents(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._vectors[(name, t)] = v
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        with self._lock:
            for t in texts:
                if (name, t) in self._vectors:
                    self._vectors.move_to_end((name, t))
            return np.stack([self._vectors[(name, t)] for t in texts])


SENTENCE_VECTORS = SentenceVectors()


def dense_similarities(encoder: Encoder | None, question: str, texts: Sequence[str]) -> list[float]:
    """Cosine of question and each text, min-max scaled to 0..1 (all zero without an encoder)."""
    if encoder is None or not texts:
        return [0.0] * len(texts)
    q = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
    s = SENTENCE_VECTORS.get(encoder, texts)
    cos = s @ q
    lo, hi = float(cos.min()), float(cos.max())
    if hi - lo < 1e-6:
        return [1.0] * len(texts)
    return [float(v) for v in (cos - lo) / (hi - lo)]
