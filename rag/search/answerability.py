"""Flagging questions the corpus probably cannot answer.

A single cosine threshold does not separate answerable from unanswerable questions: an
unrelated Chinese question can score as high as a relevant one, because every Chinese
sentence looks alike to a small multilingual model. So Chinese questions also need lexical
evidence: the share of their content words that occur in the corpus at all. English
questions over Chinese text have no lexical evidence, so they get their own cosine
threshold. The thresholds are calibrated on the project's question set (see docs/).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass

from rag.bylines import about_article_only
from rag.index.crosslingual import english_content_words
from rag.index.keyword import KeywordIndex
from rag.index.tokenize import has_han, in_corpus, jieba_tokenizer, tokenize
from rag.lexicon import ZH_ASK_TERMS, ZH_STOPWORDS

# Question words and particles carry no evidence about the corpus (one shared list), nor do
# the words naming the kind of answer wanted (职务, 时间, 原因).
_ZH_STOPWORDS = ZH_STOPWORDS | ZH_ASK_TERMS
logger = logging.getLogger(__name__)
_WORD = re.compile(r"^[\u3400-\u9fff]{2,}$")
_NUMBER = re.compile(r"^\d{2,}")


@dataclass(frozen=True)
class Evidence:
    """What the flag is decided on, reported with every search for transparency."""

    top_cosine: float
    coverage: float | None  # share of content words found in the corpus; None for non-Chinese
    language: str
    #: The question asks about the article at hand (its author, date, source, title) and names
    #: no topic: no cosine says anything about it, only whether there is an article.
    about_article: bool = False


@dataclass(frozen=True)
class AnswerabilityThresholds:
    """Calibrated on the project's question set so that no answerable question is flagged
    (``scripts/calibrate_answerability.py``; values and margins in docs/retrieval.md).

    A Chinese question is answerable when its best passage is very close (``strong_cosine_zh``)
    or when it is close enough and most of its content words occur in the corpus. A question
    in another language is answerable when enough of it translates into corpus words.
    """

    strong_cosine_zh: float = 0.89
    min_cosine_zh: float = 0.80
    min_coverage_zh: float = 0.5
    min_cosine_other: float = 0.70
    min_coverage_other: float = 0.3


# A model without calibrated thresholds is judged on word coverage alone: its cosines mean
# nothing on e5's scale (each model spreads its similarities differently), so borrowing e5's
# cut-offs would flag or pass questions at random. Calibrate one with
# scripts/calibrate_answerability.py and add it to CALIBRATED.
COVERAGE_ONLY = AnswerabilityThresholds(
    strong_cosine_zh=float("inf"), min_cosine_zh=-1.0, min_cosine_other=-1.0
)


def calibrated_thresholds() -> dict[str, AnswerabilityThresholds]:
    """Thresholds per embedding model name, for the models they were calibrated on."""
    from rag.embedding.encoder import DEFAULT_MODEL_NAME

    return {DEFAULT_MODEL_NAME: AnswerabilityThresholds()}


def thresholds_for(model: str) -> tuple[AnswerabilityThresholds, bool]:
    """The thresholds for an embedding model, and whether they were calibrated for it
    (:data:`COVERAGE_ONLY` otherwise)."""
    table = calibrated_thresholds()
    return (table[model], True) if model in table else (COVERAGE_ONLY, False)


_warned: set[str] = set()


def resolve_thresholds(
    configured: AnswerabilityThresholds | None, model: str
) -> AnswerabilityThresholds:
    """Configured thresholds if any, else the model's calibrated ones, else coverage only
    (said once per model in the log)."""
    if configured is not None:
        return configured
    thresholds, calibrated = thresholds_for(model)
    if not calibrated and model not in _warned:
        _warned.add(model)
        logger.warning(
            "no answerability thresholds are calibrated for model %r: questions are judged on "
            "word coverage only (calibrate with scripts/calibrate_answerability.py)",
            model,
        )
    return thresholds


def content_words(query: str) -> list[str]:
    """Chinese content words of a query: jieba words of two or more Han characters, and the
    numbers it names (到2035年要实现什么目标？: the year is evidence when its words are
    paraphrased)."""
    words = [w for w in jieba_tokenizer().lcut(query) if _WORD.match(w) and w not in _ZH_STOPWORDS]
    # Numbers as the index cuts them (2035年 is one token there, 2035 + 年 in jieba's cut).
    numbers = [t for t in tokenize(query) if _NUMBER.match(t)]
    return list(dict.fromkeys(words + numbers))


def word_coverage(words: list[str], vocabulary: set[str]) -> float:
    """Share of ``words`` found in the corpus: as a token, or as a run of corpus bigrams
    (so a word jieba cut differently in the corpus still counts)."""
    if not words:
        return 0.0
    return sum(in_corpus(w, vocabulary) for w in words) / len(words)


def gather_evidence(
    query: str,
    top_cosine: float,
    keyword: KeywordIndex,
    translated_coverage: float | None = None,
    names: Collection[str] = (),
) -> Evidence:
    """Evidence for a query: Chinese content-word coverage, or the English translation's.

    ``names`` are words the corpus holds outside its text (the articles' authors, kept as
    metadata): a question naming an author is about the corpus though the keyword index never
    saw the name, and its other words (担任, 职务) need not occur in the text either.
    """
    chinese = has_han(query)
    words = content_words(query) if chinese else english_content_words(query)
    if about_article_only(query, words):
        # 这篇报道是谁写的？ When was this story published? The article at hand is the topic.
        return Evidence(top_cosine, 1.0, "zh" if chinese else "other", about_article=True)
    if not chinese:
        return Evidence(top_cosine, translated_coverage, "other")
    if any(n and n in query for n in names):
        # The question is about one of the corpus's authors (their position, unit, writing).
        return Evidence(top_cosine, 1.0, "zh")
    return Evidence(top_cosine, word_coverage(words, keyword.vocabulary), "zh")


def is_answerable(
    evidence: Evidence, thresholds: AnswerabilityThresholds, retrieved: bool = True
) -> bool:
    """Whether the evidence is strong enough to attempt an answer.

    Nothing retrieved (filters that match no document) is nothing to answer from, whatever
    the words of the question cover.
    """
    if not retrieved:
        return False
    if evidence.about_article:
        return True
    coverage = evidence.coverage or 0.0
    if evidence.language == "zh":
        if evidence.top_cosine >= thresholds.strong_cosine_zh:
            return True
        return (
            evidence.top_cosine >= thresholds.min_cosine_zh
            and coverage >= thresholds.min_coverage_zh
        )
    return (
        evidence.top_cosine >= thresholds.min_cosine_other
        and coverage >= thresholds.min_coverage_other
    )
