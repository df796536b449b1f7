"""Extractive answers: the retrieved sentences that answer a question, each with its citation.

Nothing is paraphrased. Every sentence of the answer is a verbatim slice of an article, so
a reader can check each claim against the quoted source, and the answer can never say
more than the articles do. Four shapes of answer:

* the author's note (``（作者为…）``) led by the authors' names, for a question about who
  wrote an article or the author's position or unit (:mod:`rag.answering.metadata`);
* a numbered list when the question asks for N things, or for "which ones" and the best
  sentence belongs to a list, and the hits hold the list's items in one of the common styles
  (其一…, 第一…, 一是…, 一、…, （一）…, 1. …, 首先…最后); the items lead the answer, without
  the sentence that announces them;
* otherwise the best sentence first, quoted with the neighbour it leans on or that continues
  it (:mod:`rag.answering.quotes`), then supporting sentences, three sentences in all, every
  candidate scored by meaning, words, rank and answer type (:mod:`rag.answering.scoring`);
* or a short "not found" message with the closest passages when the evidence is weak.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from rag.answering import metadata, quotes
from rag.answering.markers import make_citation
from rag.answering.scoring import (
    Weights,
    asked_types,
    asks_reason,
    counted_words,
    dense_similarities,
    overlaps,
    question_concepts,
    sentence_tokens,
    type_score,
)
from rag.answering.sentences import (
    Sentence,
    chunk_sentences,
    paragraph_sentences,
    paragraph_start,
)
from rag.embedding.base import Encoder
from rag.errors import InputError
from rag.index.crosslingual import ACRONYM
from rag.index.tokenize import has_han
from rag.lexicon import (
    LAST,
    announced_count,
    asked_in_english,
    asked_ordinal,
    asks_description,
    asks_for_list,
    count_measure,
    fold,
    inline_list,
    item_marker,
    listed_ordinal,
    requested_count,
)
from rag.parsing.metadata import credit_line
from rag.types import Answer, Chunk, Citation, Document, Hit, SearchResult

logger = logging.getLogger(__name__)

NOT_FOUND_ZH = "文章中没有找到这个问题的答案。以下是最接近的段落，供参考。"
NOT_FOUND_EN = (
    "The answer was not found in the articles. The closest passages are listed below for reference."
)
ENGLISH_NOTE = (
    "The question is in English; the evidence below is quoted in Chinese from the "
    "articles (not translated)."
)
MAX_SUPPORT = 2
#: An article question naming no article is answered by at most this many articles.
MAX_ARTICLES = 3
ANY_ARTICLE_ZH = "问题没有指明是哪篇文章，以下按文章分别作答："
ANY_ARTICLE_EN = "The question does not say which article; each article that states it answers:"
_AUTHOR_NOTE = re.compile(r"^[(（]\s*作者")
_QUESTION_END = re.compile(r"\?[\s”’」』\"')）]*$")
# A turn of a transcript or interview opened by the one asking: 记者：, 法新社记者：, 问：.
_QUESTIONER = re.compile(r"\s*(?:[^\s:：，。]{0,12}记者|问|提问|主持人)\s*:")
# A numbered heading (二、重点任务) is short and ends with no sentence mark.
_HEADING_MAX_CHARS = 20
# Headings are labels, not statements, and only quoted when the question asks for one.
_HEADING_QUESTION = re.compile(r"标题|小标题|题目|heading|headline|subtitle|section title", re.I)


@dataclass(frozen=True)
class _Candidate:
    """A sentence of a retrieved chunk, as first met in rank order."""

    sentence: Sentence
    doc_id: str
    hit: Hit
    order: int  # 1 for the best hit, after sorting by rank
    position: int  # 0 for the first sentence of the chunk
    opens_paragraph: bool
    title: str = ""  # the document's title, whose words every sentence of it inherits

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
    """Answers a question by quoting the retrieved sentences that best answer it.

    Args:
        encoder: The index's encoder, to score sentences by meaning (one batched call per
            question); None scores by words, rank and answer type only.
        weights: How the signals add up (:class:`rag.answering.scoring.Weights`).
    """

    def __init__(self, encoder: Encoder | None = None, weights: Weights | None = None) -> None:
        self.encoder = encoder
        self.weights = weights or Weights()
        if any(v < 0 for v in self.weights.__dict__.values()):
            raise InputError(f"answer weights must be zero or positive, got {self.weights}")

    def warm_up(self) -> None:
        """Nothing to load here: the encoder is the index's, loaded with it."""

    def answer(
        self,
        question: str,
        result: SearchResult,
        documents: Mapping[str, Document],
        max_sentences: int = 1 + MAX_SUPPORT,
        chunks_of: Callable[[str], list[Chunk]] | None = None,
    ) -> Answer:
        """Answer ``question`` from the hits of ``result``.

        Args:
            question: The user's question (Chinese or English).
            result: What the searcher retrieved for it.
            documents: The index's documents by id (citations are sliced from them).
            max_sentences: At most this many sentences are quoted: the lead and up to
                ``max_sentences - 1`` supporting ones (a requested list has as many lines
                as items).
            chunks_of: A document's chunks, to cite an author note outside the hits.

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
        english = asked_in_english(question)
        # The article's own title is a fact of the article (below), not a section heading.
        headings = (
            _HEADING_QUESTION.search(question) is not None
            and metadata.asked_fact(question) != "title"
        )
        candidates = _gather(hits, documents, headings)
        if headings and chunks_of is not None:
            titles = _section_headings(hits, documents, chunks_of, candidates)
            # A question asking for a heading is answered by a heading: those of the retrieved
            # articles, whether or not the chunk under each was retrieved.
            candidates = titles or candidates
        about_author = metadata.asks_about_author(question, documents)
        # A question naming an article's author is about that article even when the name
        # occurs nowhere in its text (the byline is metadata), which the retrieval flag misses.
        named_author = about_author and metadata.names_author(question, documents)
        if not (result.answerable or named_author) or not candidates:
            return not_found(question, result.hits)

        citer = _Citer(documents)
        lines: list[str] = []
        notes: list[str] = []
        if english:
            lines.append(ENGLISH_NOTE)
            notes.append(ENGLISH_NOTE)
        article = self._article_answer(
            question, about_author, hits, documents, chunks_of, citer, english
        )
        if article and len(article) > 1:
            # 这篇报道的记者是谁？ asked of several retrieved articles, none named: each answers.
            note = ANY_ARTICLE_EN if english else ANY_ARTICLE_ZH
            lines.append(note)
            notes.append(note)
        if article:
            lines.extend(article)
            return _answer(question, lines, citer, notes)
        # An author note or a credit line (2024年04月25日 东方财讯网 作者：赵一鸣, （责任编辑：
        # 孙倩）) says who made the article, never what it reports.
        candidates = [
            c
            for c in candidates
            if not _AUTHOR_NOTE.match(fold(c.text)) and not credit_line(c.text)
        ]
        if not candidates:
            return not_found(question, result.hits)
        # The model compares sentences with what the searcher embedded (an English question
        # with its words as the corpus writes them): the vector is cached, no second model call.
        features = self.features(question, candidates, result.embedded or question)
        scores = self.combine(features)
        # A question in the text (a reporter's at a press conference, 问：… in a policy Q&A)
        # shares the asker's words and answers nothing; the reply after it does. When the
        # text's question is the user's own (the closest in meaning and in words), its reply
        # is the answer: it leads, quoted with the rest of its turn.
        asking = [_asks(c, documents) for c in candidates]
        reply = None
        if any(asking) and not all(asking):
            reply = _reply_to_same_question(candidates, features, asking, documents)
            kept = [i for i, a in enumerate(asking) if not a]
            candidates, scores = [candidates[i] for i in kept], [scores[i] for i in kept]
        count = requested_count(question)
        listing, lead, nth = None, reply, 0
        if count >= 2:
            listing, list_score = _find_enumeration(candidates, count, scores, documents)
            inline = _inline_list(question, candidates, scores, count)
            # A sentence listing the items itself against a list of sentences: the better
            # match wins (as a list is scored, its items with its announcing sentence).
            if inline is not None and (listing is None or scores[inline] >= list_score):
                listing, lead = None, candidates[inline]
        elif asks_for_list(question):
            listing = _whole_list(candidates, scores)
        elif (n := listed_ordinal(question)) and n <= len(
            whole := _whole_list(candidates, scores) or []
        ):
            # 重点工作的第一项是什么？: the list's nth item leads, the answer is that point.
            nth, lead = n, whole[n - 1]
        if listing is None and not nth and lead is None and count < 2 and chunks_of is not None:
            # 试点的亮点是什么？ The best sentence announces a list (…主要有四个亮点。): its items
            # are the answer, though the question named no count. A which-ones question may
            # find the announcement among its best three.
            order = sorted(range(len(candidates)), key=lambda i: -scores[i])
            for i in order[: 3 if asks_for_list(question) else 1]:
                if (announced := announced_count(candidates[i].text)) >= 2 and (
                    listing := _announced_list(
                        candidates[i], announced, candidates, documents, chunks_of
                    )
                ):
                    count = announced
                    if 0 < (n := asked_ordinal(question)) <= len(listing):
                        # 第二个亮点具体指什么？ asked alone: that item is the answer, with
                        # what its paragraph says (read from its chunk, retrieved or not).
                        nth, lead, listing = n, listing[n - 1], None
                        known = {(c.doc_id, c.sentence.start) for c in candidates}
                        candidates = candidates + [
                            c for c in _gather([lead.hit], documents)
                            if (c.doc_id, c.sentence.start) not in known
                        ]  # fmt: skip
                    break
        if listing is not None:
            # The items are the answer and lead it; the sentence announcing them in the article
            # (…概括起来主要有四个亮点。) only restates the question, and is not quoted.
            items = listing
            for i, item in enumerate(items, start=1):
                lines.append(f"{i}. {item.text}{citer.mark(item)}")
            if count >= 2 and len(items) < count:
                notes.append(
                    f"Only {len(items)} of the {count} items were found in the retrieved passages."
                )
        else:
            if nth:  # an item asked for by its place: its label (一是…), then what it says
                chosen = [lead, *_rest_of_item(lead, candidates, documents)][:max_sentences]
            elif lead is not None and lead is reply:
                # The reply to the text's own question: its turn, as one passage.
                turn = [lead, *_rest_of_item(lead, candidates, documents)][:max_sentences]
                chosen = [_joined(turn, documents)]
            else:
                chosen = self._select(candidates, scores, max_sentences, lead)
                chosen = _explained(chosen, candidates, documents, max_sentences)
            chosen = _in_context(chosen, documents, max_sentences)
            if not nth and (reply is None or lead is not reply) and asks_description(question):
                chosen = _described(chosen, documents, max_sentences + 1, asks_reason(question))
            lines.extend(_compose(chosen, citer))
        return _answer(question, lines, citer, notes)

    # ---- choosing sentences --------------------------------------------------------------
    def features(
        self, question: str, candidates: Sequence[_Candidate], embedded: str | None = None
    ) -> list[tuple[float, float, float, float, float]]:
        """Each candidate's signals: meaning, words, chunk rank, answer type, position.
        ``embedded`` is the text the model compares sentences with (default: the question)."""
        w = self.weights
        texts = [c.text for c in candidates]
        dense = (
            dense_similarities(self.encoder, embedded or question, texts)
            if w.dense
            else [0.0] * len(texts)
        )
        kinds = asked_types(question) if w.type else ()
        # Sentence tokens are needed for an English question's translations and for the
        # answer-type checks; the question's concepts are worked out once for both signals.
        latin = ACRONYM.search(question) is not None  # an acronym to look up (GDP)
        tokens = (
            [sentence_tokens(t) for t in texts] if kinds or latin or not has_han(question) else []
        )
        concepts = question_concepts(question, tokens)
        lexical = overlaps(question, texts, [c.title for c in candidates], concepts)
        best = max(lexical, default=0.0)
        if best > 0 and has_han(question):
            # Scaled like the dense signal: the best-matching sentence gets 1, however many of
            # the question's words it holds (questions paraphrase, and long ones have words no
            # sentence repeats). An English question's words come through translations, a
            # weaker signal that is left as it is (tuned on dev + CMRC tune, docs/answers.md).
            lexical = [v / best for v in lexical]
        counted = counted_words(question, tokens) if "number" in kinds else ()
        words = tuple(f for forms, _ in concepts for f in forms) if kinds else ()
        return [
            (d, o, 1 / c.order, type_score(c.text, kinds, question, counted, words),
             1 / (c.position + 1))
            for c, d, o in zip(candidates, dense, lexical, strict=True)
        ]  # fmt: skip

    def score(
        self, question: str, candidates: Sequence[_Candidate], embedded: str | None = None
    ) -> list[float]:
        """Each candidate's score: its :meth:`features` weighted by :attr:`weights`."""
        return self.combine(self.features(question, candidates, embedded))

    def combine(self, features: Sequence[tuple[float, float, float, float, float]]) -> list[float]:
        w = self.weights
        return [
            w.dense * d + w.lexical * o + w.rank * r + w.type * t + w.position * p
            for d, o, r, t, p in features
        ]

    def _select(
        self,
        candidates: list[_Candidate],
        scores: list[float],
        limit: int,
        lead: _Candidate | None = None,
    ) -> list[_Candidate]:
        """The best sentence (or ``lead``), then up to ``limit - 1`` that score close to it and
        add to it."""
        ranked = sorted(
            zip(scores, candidates, strict=True),
            key=lambda sc: (sc[1] is not lead, -sc[0], sc[1].order, sc[1].sentence.start),
        )
        lead_score, lead = ranked[0]
        chosen = [lead]
        seen = set(sentence_tokens(lead.text))
        for score, c in ranked[1:]:
            if len(chosen) >= limit or score < self.weights.support * lead_score:
                break
            tokens = sentence_tokens(c.text)
            # A sentence whose words the answer already holds adds nothing to it.
            if tokens and len(tokens - seen) / len(tokens) < 0.3:
                continue
            chosen.append(c)
            seen |= tokens
        return chosen

    def _article_answer(
        self,
        question: str,
        about_author: bool,
        hits: list[Hit],
        documents: Mapping[str, Document],
        chunks_of: Callable[[str], list[Chunk]] | None,
        citer: _Citer,
        english: bool,
    ) -> list[str]:
        """A question about the article itself: its author (quoting the author note or the
        dateline's reporters), its date, source or title (quoting the text that states them;
        from the metadata alone when no text does). Empty for other questions.

        A question that names no article (这篇报道的记者是谁？ Who reported this story?) while
        the hits come from several is ambiguous: each of them with what is asked answers, one
        line an article (at most :data:`MAX_ARTICLES`), labelled with its title."""
        retrieved = list(dict.fromkeys(h.chunk.doc_id for h in hits if h.chunk.doc_id in documents))
        # Only the retrieved articles: the search's filters and a follow-up's article (这篇文章
        # after an answer quoting one) limit what may answer.
        if len(retrieved) > 1 and metadata.names_no_article(question, documents):
            lines = []
            for doc_id in retrieved:
                own = [h for h in hits if h.chunk.doc_id == doc_id]
                # One article: no longer ambiguous, answered as the question names it.
                line = self._article_answer(
                    question,
                    about_author,
                    own,
                    {doc_id: documents[doc_id]},
                    chunks_of,
                    citer,
                    english,
                )
                if line:
                    lines.append((documents[doc_id].title, line[0]))
                if len(lines) == MAX_ARTICLES:
                    break
            if len(lines) == 1:  # one article has what is asked: it is the one meant
                return [lines[0][1]]
            return [f"《{title}》{line}" for title, line in lines]
        if about_author and (note := metadata.find_author_note(question, hits, documents)):
            if note.end > note.start:
                quoted = _span(note.document, note.start, note.end, hits, chunks_of)
                if quoted is not None:
                    lead = metadata.author_line(note.document, english)
                    return [lead + note.quote + citer.mark(quoted)]
            elif line := metadata.author_line(note.document, english, stated=False):
                return [_uncited(line.rstrip(), note.document, hits, citer)]
        found = metadata.find_fact(question, hits, documents)
        if found is None:
            return []
        line = metadata.fact_line(found, english)
        if found.end > found.start:
            quoted = _span(found.document, found.start, found.end, hits, chunks_of)
            if quoted is not None:
                return [line + found.quote + citer.mark(quoted)]
        return [_uncited(line, found.document, hits, citer)]


