"""Flagging questions the corpus probably cannot answer.

A single cosine threshold does not separate answerable from unanswerable questions: an
unrelated Chinese question can score as high as a relevant one, because every Chinese
sentence looks alike to a small multilingual model. So Chinese questions also need lexical
evidence: the share of their content words that occur in the corpus at all. English
questions over Chinese text have no lexical evidence, so they get their own cosine
threshold. The thresholds are calibrated on the project's question set (see docs/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.index.keyword import KeywordIndex
from rag.index.tokenize import has_han, tokenize

# Question words and particles carry no evidence about the corpus.
_ZH_STOPWORDS = set(
    [
        "什么",
        "哪些",
        "哪个",
        "哪里",
        "哪儿",
        "多少",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "为何",
        "是否",
        "有没有",
        "是不是",
        "请问",
        "一下",
        "介绍",
        "这篇",
        "文章",
        "文中",
        "本文",
        "作者",
        "主要",
        "提到",
        "提出",
        "认为",
        "哪几",
        "几个",
        "分别",
        "目前",
        "关于",
        "有关",
        "我们",
        "可以",
        "能够",
        "应该",
        "需要",
        "还有",
        "以及",
        "或者",
        "还是",
        "因为",
        "所以",
        "这个",
        "那个",
        "这些",
        "那些",
    ]
)
_WORD = re.compile(r"^[\u3400-\u9fff]{2,}$")


@dataclass(frozen=True)
class Evidence:
    """What the flag is decided on, reported with every search for transparency."""

    top_cosine: float
    coverage: float | None  # share of content words found in the corpus; None for non-Chinese
    language: str


@dataclass(frozen=True)
class AnswerabilityThresholds:
    """Calibrated on questions the bundled articles cannot answer (docs/retrieval.md)."""

    min_cosine_zh: float = 0.80
    min_coverage_zh: float = 0.75
    min_cosine_other: float = 0.78


def content_words(query: str) -> list[str]:
    """Chinese content words of a query: jieba words of two or more Han characters."""
    words = [t for t in tokenize(query) if _WORD.match(t)]
    # Bigrams duplicate the words; keep only whole jieba words (they come first per run).
    return [w for w in dict.fromkeys(words) if w not in _ZH_STOPWORDS]


def gather_evidence(query: str, top_cosine: float, keyword: KeywordIndex) -> Evidence:
    if not has_han(query):
        return Evidence(top_cosine, None, "other")
    words = content_words(query)
    return Evidence(top_cosine, keyword.coverage(words) if words else 0.0, "zh")


def is_answerable(evidence: Evidence, thresholds: AnswerabilityThresholds) -> bool:
    if evidence.language == "zh":
        return (
            evidence.top_cosine >= thresholds.min_cosine_zh
            and (evidence.coverage or 0.0) >= thresholds.min_coverage_zh
        )
    return evidence.top_cosine >= thresholds.min_cosine_other
