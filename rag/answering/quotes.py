"""Self-contained quotes: a sentence together with the neighbour it cannot be read without.

A Chinese sentence often leans on the one next to it. It may open with a pronoun or a
determiner (他…, 该银行…, 这将有助于…), a connective (但…, 因此…, 此外…), a time told from the
one before (赛后…, 次年…, 当时…), a detail of what it names (主要表现为…, 具体包括…), or with
no subject at all (被誉为晋剧皇后。, 现任…). Quoted on its own, "但并不是一开始就可以的，而是到2.2之后才正式
可以。" says nothing a reader can use, and the sentence before it ("MonoDevelop也可以在Windows
跟Mac OS X平台上执行。"), which names the subject, only restates the question. So the lead of an
answer is quoted as a passage:

* with the sentence before it when the lead itself leans on it, or points back at what it
  talks about (割让出这些领土, 上述措施: the lands and the measures are named before), or
  names the speaker of the quotation before it and goes on with it (“…。”王建国说，“…”);
* with the sentence after it when that one leans on the lead (it continues the lead's point).

Only neighbours in the same paragraph are joined, one on each side at most, and list items
(其一…, 一是…, 第二…) are never joined to their neighbours: each item is a point of its own.
The passage is one slice of the document, so its citation is still verbatim at its offsets.

Measured on the dev questions and the CMRC tuning half only (docs/answers.md).
"""

from __future__ import annotations

import re

from rag.answering.sentences import Sentence, paragraph_sentences, split_sentences
from rag.lexicon import fold, item_marker
from rag.types import Document

# Openings that refer back or carry on: pronouns and determiners, connectives, adverbs that
# need a subject from before (也/又/还/更/曾/现), the subject-less passive 被, and openers that
# carry the previous point on (由于…, 目前…, 将…, 如…).
_LEANS_BACK = re.compile(
    r"^(?:[“‘「『(（]?)(?:"
    r"其[他它余中后实次]?|该|此|这|那|他|她|它|"
    r"但|而|并|且|然而|不过|可是|只是|因此|因而|所以|于是|从而|进而|故|遂|乃|则|即|亦|"
    r"同时|此外|另外|另一方面|尤其|特别是|包括|例如|比如|为此|对此|据此|"
    r"也|又|还|更|再|便|就|都|均|皆|曾|已|现|仍|后来|随后|之后|此后|最终|结果|"
    r"被|由于|因为|将|目前|如今|如|像|因|"
    # 主要表现为…, 具体包括…: what the sentence before names, told in detail.
    r"(?:主要|具体|集中)?表现[为在]|(?:主要|具体)(?:有|是|包括|分为)|"
    # A time told from the one before it: 赛后…, 次年…, 当时…, 在此背景下…
    r"[赛会战事课饭]后|次[日月年]|翌[日月年]|同[年月日]|当[年月日时]|此时|其时|在此|在这|"
    # 指在分娩过程中…: a definition's second half, its subject the term defined before.
    r"指(?![导标南数纹甲挥])|是指|系指|意指)"
)


def leans_back(text: str) -> bool:
    """Whether a sentence opens in a way that needs the sentence before it to be understood.

    A list item does not: 其一…/其二… opens with 其 but stands for a point of its own.
    """
    if item_marker(text) is not None:
        return False
    return _LEANS_BACK.match(fold(text).lstrip()) is not None


# Words that point at what the sentence before lists or tells: 割让出这些领土 names no land,
# 上述措施 no measure; the sentence before does.
_REFERS_BACK = re.compile(r"这些|上述|前述|以上[几各这的]")


def refers_back(text: str) -> bool:
    """Whether a sentence points back at the one before it for what it talks about."""
    return _REFERS_BACK.search(fold(text)) is not None


# “以前这条路是泥巴路…。”村党支部书记王建国说，“2019年通了水泥路…”: a speaker named between
# the two halves of what they said. A sentence opening with that attribution goes with the
# quotation before it, which is the first half.
_ATTRIBUTION = re.compile(
    r"^[^，,：:。“”\"]{1,24}?(?:说|表示|介绍|指出|坦言|认为|强调|告诉记者|笑着说)[，,：:]\s*[“\"]"
)
_WHOLE_QUOTE = re.compile(r"^\s*[“\"][^“”\"]*[”\"]\s*$")


def continues_quote(before: str, text: str) -> bool:
    """Whether ``text`` names the speaker of the quotation ``before`` and goes on with it."""
    return _WHOLE_QUOTE.match(before) is not None and _ATTRIBUTION.match(text) is not None


def passage(document: Document, sentence: Sentence) -> Sentence:
    """``sentence`` joined with the neighbours it needs (see the module docstring).

    Returns:
        A span of ``document.text`` that starts at or before ``sentence`` and ends at or after
        it (``sentence`` itself when it stands alone); ``text`` is the verbatim slice.
    """
    paragraph = paragraph_sentences(document, sentence.start, sentence.end)
    i = next((k for k, s in enumerate(paragraph) if s.start == sentence.start), None)
    if i is None:  # not a sentence of this document's splitting (a caller's own span)
        return sentence
    start, end = sentence.start, sentence.end
    if i > 0 and (
        leans_back(sentence.text)
        or refers_back(sentence.text)
        or continues_quote(paragraph[i - 1].text, sentence.text)
    ):
        start = paragraph[i - 1].start
    if i + 1 < len(paragraph) and leans_back(paragraph[i + 1].text):
        end = max(end, paragraph[i + 1].end)  # a span of several sentences keeps its end
    if (start, end) == (sentence.start, sentence.end):
        return sentence
    return Sentence(document.text[start:end], start, end)


def adjacent(document: Document, a: Sentence, b: Sentence) -> bool:
    """Whether two spans of ``document`` follow each other with only spaces between (same line)."""
    lo, hi = (a, b) if a.end <= b.start else (b, a)
    if lo.end > hi.start:
        return False
    gap = document.text[lo.end : hi.start]
    return not gap.strip() and "\n" not in gap


def sentence_count(text: str) -> int:
    """How many sentences a quote holds (at least 1)."""
    return max(1, len(split_sentences(text)))