def _uncited(line: str, document: Document, hits: Sequence[Hit], citer: _Citer) -> str:
    """A line from the document's metadata alone: no text states it, so nothing is quoted, and
    the article's best passage goes with the answer as a passage to read, uncited."""
    hit = next((h for h in hits if h.chunk.doc_id == document.doc_id), None)
    if hit is not None:
        citer.hits.setdefault(hit.chunk.chunk_id, hit)
    return line


def _asks(c: _Candidate, documents: Mapping[str, Document]) -> bool:
    """A sentence that asks rather than tells: a question (it ends with a question mark), or
    any sentence of a questioner's turn (记者：…, 法新社记者：…, 问：…)."""
    if _QUESTION_END.search(fold(c.text)):
        return True
    text = documents[c.doc_id].text
    paragraph = text.rfind("\n", 0, c.sentence.start) + 1
    return _QUESTIONER.match(fold(text[paragraph : paragraph + 24])) is not None


#: A question in the text is the user's own when it is this close to the best match on both
#: the meaning and the words signals (each scaled so that the best sentence has 1).
SAME_QUESTION = 0.95


def _reply_to_same_question(
    candidates: list[_Candidate],
    features: Sequence[tuple[float, float, float, float, float]],
    asking: list[bool],
    documents: Mapping[str, Document],
) -> _Candidate | None:
    """The reply to a question in the text that restates the user's (问：《办法》适用于哪些人员？
    for 《办法》适用于哪些人员？): the sentence opening the paragraph after it, when retrieved
    and no question itself; None when no question in the text is that close."""
    at = {(c.doc_id, c.sentence.start): i for i, c in enumerate(candidates)}
    best = None
    for i, c in enumerate(candidates):
        dense, words = features[i][0], features[i][1]
        if not asking[i] or dense < SAME_QUESTION or words < SAME_QUESTION:
            continue
        text = documents[c.doc_id].text
        newline = text.find("\n", c.sentence.end)
        if newline < 0:
            continue
        start = newline + 1
        while start < len(text) and text[start].isspace():
            start += 1
        j = at.get((c.doc_id, start))
        if j is not None and not asking[j] and (best is None or dense + words > best[0]):
            best = (dense + words, candidates[j])
    return best[1] if best else None


