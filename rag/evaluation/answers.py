"""Answer quality: does the answer quote the sentence that holds the gold answer, and lead with it?

Retrieval metrics say whether the right passage was found; these say whether the answer built
from it is any good for a reader. For each question with gold texts (a BEIR folder's
``answers[-SPLIT].jsonl``: ``{"_id": ..., "answers": ["gold text", ...]}``, or a quote-keyed
question set's ``quotes``) the full ask path runs and the answer's citations are checked:

* ``answer_recall``: some cited quote (a sentence, or a passage of adjacent sentences) holds a
  gold text;
* ``answer_top1``: the first cited quote (citation ``[1]``) holds it;
* ``not_found``: the share of answerable questions answered "not found";
* ``median_sentences`` / ``median_chars``: the median number of cited sentences (a quoted
  passage of two sentences counts two) and of their characters, over the questions answered;
* ``answer_quotable``: the share of answerable questions with a gold text inside one document
  of the corpus, the ceiling of ``answer_recall`` for any answer that quotes the documents.
  A gold text can run across two documents: CMRC 2018's passages are cut into separate corpus
  chunks, and about one gold answer in sixty starts in one chunk and ends in the next.

"Holds" compares after NFKC and with all whitespace removed, so a quote typed with ASCII
punctuation matches text printed with full-width punctuation; punctuation at a gold text's ends
is not required (a sentence's closing mark, or a stray one an annotator's span starts with). A quote-keyed set's quotes may
span a sentence boundary, so a cited sentence also counts when it is a part of a gold quote
at least half as long as the quote (a CMRC gold answer is a short span, which this never hits).
"""

from __future__ import annotations

import json
import re
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answering.quotes import sentence_count
from rag.errors import InputError, SourceError
from rag.types import Answer

_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """NFKC and no whitespace: the form gold texts and quotes are compared in."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def _strip_marks(text: str) -> str:
    """A gold text without the punctuation at its ends. Annotators' spans carry stray marks
    (CMRC's ``。全裸或者…如此。`` starts with the previous sentence's full stop); CMRC 2018's own
    scorer drops all punctuation before comparing. Only the ends are dropped here, so the check
    stays a verbatim containment."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(text[end - 1]).startswith("P"):
        end -= 1
    return text[start:end]


@dataclass(frozen=True)
class AnswerRow:
    """How one answer fared against its gold texts."""

    id: str
    lang: str
    answerable: bool  # the question has gold texts
    answered: bool  # the system gave an answer (not "not found")
    recall: bool
    top1: bool
    sentences: int
    chars: int
    quotable: bool = True  # a gold text lies inside one document (see the module docstring)


def holds(quote: str, golds: Sequence[str], partial: bool = False) -> bool:
    """Whether a cited sentence holds one of the gold texts (see the module docstring)."""
    q = fold(quote)
    for gold in golds:
        g = _strip_marks(fold(gold))
        if g and g in q:
            return True
        if partial and q and len(q) * 2 >= len(g) and q in g:
            return True
    return False


def folded_corpus(texts: Iterable[str]) -> str:
    """The documents' texts in the compared form, one string (a separator no text holds
    between them, so no gold text matches across two documents)."""
    return "\x00".join(fold(t) for t in texts)


def quotable(golds: Sequence[str], corpus: str) -> bool:
    """Whether some gold text lies inside one document of ``corpus`` (:func:`folded_corpus`)."""
    return any((g := _strip_marks(fold(gold))) and g in corpus for gold in golds)


def score_answer(
    qid: str,
    lang: str,
    golds: Sequence[str],
    answer: Answer,
    partial: bool = False,
    corpus: str | None = None,
) -> AnswerRow:
    """One row: recall and top-1 over the answer's citations, in marker order (with the
    ``corpus`` of :func:`folded_corpus`, also whether a gold text could be quoted at all)."""
    quotes = [c.quote for c in sorted(answer.citations, key=lambda c: c.n)]
    hit = [holds(q, golds, partial) for q in quotes] if golds else []
    return AnswerRow(
        id=qid,
        lang=lang,
        answerable=bool(golds),
        answered=answer.answerable and bool(quotes),
        recall=any(hit),
        top1=bool(hit) and hit[0],
        sentences=sum(sentence_count(q) for q in quotes),
        chars=sum(len(q) for q in quotes),
        quotable=corpus is None or not golds or quotable(golds, corpus),
    )


def summarise_answers(rows: Iterable[AnswerRow]) -> dict[str, Any]:
    """Answer metrics overall and per language (keys suffixed ``/zh``, ``/en``)."""
    rows = list(rows)
    summary: dict[str, Any] = {}
    langs = sorted({r.lang for r in rows})
    groups = [("", rows)] + ([(f"/{lang}", [r for r in rows if r.lang == lang]) for lang in langs]
                             if len(langs) > 1 else [])  # fmt: skip
    for suffix, group in groups:
        gold = [r for r in group if r.answerable]
        answered = [r for r in gold if r.answered]
        summary[f"answered_questions{suffix}"] = len(gold)
        if gold:
            summary[f"answer_recall{suffix}"] = round(sum(r.recall for r in gold) / len(gold), 4)
            summary[f"answer_top1{suffix}"] = round(sum(r.top1 for r in gold) / len(gold), 4)
            summary[f"not_found{suffix}"] = round(1 - len(answered) / len(gold), 4)
            summary[f"answer_quotable{suffix}"] = round(
                sum(r.quotable for r in gold) / len(gold), 4
            )
        if answered:
            summary[f"median_sentences{suffix}"] = statistics.median(r.sentences for r in answered)
            summary[f"median_chars{suffix}"] = statistics.median(r.chars for r in answered)
        unanswerable = [r for r in group if not r.answerable]
        if unanswerable:
            summary[f"not_found_unanswerable{suffix}"] = round(
                sum(not r.answered for r in unanswerable) / len(unanswerable), 4
            )
    return summary


def load_answers(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read ``answers[-SPLIT].jsonl`` into ``query id -> gold texts``.

    Raises:
        SourceError: The file is missing or a line is malformed (names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: answers file not found")
    out: dict[str, tuple[str, ...]] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise SourceError(f"{path}:{lineno}: malformed JSON ({e.msg})") from e
            qid = record.get("_id") if isinstance(record, dict) else None
            answers = record.get("answers") if isinstance(record, dict) else None
            if qid is None or str(qid).strip() == "":
                raise SourceError(f'{path}:{lineno}: missing or empty "_id"')
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise SourceError(f'{path}:{lineno}: "answers" must be a list of strings')
            golds = tuple(a for a in answers if fold(a))
            if golds:
                out[str(qid).strip()] = golds
    return out


def answers_path(dataset: Path, split: str | None) -> Path:
    """``answers-SPLIT.jsonl`` (or ``answers.jsonl``) of a BEIR folder."""
    if split:
        candidate = dataset / f"answers-{split}.jsonl"
        if candidate.is_file():
            return candidate
    return dataset / "answers.jsonl"


def halves(ids: Sequence[str], part: str) -> list[str]:
    """A deterministic half of query ids: ``tune`` (even positions) or ``report`` (odd).

    Tuning on one half and reporting on the other keeps the reported figures on questions
    the tuning never saw; positions in file order make the split reproducible.
    """
    if part not in ("tune", "report"):
        raise InputError(f"half must be 'tune' or 'report', got {part!r}")
    offset = 0 if part == "tune" else 1
    return [qid for i, qid in enumerate(ids) if i % 2 == offset]
