"""Extractive answers: the retrieved sentences that answer a question, each with its citation.

Nothing is paraphrased. Every sentence of the answer is a verbatim slice of an article, so
a reader can check each claim against the quoted source, and the answer can never say
more than the articles do. Three shapes of answer:

* a numbered list when the question asks for N things and the hits hold the paragraphs
  opening a list (``其一…其四``, ``第一…第四``, ``一是…四是``) of one document;
* otherwise the best few sentences, in reading order;
* or a short "not found" message with the closest passages when the evidence is weak.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.answering.markers import make_citation
from rag.answering.sentences import Sentence, chunk_sentences, paragraph_start
from rag.errors import InputError
from rag.index.tokenize import has_han, tokenize
from rag.search.enumeration import requested_count
from rag.types import Answer, Citation, Document, Hit, SearchResult

logger = logging.getLogger(__name__)

NOT_FOUND_ZH = "文章中没有找到这个问题的答案。以下是最接近的段落,供参考。"
NOT_FOUND_EN = (
    "The answer was not found in the articles. The closest passages are listed below for reference."
)
ENGLISH_NOTE = (
    "The question is in English; the evidence below is quoted in Chinese from the "
    "articles (not translated)."
)

_CN_DIGITS = "一二三四五六七八九十"
# Ordinal markers opening the items of a list (the same styles the searcher expands).
_ITEM_STYLES = ("其{n}", "第{n}", "{n}是")
# Question words and particles match nothing useful in an article.
_QUESTION_CHARS = set("哪吗呢么啥谁")
_STOPWORDS = {
    "什么", "多少", "怎么", "怎样", "如何", "为什么", "为何", "是否", "有没有", "是不是",
    "请问", "一下", "介绍", "这篇", "文章", "文中", "本文", "提到", "分别", "关于", "有关",
    "我们", "他们", "可以", "能够", "这个", "那个", "其中", "the", "a", "an", "of", "what",
    "which", "who", "how", "is", "are", "was", "were", "in", "on", "to", "and", "does", "do",
}  # fmt: skip
_ASKS_NUMBER = re.compile(r"多少|几|何时|哪一年|哪年|比例|how many|how much|when", re.IGNORECASE)


@dataclass(frozen=True)
class _Candidate:
    """A sentence of a retrieved chunk, as first met in rank order."""

    sentence: Sentence
    doc_id: str
    hit: Hit
    order: int  # 1 for the best hit, after sorting by rank
    position: int  # 0 for the first sentence of the chunk
    opens_paragraph: bool

    @property
    def text(self) -> str:
        return self.sentence.text


class _Citer:
    """Hands out ``[n]`` markers, numbered in order of first use, one per distinct quote."""

    def __init__(self, documents: Mapping[str, Document]) -> None:
        self._documents = documents
        self._numbers: dict[tuple[str, int, int], int] = {}
        self.citations: list[Citation] = []
        self.hits: dict[str, Hit] = {}

    def mark(self, c: _Candidate) -> str:
        key = (c.doc_id, c.sentence.start, c.sentence.end)
        if key not in self._numbers:
            n = len(self.citations) + 1
            self._numbers[key] = n
            doc = self._documents[c.doc_id]
            self.citations.append(
                make_citation(n, doc, c.hit.chunk.chunk_id, c.sentence.start, c.sentence.end)
            )
            self.hits.setdefault(c.hit.chunk.chunk_id, c.hit)
        return f"[{self._numbers[key]}]"

    def passages(self) -> tuple[Hit, ...]:
        return tuple(sorted(self.hits.values(), key=lambda h: h.rank))


class ExtractiveAnswerer:
    """Answers a question by quoting the retrieved sentences that best match it.

    Args:
        rank_weight: How much a chunk's rank adds to a sentence's score (the best hit
            adds ``rank_weight``, the second half of it, ...), next to a lexical overlap
            between 0 and 1.
        min_relative_overlap: A sentence is only quoted when its overlap with the
            question is at least this share of the best sentence's overlap.
    """

    def __init__(self, rank_weight: float = 0.15, min_relative_overlap: float = 0.35) -> None:
        if rank_weight < 0:
            raise InputError(f"rank_weight must be zero or positive, got {rank_weight}")
        if not 0 <= min_relative_overlap <= 1:
            raise InputError(
                f"min_relative_overlap must be between 0 and 1, got {min_relative_overlap}"
            )
        self.rank_weight = rank_weight
        self.min_relative_overlap = min_relative_overlap

    def warm_up(self) -> None:
        """Nothing to load: quoting needs no model (the tokenizer loads with the index)."""

    def answer(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        max_sentences: int = 4,
    ) -> Answer:
        """Answer ``question`` from the hits of ``result``.

        Args:
            question: The user's question (Chinese or English).
            result: What the searcher retrieved for it.
            documents: The index's documents by id (citations are sliced from them).
            max_sentences: At most this many sentences are quoted (a requested list has
                as many lines as items).

        Returns:
            An answer whose text carries ``[n]`` markers numbered 1..N in order of first
            appearance, with one citation per marker; or, when ``result`` is not
            answerable or has no usable hit, a "not found" answer listing the hits.

        Raises:
            InputError: ``max_sentences`` is smaller than 1.
        """
        if max_sentences < 1:
            raise InputError(f"max_sentences must be at least 1, got {max_sentences}")
        hits = sorted(result.hits, key=lambda h: h.rank)
        missing = {h.chunk.doc_id for h in hits if h.chunk.doc_id not in documents}
        if missing:
            logger.warning("hits from unknown documents ignored: %s", ", ".join(sorted(missing)))
            hits = [h for h in hits if h.chunk.doc_id in documents]
        english = not has_han(question)
        candidates = _gather(hits, documents)
        if not result.answerable or not candidates:
            return not_found(question, result.hits)

        citer = _Citer(documents)
        lines: list[str] = []
        notes: list[str] = []
        if english:
            lines.append(ENGLISH_NOTE)
            notes.append(ENGLISH_NOTE)
        count = requested_count(question)
        listing = _find_enumeration(candidates, count, documents) if count >= 2 else None
        if listing is not None:
            intro, items = listing
            if intro is not None:
                lines.append(intro.text + citer.mark(intro))
            for i, item in enumerate(items, start=1):
                lines.append(f"{i}. {item.text}{citer.mark(item)}")
            if len(items) < count:
                notes.append(
                    f"Only {len(items)} of the {count} items were found in the retrieved passages."
                )
        else:
            chosen = self._select(question, candidates, max_sentences, english)
            lines.extend(_compose(chosen, citer))
        return Answer(
            question=question,
            text="\n".join(lines),
            answerable=True,
            citations=tuple(citer.citations),
            passages=citer.passages(),
            note=" ".join(notes),
        )

    # ---- choosing sentences --------------------------------------------------------------
    def _select(
        self, question: str, candidates: list[_Candidate], limit: int, english: bool
    ) -> list[_Candidate]:
        if not english:
            overlaps = _overlaps(question, candidates)
            best = max(overlaps)
            if best > 0:
                floor = self.min_relative_overlap * best
                # The rank bonus lets a better chunk win a near-tie; the tiny position
                # bonus prefers a chunk's opening sentence, which usually states its point.
                scored = [
                    (o + self.rank_weight / c.order + 0.02 / (c.position + 1), c)
                    for o, c in zip(overlaps, candidates, strict=True)
                    if o > 0 and o >= floor
                ]
                scored.sort(key=lambda sc: (-sc[0], sc[1].order, sc[1].sentence.start))
                return [c for _, c in scored[:limit]]
        # No lexical evidence to go on (an English question over Chinese text): trust the
        # ranking, and within a chunk its opening sentences, which usually state its point.
        ranked = sorted(
            candidates,
            key=lambda c: (-(1 / c.order + 1 / (c.position + 1)), c.order, c.position),
        )
        return ranked[:limit]


def not_found(question: str, passages: Sequence[Hit]) -> Answer:
    """The answer for a question the articles do not answer: a message and the closest hits."""
    return Answer(
        question=question,
        text=NOT_FOUND_ZH if has_han(question) else NOT_FOUND_EN,
        answerable=False,
        citations=(),
        passages=tuple(passages),
    )


def _gather(hits: list[Hit], documents: Mapping[str, Document]) -> list[_Candidate]:
    """Whole sentences of the hits, each once (overlapping chunks share sentences)."""
    seen_spans: set[tuple[str, int]] = set()
    seen_texts: set[str] = set()
    out: list[_Candidate] = []
    for order, hit in enumerate(hits, start=1):
        doc = documents[hit.chunk.doc_id]
        headings = {s.start for s in doc.sections}
        for position, s in enumerate(chunk_sentences(hit.chunk, doc)):
            key = (doc.doc_id, s.start)
            # A heading is a label, not a statement; the same sentence reprinted in another
            # article (a summary, a reprint) would only repeat the answer.
            if key in seen_spans or s.text in seen_texts or s.start in headings:
                continue
            seen_spans.add(key)
            seen_texts.add(s.text)
            out.append(
                _Candidate(s, doc.doc_id, hit, order, position, paragraph_start(doc, s.start))
            )
    return out


def _question_terms(question: str) -> set[str]:
    terms = set()
    for t in tokenize(question):
        if t in _STOPWORDS or any(ch in _QUESTION_CHARS for ch in t):
            continue
        if has_han(t) and len(t) < 2:
            continue
        terms.add(t)
    return terms


def _overlaps(question: str, candidates: list[_Candidate]) -> list[float]:
    """Share of the question's terms in each sentence, terms weighted by rarity (0..1)."""
    terms = _question_terms(question)
    if not terms:
        return [0.0] * len(candidates)
    token_sets = [set(tokenize(c.text)) for c in candidates]
    n = len(candidates)
    # A term found in every retrieved sentence tells them apart no better than none.
    weight = {t: math.log(1 + (n + 1) / (sum(t in ts for ts in token_sets) + 0.5)) for t in terms}
    total = sum(weight.values())
    wants_number = _ASKS_NUMBER.search(question) is not None
    overlaps = []
    for c, ts in zip(candidates, token_sets, strict=True):
        o = sum(w for t, w in weight.items() if t in ts) / total
        if wants_number and o > 0 and re.search(r"\d", c.text):
            o += 0.1
        overlaps.append(o)
    return overlaps