def _span(
    doc: Document,
    start: int,
    end: int,
    hits: Sequence[Hit],
    chunks_of: Callable[[str], list[Chunk]] | None,
) -> _Candidate | None:
    """A span of a document as a candidate to cite: in a retrieved chunk that holds it, else in
    any of the document's chunks that does (``chunks_of``)."""
    hit = next(
        (h for h in hits if h.chunk.doc_id == doc.doc_id and
         h.chunk.start <= start and end <= h.chunk.end),
        None,
    )  # fmt: skip
    if hit is None and chunks_of is not None:
        chunk = next((c for c in chunks_of(doc.doc_id) if c.start <= start and end <= c.end), None)
        if chunk is not None:
            hit = Hit(chunk, len(hits) + 1, 0.0)
    if hit is None:
        return None
    return _Candidate(
        Sentence(doc.text[start:end], start, end), doc.doc_id, hit, hit.rank, 0, False
    )


def _answer(question: str, lines: list[str], citer: _Citer, notes: list[str]) -> Answer:
    return Answer(
        question=question,
        text="\n".join(lines),
        answerable=True,
        citations=tuple(citer.citations),
        passages=citer.passages(),
        note=" ".join(notes),
    )


def as_asked(answer: Answer, question: str) -> Answer:
    """An answer built for a Chinese translation of ``question`` (what was searched), made the
    answer to the question as asked: "not found" in its language, and the note that the
    evidence is quoted in Chinese."""
    if has_han(question) or answer.question == question:
        return answer
    if not answer.answerable:
        return replace(answer, question=question, text=NOT_FOUND_EN)
    note = " ".join(n for n in (ENGLISH_NOTE, answer.note) if n)
    return replace(answer, question=question, text=f"{ENGLISH_NOTE}\n{answer.text}", note=note)


