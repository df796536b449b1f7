"""Chinese names written in pinyin, found among the corpus's words.

An English question names Chinese people and places in pinyin (Lu Quan, Wang Fahui, Zhan
Mengxia), and no dictionary translates a person's name: CC-CEDICT skips surnames and holds few
given names. The corpus holds them in characters (鲁全, 王法慧). A pinyin word run is matched
the other way round: every character that reads as each syllable (pypinyin's character
readings), kept only while each pair of neighbouring characters is a word or bigram of the
corpus. The keyword index holds every bigram of its text, so a name of two or three characters
is found when its text is there, and a reading no text has costs nothing.

pypinyin (MIT) ships its reading table inside the package; it is loaded on the first English
question that holds a pinyin run (about 0.2 s).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterator
from functools import lru_cache

#: Characters a syllable may stand for, and every toneless syllable (``lv`` for lü).
_readings: dict[str, tuple[str, ...]] | None = None
_capped: dict[str, tuple[str, ...]] | None = None
_lock = threading.Lock()
_HAN = re.compile(r"[\u4e00-\u9fff]")
#: Most matches kept for one name: a short syllable run can read as several corpus words.
MAX_MATCHES = 4
#: Characters tried for one syllable, the commonest first.
PER_SYLLABLE = 48
#: The hundred commonest Chinese surnames (they name most people in the news), to prefer a
#: reading that opens with one: Wang Fahui is 王法慧 sooner than 往法慧.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤鲁战关习"
)


def _table(capped: bool = False) -> dict[str, tuple[str, ...]]:
    """Each toneless syllable's characters; ``capped``: only its commonest (by jieba's
    counts), for a backend index (Milvus) that answers each lookup with a request, so that a
    name of three syllables is checked against a few thousand bigrams, not a million. The
    embedded index's vocabulary is a set in memory and takes every character (the cap lost
    0.017 of R@5 on the English CMRC tuning questions)."""
    global _readings, _capped
    with _lock:
        if _readings is None:
            from pypinyin.pinyin_dict import pinyin_dict

            chars: dict[str, list[str]] = {}
            for code, readings in pinyin_dict.items():
                ch = chr(code)
                if not _HAN.match(ch):
                    continue
                # The first, common reading only: rare ones (方 as wang) breed false names.
                chars.setdefault(toneless(readings.split(",")[0]), []).append(ch)
            _readings = {syllable: tuple(cs) for syllable, cs in chars.items()}
        if capped and _capped is None:
            from rag.index.tokenize import jieba_tokenizer

            freq = jieba_tokenizer().FREQ
            _capped = {
                syllable: tuple(sorted(cs, key=lambda c: -freq.get(c, 0))[:PER_SYLLABLE])
                for syllable, cs in _readings.items()
            }
    return _capped if capped and _capped is not None else _readings


def toneless(reading: str) -> str:
    """``wáng`` -> ``wang``, ``lǜ`` -> ``lv`` (the usual ASCII spelling of ü)."""
    plain = unicodedata.normalize("NFD", reading.replace("ü", "v").replace("ǖ", "v")
                                  .replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v"))  # fmt: skip
    return "".join(ch for ch in plain if ch.isascii()).lower()


def syllables(word: str) -> list[tuple[str, ...]]:
    """Every way to read ``word`` as a run of pinyin syllables (``fahui`` -> (fa, hui)); none
    when it is not pinyin. Longest syllables are tried first, so the usual reading comes first.
    """
    table = _table()
    word = word.lower().replace("ü", "v")
    out: list[tuple[str, ...]] = []

    def walk(rest: str, done: tuple[str, ...]) -> None:
        if len(out) >= 4:
            return
        if not rest:
            out.append(done)
            return
        for size in range(min(6, len(rest)), 0, -1):
            if rest[:size] in table:
                walk(rest[size:], (*done, rest[:size]))

    if word.isascii() and word.isalpha():
        walk(word, ())
    return out


def names(words: list[str], vocabulary: Collection[str]) -> Iterator[tuple[int, int, list[str]]]:
    """Runs of ``words`` that read as a pinyin name found in ``vocabulary``: ``(start, end,
    matches)``, ``words[start:end]`` being the run. A run needs two syllables at least (a lone
    "Wang" or "He" is no evidence) and at most four."""
    i = 0
    while i < len(words):
        best: tuple[int, list[str]] | None = None
        for end in range(min(len(words), i + 3), i, -1):  # the longest run first
            found = match(words[i:end], vocabulary)
            if found:
                best = (end, found)
                break
        if best is None:
            i += 1
            continue
        yield i, best[0], best[1]
        i = best[0]


def match(words: list[str], vocabulary: Collection[str]) -> list[str]:
    """Corpus words (or bigram chains) that read as ``words`` in pinyin, at most
    :data:`MAX_MATCHES`."""
    readings: list[tuple[str, ...]] = [()]
    for word in words:
        options = syllables(word)
        if not options:
            return []
        readings = [(*r, *o) for r in readings for o in options][:8]
    table = _table(capped=hasattr(vocabulary, "prefetch"))
    out: list[str] = []
    for reading in readings:
        if not 2 <= len(reading) <= 4:
            continue
        chains = list(table.get(reading[0], ()))
        for syllable in reading[1:]:
            nexts = table.get(syllable, ())
            _prefetch(vocabulary, (c[-1] + n for c in chains for n in nexts))
            chains = [c + n for c in chains for n in nexts if c[-1] + n in vocabulary]
            if not chains:
                break
        for chain in chains:
            if chain not in out:
                out.append(chain)
    _prefetch(vocabulary, (c for c in out if len(c) > 2))
    # A chain that is a word of the corpus itself (jieba keeps a name whole: 蒋巨峰) is a name;
    # one that only runs across two words' bigrams (往 + 发挥) is mostly chance, less so when it
    # opens with a common surname (王法慧).
    out.sort(key=lambda c: (not (len(c) > 2 and c in vocabulary), c[0] not in SURNAMES))
    return out[:MAX_MATCHES]


_LATIN_WORD = re.compile(r"[a-z]+")


def _prefetch(vocabulary: Collection[str], terms: Iterator[str]) -> None:
    """Look many terms up at once where the vocabulary is a backend's (one request, not one a
    term)."""
    prefetch = getattr(vocabulary, "prefetch", None)
    if prefetch is not None:
        prefetch(list(terms))


def mentions(question: str, name: str) -> bool:
    """Whether ``question`` names ``name`` (a Chinese name): in characters, or in pinyin as
    consecutive words of an English question (鲁全: "Lu Quan", "Luquan", "LU QUAN"). Every
    reading of every character counts, so a surname read as a surname (单 shan, 曾 zeng) does."""
    if not name:
        return False
    if name in question:
        return True
    if _HAN.search(question) or not _HAN.search(name):
        return False
    spoken = _spoken(name)
    words = _LATIN_WORD.findall(question.lower())
    for i in range(len(words)):
        joined = ""
        for word in words[i : i + 4]:
            joined += word
            if joined in spoken:
                return True
            if not any(s.startswith(joined) for s in spoken):
                break
    return False


@lru_cache(maxsize=65536)
def _spoken(name: str) -> frozenset[str]:
    """Every toneless pinyin spelling of ``name``, syllables run together (at most 64)."""
    from pypinyin import Style, pinyin

    spellings = {""}
    for readings in pinyin(name, style=Style.NORMAL, heteronym=True):
        spellings = {s + r.replace("ü", "v") for s in spellings for r in readings}
        if len(spellings) > 64:
            spellings = set(sorted(spellings)[:64])
    return frozenset(spellings)