def _compose(chosen: list[_Candidate], citer: _Citer) -> list[str]:
    """One line per document (best-ranked first), sentences in document order."""
    by_doc: dict[str, list[_Candidate]] = {}
    for c in sorted(chosen, key=lambda c: c.order):
        by_doc.setdefault(c.doc_id, []).append(c)
    lines = []
    for group in by_doc.values():
        line, previous = "", ""
        for c in sorted(group, key=lambda c: c.sentence.start):
            # Chinese sentences run on without spaces; Latin ones need one between them.
            if previous and (previous[-1].isascii() or c.text[0].isascii()):
                line += " "
            line += c.text + citer.mark(c)
            previous = c.text
        lines.append(line)
    return lines


# ---- enumerations --------------------------------------------------------------------------
def _item_number(text: str, style: str) -> int:
    for n, digit in enumerate(_CN_DIGITS, start=1):
        if re.match(style.format(n=digit) + r"[,，、:：]", text):
            return n
    return 0


def _find_enumeration(
    candidates: list[_Candidate], count: int, documents: Mapping[str, Document]
) -> tuple[_Candidate | None, list[_Candidate]] | None:
    """The introducing sentence and the items of a requested list, if the hits hold one.

    Documents are tried best-ranked first; a complete list (items 1..count) wins, and
    failing that the longest run 1..m (m >= 2) is returned.
    """
    by_doc: dict[str, list[_Candidate]] = {}
    for c in candidates:
        by_doc.setdefault(c.doc_id, []).append(c)
    partial: tuple[str, list[_Candidate]] | None = None
    for doc_id, group in by_doc.items():
        group = sorted(group, key=lambda c: c.sentence.start)
        for style in _ITEM_STYLES:
            # Items that open paragraphs are the real list; "一是…" inside a paragraph is
            # often a sub-list of one item, so it is only looked for second.
            for openings_only in (True, False):
                items = _items(group, style, count, openings_only)
                if len(items) == count:
                    return _introduction(group, items[0], count, documents[doc_id]), items
                if len(items) >= 2 and (partial is None or len(items) > len(partial[1])):
                    partial = (doc_id, items)
    if partial is None:
        return None
    doc_id, items = partial
    group = by_doc[doc_id]
    return _introduction(group, items[0], count, documents[doc_id]), items


def _items(
    group: list[_Candidate], style: str, count: int, openings_only: bool
) -> list[_Candidate]:
    items: list[_Candidate] = []
    after = -1
    for n in range(1, count + 1):
        item = next(
            (
                c
                for c in group
                if c.sentence.start > after
                and (c.opens_paragraph or not openings_only)
                and _item_number(c.text, style) == n
            ),
            None,
        )
        if item is None:
            break
        items.append(item)
        after = item.sentence.start
    return items


def _introduction(
    group: list[_Candidate], first: _Candidate, count: int, doc: Document
) -> _Candidate | None:
    """The sentence right before the first item, if it announces the list."""
    before = [c for c in group if c.sentence.end <= first.sentence.start]
    if not before:
        return None
    intro = max(before, key=lambda c: c.sentence.end)
    if doc.text[intro.sentence.end : first.sentence.start].strip():
        return None  # something that is not in the hits sits between them
    text = intro.text.rstrip("”’」』)》")
    announces = (
        text.endswith((":", "："))
        or requested_count(text) == count
        or re.search(r"以下|如下|几个|几点|几方面", text) is not None
    )
    return intro if announces else None