def not_found(question: str, passages: Sequence[Hit]) -> Answer:
    """The answer for a question the articles do not answer: a message and the closest hits."""
    return Answer(
        question=question,
        text=NOT_FOUND_EN if asked_in_english(question) else NOT_FOUND_ZH,
        answerable=False,
        citations=(),
        passages=tuple(passages),
    )


def _gather(
    hits: list[Hit], documents: Mapping[str, Document], headings_too: bool = False
) -> list[_Candidate]:
    """Whole sentences of the hits, each once (overlapping chunks share sentences)."""
    seen_spans: set[tuple[str, int]] = set()
    seen_texts: set[str] = set()
    out: list[_Candidate] = []
    for order, hit in enumerate(hits, start=1):
        doc = documents[hit.chunk.doc_id]
        headings = set() if headings_too else {s.start for s in doc.sections}
        for position, s in enumerate(chunk_sentences(hit.chunk, doc)):
            key = (doc.doc_id, s.start)
            # A heading is a label, not a statement; the same sentence reprinted in another
            # article (a summary, a reprint) would only repeat the answer.
            if key in seen_spans or s.text in seen_texts or s.start in headings:
                continue
            seen_spans.add(key)
            seen_texts.add(s.text)
            out.append(
                _Candidate(
                    s, doc.doc_id, hit, order, position, paragraph_start(doc, s.start), doc.title
                )
            )
    return out


