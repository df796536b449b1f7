"""The project's quote-keyed question sets: loading, validation and evaluation.

A question set is a JSONL file, one question per line::

    {"id": "q1", "question": "...", "lang": "zh", "quotes": ["verbatim text"], "answerable": true}
    {"id": "q2", "question": "...", "lang": "en", "answerable": false}

Gold evidence is keyed by verbatim quotes rather than chunk ids, so the same set
keeps working when the chunker (and with it every chunk id) changes. A retrieved
chunk is a hit when its text contains any of the question's quotes.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError, SourceError
from rag.evaluation.jsonl import read_records
from rag.evaluation.metrics import mean_interval

logger = logging.getLogger(__name__)

LANGS = ("zh", "en")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    """One question of a set; ``quotes`` is empty exactly when it is unanswerable."""

    id: str
    question: str
    lang: str
    answerable: bool
    quotes: tuple[str, ...] = ()
    split: str = ""


@dataclass(frozen=True)
class QuestionRun:
    """What the system returned for one question.

    Attributes:
        chunks: Texts of the retrieved chunks, best first.
        answerable: The system's own verdict; ``False`` means it flagged the
            question as unanswerable from the corpus.
    """

    chunks: tuple[str, ...]
    answerable: bool


@dataclass(frozen=True)
class QuestionRow:
    """Per-question outcome: rank of the first chunk holding a quote, and the flag."""

    id: str
    lang: str
    answerable: bool
    rank: int | None
    flagged: bool


@dataclass(frozen=True)
class QuestionEvaluation:
    """Per-question rows (in question-set order) and the summary dict."""

    rows: tuple[QuestionRow, ...]
    summary: dict[str, Any]


def _squash(text: str) -> str:
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def _parse_question(path: Path, lineno: int, record: dict[str, Any]) -> Question:
    where = f"{path}:{lineno}"
    qid = record.get("id")
    if not isinstance(qid, str) or not qid.strip():
        raise SourceError(f'{where}: "id" must be a non-empty string, got {qid!r}')
    where = f"{where} (question {qid!r})"
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise SourceError(f'{where}: "question" must be a non-empty string')
    lang = record.get("lang")
    if lang not in LANGS:
        raise SourceError(f'{where}: "lang" must be one of {", ".join(LANGS)}, got {lang!r}')
    answerable = record.get("answerable")
    if not isinstance(answerable, bool):
        raise SourceError(f'{where}: "answerable" must be true or false, got {answerable!r}')
    split = record.get("split", "")
    if not isinstance(split, str):
        raise SourceError(f'{where}: "split" must be a string such as "dev" or "test"')
    quotes = record.get("quotes")
    if not answerable:
        if quotes:
            raise SourceError(f'{where}: an unanswerable question must not carry "quotes"')
        return Question(id=qid, question=text, lang=lang, answerable=False, split=split)
    if not isinstance(quotes, list) or not quotes:
        raise SourceError(f'{where}: an answerable question needs a non-empty "quotes" list')
    for quote in quotes:
        # A blank quote would be contained in every chunk and turn any ranking into a hit.
        if not isinstance(quote, str) or not _squash(quote):
            raise SourceError(f"{where}: every quote must be a non-blank string, got {quote!r}")
    return Question(
        id=qid, question=text, lang=lang, answerable=True, quotes=tuple(quotes), split=split
    )


def load_questions(path: str | Path, split: str | None = None) -> tuple[Question, ...]:
    """Load and validate a question-set JSONL file.

    Args:
        path: The JSONL file. Blank lines are skipped; extra keys are ignored.
        split: Keep only the questions whose ``split`` field equals this (``"dev"`` to tune
            on, ``"test"`` to report on); None keeps them all.

    Returns:
        The questions in file order.

    Raises:
        SourceError: The file is missing, not UTF-8, or a line is malformed or
            invalid (message names file, line and question id), or an id repeats.
    """
    path = Path(path)
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, record in read_records(path, missing="question set not found"):
        question = _parse_question(path, lineno, record)
        if question.id in seen:
            raise SourceError(
                f"{path}:{lineno}: question id {question.id!r} already used "
                f"on line {seen[question.id]}"
            )
        seen[question.id] = lineno
        questions.append(question)
    if not questions:
        raise SourceError(f"{path}: no questions in the file")
    if split is not None:
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise SourceError(f"{path}: no questions with split {split!r}")
    return tuple(questions)


def find_quote_rank(chunks: Sequence[str], quotes: Sequence[str]) -> int | None:
    """1-based rank of the first chunk containing any quote.

    Matching ignores all whitespace: every whitespace character (including
    full-width spaces and line breaks) is removed from both the quote and the
    chunk text before the substring test. Chunkers reflow and strip lines, and
    Chinese text carries no meaningful spaces, so a verbatim quote copied from the
    article should still match the chunk that holds it. Width is folded (NFKC) on both
    sides, so a quote written with ASCII commas matches text printed with full-width ones;
    no other normalisation is applied (case must match), and a quote split across two
    chunks does not match either, so keep quotes short.

    Args:
        chunks: Chunk texts, best first.
        quotes: Verbatim quotes.

    Returns:
        The rank, or ``None`` when no chunk holds a quote.
    """
    needles = [q for q in (_squash(q) for q in quotes) if q]
    if not needles:
        return None
    for rank, chunk in enumerate(chunks, start=1):
        hay = _squash(chunk)
        if any(needle in hay for needle in needles):
            return rank
    return None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def evaluate_questions(
    questions: Sequence[Question],
    runs: Mapping[str, QuestionRun],
    ks: tuple[int, ...] = (1, 3, 5, 10),
) -> QuestionEvaluation:
    """Score a question set: hit@k and MRR per language, and the unanswerable flag.

    Retrieval metrics are over answerable questions only (unanswerable ones have
    no quotes). ``mrr`` is the mean reciprocal rank of the first hit over the
    whole returned list (0 when there is none). The flag is scored as a binary
    classifier whose positive class is "flagged unanswerable" (``run.answerable``
    is ``False``): precision = flagged and truly unanswerable / flagged, recall =
    flagged and truly unanswerable / truly unanswerable.

    Args:
        questions: The question set.
        runs: ``question id -> QuestionRun``; every question must have one.
        ks: Cut-offs for hit@k.

    Returns:
        Rows in question order and a summary with ``questions``, ``answerable``,
        ``unanswerable`` and ``flagged`` counts; ``hit@k``, ``hit@k/LANG``,
        ``mrr`` and ``mrr/LANG`` (for each language present) as
        ``{"mean", "lo", "hi"}`` dicts (percentile bootstrap, see
        :func:`~rag.evaluation.metrics.mean_interval`); ``unanswerable_precision``
        and ``unanswerable_recall`` as floats, ``None`` when undefined (nothing
        flagged, or no unanswerable question).

    Raises:
        InputError: No questions, a bad ``k``, or a question without a run.
    """
    if not questions:
        raise InputError("evaluate_questions needs at least one question")
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise InputError(f"ks must be positive integers. Currently, ks is {ks!r}")
    ks = tuple(sorted(set(ks)))
    missing = [q.id for q in questions if q.id not in runs]
    if missing:
        raise InputError(
            f"no run for {len(missing)} questions (first: {missing[0]!r}); "
            "pass an empty QuestionRun for a question that returned nothing"
        )
    extra = set(runs) - {q.id for q in questions}
    if extra:
        logger.warning("%d runs name no question of the set and are ignored", len(extra))

    rows: list[QuestionRow] = []
    for q in questions:
        run = runs[q.id]
        rank = find_quote_rank(run.chunks, q.quotes) if q.answerable else None
        rows.append(
            QuestionRow(
                id=q.id, lang=q.lang, answerable=q.answerable, rank=rank, flagged=not run.answerable
            )
        )

    answerable = [r for r in rows if r.answerable]
    summary: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(rows) - len(answerable),
        "flagged": sum(r.flagged for r in rows),
    }
    langs = [lang for lang in LANGS if any(r.lang == lang for r in answerable)]
    groups = [("", answerable)] + [
        (f"/{lang}", [r for r in answerable if r.lang == lang]) for lang in langs
    ]
    for k in ks:
        for suffix, group in groups:
            hits = [1.0 if r.rank is not None and r.rank <= k else 0.0 for r in group]
            summary[f"hit@{k}{suffix}"] = mean_interval(hits)
    for suffix, group in groups:
        summary[f"mrr{suffix}"] = mean_interval([1.0 / r.rank if r.rank else 0.0 for r in group])

    true_pos = sum(1 for r in rows if r.flagged and not r.answerable)
    summary["unanswerable_precision"] = _ratio(true_pos, summary["flagged"])
    summary["unanswerable_recall"] = _ratio(true_pos, summary["unanswerable"])
    return QuestionEvaluation(rows=tuple(rows), summary=summary)