def _section_headings(
    hits: list[Hit],
    documents: Mapping[str, Document],
    chunks_of: Callable[[str], list[Chunk]],
    gathered: list[_Candidate],
) -> list[_Candidate]:
    """Every section heading of the retrieved articles, as candidates (each cited from the
    chunk that holds it)."""
    known = {(c.doc_id, c.sentence.start): c for c in gathered}
    out: list[_Candidate] = []
    for doc_id in dict.fromkeys(h.chunk.doc_id for h in hits):
        doc = documents[doc_id]
        best = next(h for h in hits if h.chunk.doc_id == doc_id)
        for section in doc.sections:
            if (doc_id, section.start) in known:
                out.append(known[(doc_id, section.start)])
                continue
            sentence = next(
                (x for x in paragraph_sentences(doc, section.start, section.start)
                 if x.start >= section.start),
                None,
            )  # fmt: skip
            chunk = next((c for c in chunks_of(doc_id) if c.start <= section.start < c.end), None)
            if sentence is None or chunk is None:
                continue
            hit = Hit(chunk, best.rank, best.score)
            out.append(_Candidate(sentence, doc_id, hit, best.rank, 0, True, doc.title))
    return out


#: A list item this short after its marker (一是培训时间有冲突。) is a label for the point, and
#: the sentence after it says what the point is.
_HEADING_CHARS = 16


def _explained(
    chosen: list[_Candidate],
    candidates: list[_Candidate],
    documents: Mapping[str, Document],
    limit: int,
) -> list[_Candidate]:
    """Lead with the explanation when the best sentence is a short list-item label.

    A point's label shares the question's words (it names the point) yet holds no answer; the
    sentence right after it, when retrieved too, does. The label follows it as support.
    """
    lead = chosen[0]
    marker = item_marker(lead.text)
    if marker is None or len(fold(lead.text).strip()) - marker.length > _HEADING_CHARS:
        return chosen
    text = documents[lead.doc_id].text
    following = [
        c
        for c in candidates
        if c.doc_id == lead.doc_id
        and c.sentence.start >= lead.sentence.end
        and not text[lead.sentence.end : c.sentence.start].strip()
    ]
    if not following:
        return chosen
    explanation = following[0]
    if item_marker(explanation.text) is not None or len(explanation.text) <= len(lead.text):
        return chosen
    rest = [c for c in chosen[1:] if c is not explanation]
    return [explanation, lead, *rest][:limit]


def _rest_of_item(
    item: _Candidate, candidates: list[_Candidate], documents: Mapping[str, Document]
) -> list[_Candidate]:
    """The sentences after a list item's opening in its paragraph, up to the next item."""
    text = documents[item.doc_id].text
    end = text.find("\n", item.sentence.end)
    end = len(text) if end < 0 else end
    rest = sorted(
        (c for c in candidates
         if c.doc_id == item.doc_id and item.sentence.end <= c.sentence.start < end),
        key=lambda c: c.sentence.start,
    )  # fmt: skip
    out = []
    for c in rest:
        if item_marker(c.text) is not None:
            break
        out.append(c)
    return out


_DESCRIBE_CHARS = 400  # a described lead stays a passage, not a page
REASON_BEFORE = 2  # sentences told before a why-question's lead (tuned on the CMRC tuning half)


def _described(
    chosen: list[_Candidate], documents: Mapping[str, Document], limit: int, reason: bool = False
) -> list[_Candidate]:
    """The lead quoted on through its paragraph, up to ``limit`` sentences with the supporting
    ones: a description, a reason or a course of events runs over several sentences, which a
    lead cut at its first full stop leaves half told (tuned on the CMRC tuning half,
    docs/answers.md)."""
    lead = chosen[0]
    doc = documents[lead.doc_id]
    span = lead.sentence
    count = quotes.sentence_count(span.text)
    paragraph = paragraph_sentences(doc, span.start, span.end)
    if reason and item_marker(lead.text) is None:
        # Why…? The sentence that best matches the question restates the effect it asks about
        # (…温克霍克成为领跑者，他一度创造了33秒的领先优势。); a story tells the cause before
        # it (其他车手都使用干胎，只有他使用中性胎。). Up to REASON_BEFORE sentences of its
        # paragraph before it are quoted with it, within the limits; never a list's point.
        before = [s for s in paragraph if s.end <= span.start]
        for s in reversed(before[max(0, len(before) - REASON_BEFORE) :]):
            if count >= limit or span.end - s.start > _DESCRIBE_CHARS or item_marker(s.text):
                break
            span = Sentence(doc.text[s.start : span.end], s.start, span.end)
            count += 1
    for s in paragraph:
        if count >= limit or s.end - span.start > _DESCRIBE_CHARS:
            break
        if s.start >= span.end and item_marker(s.text) is None:
            span = Sentence(doc.text[span.start : s.end], span.start, s.end)
            count += 1
        elif s.start >= span.end:
            break  # the next point of a list is a point of its own
    if span == lead.sentence:
        return chosen
    rest = _outside(chosen[1:], lead.doc_id, span)
    return [replace(lead, sentence=span), *rest[: max(0, limit - count)]]


def _joined(run: list[_Candidate], documents: Mapping[str, Document]) -> _Candidate:
    """The first of ``run`` (sentences following each other in one paragraph) as one passage up
    to the last."""
    first, last = run[0], run[-1]
    text = documents[first.doc_id].text
    span = Sentence(
        text[first.sentence.start : last.sentence.end], first.sentence.start, last.sentence.end
    )
    return replace(first, sentence=span)


def _in_context(
    chosen: list[_Candidate], documents: Mapping[str, Document], limit: int
) -> list[_Candidate]:
    """The lead quoted as a self-contained passage (:func:`rag.answering.quotes.passage`),
    joined with a chosen supporting sentence right next to it, then the other supporting
    sentences up to ``limit - 1`` in all (the lead's context is not counted)."""
    lead = chosen[0]
    doc = documents[lead.doc_id]
    span = quotes.passage(doc, lead.sentence)
    rest = chosen[1:]
    for c in rest:
        # A supporting sentence right after the passage reads as its continuation (one before
        # it stays a supporting quote of its own: the answer leads).
        if (
            c.doc_id == lead.doc_id
            and quotes.adjacent(doc, span, c.sentence)
            and (c.sentence.start >= span.end)
            and item_marker(c.text) is None  # the next point of a list is no continuation
        ):
            span = Sentence(doc.text[span.start : c.sentence.end], span.start, c.sentence.end)
            break
    if span == lead.sentence:
        return chosen
    # The sentences quoted to make the lead readable belong to the lead, not to the supporting
    # sentences: a lead that needs the sentence before it still gets its supporting ones (the
    # budget keeps ``limit - 1``, less one for a supporting sentence joined as continuation).
    joined = any(span.start <= c.sentence.start < span.end for c in rest if c.doc_id == lead.doc_id)
    room = limit - 1 - int(joined)
    return [replace(lead, sentence=span), *_outside(rest, lead.doc_id, span)[: max(0, room)]]


def _outside(chosen: list[_Candidate], doc_id: str, span: Sentence) -> list[_Candidate]:
    """``chosen`` without the sentences a quoted passage (``span`` of ``doc_id``) now holds."""
    return [
        c for c in chosen
        if not (c.doc_id == doc_id and span.start <= c.sentence.start < span.end)
    ]  # fmt: skip


def _compose(chosen: list[_Candidate], citer: _Citer) -> list[str]:
    """The lead sentence on its own line, then the supporting sentences on one line."""
    lines = [chosen[0].text + citer.mark(chosen[0])]
    line, previous = "", ""
    for c in chosen[1:]:
        # Chinese sentences run on without spaces; Latin ones need one between them.
        if previous and (previous[-1].isascii() or c.text[0].isascii()):
            line += " "
        line += c.text + citer.mark(c)
        previous = c.text
    if line:
        lines.append(line)
    return lines


# ---- enumerations --------------------------------------------------------------------------
def _number(c: _Candidate) -> tuple[str, int] | None:
    marker = item_marker(c.text)
    return (marker.style, marker.number) if marker else None


def _find_enumeration(
    candidates: list[_Candidate],
    count: int,
    scores: Sequence[float],
    documents: Mapping[str, Document],
) -> tuple[list[_Candidate] | None, float]:
    """The items of a requested list, if the hits hold one, and the list's score.

    Of the complete lists (items 1..count), the one whose items and announcing sentence score
    best against the question wins (several articles may number their points 第一…第三);
    failing a complete list, the longest run 1..m (m >= 2) is returned.
    """
    score_of = {id(c): s for c, s in zip(candidates, scores, strict=True)}
    by_doc: dict[str, list[_Candidate]] = {}
    for c in candidates:
        by_doc.setdefault(c.doc_id, []).append(c)
    partial: list[_Candidate] | None = None
    complete: list[tuple[float, list[_Candidate]]] = []
    for group in by_doc.values():
        group = sorted(group, key=lambda c: c.sentence.start)
        styles = dict.fromkeys(n[0] for c in group if (n := _number(c)))
        for style in styles:
            # Items that open paragraphs are the real list; "一是…" inside a paragraph is
            # often a sub-list of one item, so it is only looked for second.
            for openings_only in (True, False):
                items = _items(group, style, count, openings_only)
                if len(items) == count:
                    mean = sum(score_of[id(c)] for c in items) / count
                    # The sentence announcing a list restates what the list is about (具体存在
                    # 以下问题。, 概括起来主要有四个亮点。), which its items seldom repeat.
                    intro = _introduction(group, items[0], documents)
                    lead_in = score_of[id(intro)] if intro is not None else mean
                    complete.append(((mean + lead_in) / 2, items))
                    break
                if len(items) >= 2 and (partial is None or len(items) > len(partial)):
                    partial = items
    if complete:
        best, items = max(complete, key=lambda t: t[0])
        return items, best
    if partial is None:
        return None, 0.0
    return partial, sum(score_of[id(c)] for c in partial) / len(partial)


def _introduction(
    group: list[_Candidate], first: _Candidate, documents: Mapping[str, Document]
) -> _Candidate | None:
    """The retrieved sentence right before a list's first item (``group`` in reading order)."""
    before = [c for c in group if c.sentence.end <= first.sentence.start]
    if not before:
        return None
    text = documents[first.doc_id].text
    last = before[-1]
    return last if not text[last.sentence.end : first.sentence.start].strip() else None


#: An inline list must be among this many best sentences to answer a list question.
_INLINE_TOP = 3


def _inline_list(
    question: str, candidates: list[_Candidate], scores: Sequence[float], count: int
) -> int | None:
    """The index of the best of the top sentences that lists the ``count`` asked items in
    itself (A、B、C三方…), with the question's measure word when a Chinese question gives one
    (哪三方面 is not answered by …三者间)."""
    wanted = count_measure(question)
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])[:_INLINE_TOP]
    for i in order:
        measure = inline_list(candidates[i].text, count)
        if measure is not None and (not wanted or not measure or measure == wanted):
            return i
    return None


def _items(
    group: list[_Candidate], style: str, count: int, openings_only: bool
) -> list[_Candidate]:
    """Items 1, 2, ... of ``style`` in reading order (at most ``count``; 0 for no limit)."""
    items: list[_Candidate] = []
    after = -1
    n = 1
    while count == 0 or n <= count:
        item = next(
            (
                c
                for c in group
                if c.sentence.start > after
                and (c.opens_paragraph or not openings_only)
                and (m := _number(c)) is not None
                and m[0] == style
                and (m[1] == n or (m[1] == LAST and n >= 2))
            ),
            None,
        )
        if item is None:
            break
        items.append(item)
        after = item.sentence.start
        if _number(item) == (style, LAST):
            break
        n += 1
    return items


def _announced_list(
    lead: _Candidate,
    count: int,
    candidates: list[_Candidate],
    documents: Mapping[str, Document],
    chunks_of: Callable[[str], list[Chunk]],
) -> list[_Candidate] | None:
    """The items a sentence announces (…主要有四个亮点。 then 其一…其四; 有以下三点：第一，…), read
    from its article's chunks whether or not they were retrieved. None unless at least two
    items follow it in one style, the first right after it (or inside it, after its colon)."""
    doc = documents[lead.doc_id]
    known = {(c.doc_id, c.sentence.start): c for c in candidates}
    extra = [
        Hit(chunk, lead.hit.rank, lead.hit.score)
        for chunk in chunks_of(lead.doc_id)
        if chunk.end > lead.sentence.end
    ]
    following = sorted(
        (known.get((c.doc_id, c.sentence.start), c)
         for c in _gather(extra, documents) if c.sentence.start >= lead.sentence.end),
        key=lambda c: c.sentence.start,
    )  # fmt: skip
    _, colon, rest = fold(lead.text).partition(":")
    inline = item_marker(rest) if colon else None
    if inline is not None and inline.number == 1:
        items, style = [lead], inline.style
    elif (
        following
        and not doc.text[lead.sentence.end : following[0].sentence.start].strip()
        and (first := _number(following[0])) is not None
        and first[1] == 1
    ):
        items, style = [], first[0]
    else:
        return None
    for c in following:
        marker = _number(c)
        if marker is None or marker[0] != style:
            continue
        if marker[1] == len(items) + 1 or (marker[1] == LAST and items):
            items.append(c)
        if len(items) == count or marker[1] == LAST:
            break
    return items if len(items) >= 2 else None


def _under_heading(lead: _Candidate, group: list[_Candidate], style: str) -> list[_Candidate]:
    """The items listed under a numbered heading that names what is asked (二、重点任务 then
    （一）…（二）…): a policy document's heading states no answer, its points do. Empty when the
    lead is a sentence rather than a heading, or nothing numbered in another style follows it
    before the next heading of its own style."""
    label = fold(lead.text).strip()
    if len(label) > _HEADING_MAX_CHARS or label[-1:] in "。；;！!？?：:":
        return []
    section: list[_Candidate] = []
    for c in group:
        if c.sentence.start < lead.sentence.end:
            continue
        marker = _number(c)
        if marker is not None and marker[0] == style:
            break  # the next heading of the same level
        section.append(c)
    first = next((m for c in section if (m := _number(c)) is not None), None)
    if first is None or first[1] != 1:
        return []
    items = _items(section, first[0], 0, True)
    return items if len(items) >= 2 else []


def _whole_list(candidates: list[_Candidate], scores: list[float]) -> list[_Candidate] | None:
    """For "which ones" without a number: the whole list, when the best sentence is one of
    its items or introduces it."""
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    lead = candidates[order[0]]
    top3 = [candidates[i] for i in order[:3]]
    group = sorted((c for c in candidates if c.doc_id == lead.doc_id),
                   key=lambda c: c.sentence.start)  # fmt: skip
    marker = _number(lead)
    if marker is not None and (below := _under_heading(lead, group, marker[0])):
        return below
    # A heading close behind the best sentence names the list (三、2024年重点工作 for 重点工作有
    # 哪几项？, whose best sentence sits inside an item): the points under it are the answer.
    for c in top3[1:]:
        heading = _number(c)
        if (
            heading is not None
            and c.doc_id == lead.doc_id
            and (below := _under_heading(c, group, heading[0]))
        ):
            return below
    if marker is None:
        after = [c for c in group if c.sentence.start >= lead.sentence.end]
        if not after or not fold(lead.text).rstrip("”’」』)》").endswith(":"):
            return None
        marker = _number(after[0])
        if marker is None or marker[1] != 1:
            return None
    for openings_only in (True, False):
        items = _items(group, marker[0], 0, openings_only)
        # The list must be what the question is about: its items lead the scores.
        if len(items) >= 2 and sum(c in items for c in top3) >= 2:
            return items
    return None
