"""The one home of the Chinese question words, stopwords, counts and list-item markers.

Search (answerability, list expansion) and answering all read questions; each used to keep its
own copy of these words, and the copies drifted. Everything here is plain data and small pure
functions over it, matched on NFKC-folded text so full-width (``，：（一）``) and ASCII
(``,:(一)``) punctuation read alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.index.tokenize import has_han

# ---- question words and stopwords ---------------------------------------------------------------
#: Words that ask rather than say: they match nothing useful in an article.
ZH_QUESTION_WORDS = frozenset(
    "什么 哪些 哪个 哪里 哪儿 哪几 哪一 哪家 哪位 哪年 哪天 几个 几项 几次 几年 多少 多大 多久 多长 "
    "怎么 怎样 如何 为什么 为何 是否 有没有 是不是 请问 谁 吗 呢".split()
)
#: Question words, particles and words every question about an article uses.
ZH_STOPWORDS = ZH_QUESTION_WORDS | frozenset(
    "一下 介绍 这篇 文章 文中 本文 作者 主要 提到 提出 认为 分别 目前 关于 有关 我们 他们 可以 "
    "能够 应该 需要 还有 以及 或者 还是 因为 所以 这个 那个 这些 那些 其中".split()
)
#: Words that name the kind of answer a question wants (a position, a time, a reason), not
#: what it is about: 陈士华担任什么职务？ is answered by 副秘书长陈士华表示…, which says neither
#: 担任 nor 职务. They are no evidence that the articles cover the question's topic.
ZH_ASK_TERMS = frozenset(
    "职务 职位 头衔 身份 担任 任职 现任 时候 时间 日期 地点 原因 理由 名字 名称 目标 措施 举措 "
    "任务 内容 意义 作用 要求 特点 这则 这条 该文 此文 本篇 报道 新闻 稿件".split()
)
#: Characters that only occur in question words (a token holding one asks, it does not say).
ZH_QUESTION_CHARS = frozenset("哪吗呢么啥谁")

# ---- the language a question is asked in --------------------------------------------------------
# An English word has lower-case letters: GDP in 一季度GDP增长多少？ is an acronym, not English.
_EN_WORD = re.compile(r"\b[A-Za-z][a-z]+\b")


def asked_in_english(question: str) -> bool:
    """Whether a question is asked in English: it holds no Chinese, or it opens with English
    words around a Chinese term (What is 职业伤害保障?, or a follow-up resolved with its
    topic: Who reported 这篇关于新能源汽车?)."""
    if not has_han(question):
        return True
    return len(_EN_WORD.findall(question)) >= 2 and re.match(r"\s*[A-Za-z]", question) is not None


# ---- numbers ------------------------------------------------------------------------------------
CN_DIGITS = "一二三四五六七八九十"
EN_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "both": 2, "pair": 2,
}  # fmt: skip


def fold(text: str) -> str:
    """NFKC: full-width punctuation and digits read as ASCII, for matching only."""
    return unicodedata.normalize("NFKC", text)


def cn_number(token: str) -> int:
    """一..九十九 and 两/俩 as an int (0 when the token is not such a numeral)."""
    if token in ("两", "俩"):
        return 2
    if token.isdigit():
        return int(token)
    if not token or any(ch not in CN_DIGITS for ch in token):
        return 0
    if token == "十":
        return 10
    if len(token) == 1:
        return CN_DIGITS.index(token) + 1
    if len(token) == 2 and token[0] == "十":
        return 10 + CN_DIGITS.index(token[1]) + 1
    if len(token) == 2 and token[1] == "十":
        return (CN_DIGITS.index(token[0]) + 1) * 10
    if len(token) == 3 and token[1] == "十":
        return (CN_DIGITS.index(token[0]) + 1) * 10 + CN_DIGITS.index(token[2]) + 1
    return 0


# A count is a numeral right before a measure word, not preceded by 第 (an ordinal: 第二个亮点)
# or by another numeral (十八大, 二十大 are congresses, 十四五 a plan). "大" counts only after
# a single 二..九 (四大亮点), because 十八大/二十大 name congresses.
_MEASURE = "个|项|点|条|方面|种|类|件|部分|步|招|大|位|家|句|层|重"
_ZH_COUNT = re.compile(
    rf"(?<![第{CN_DIGITS}\d两])([{CN_DIGITS}]{{1,3}}|\d{{1,2}}|两|俩)(?![{CN_DIGITS}\d])\s*({_MEASURE})"
    # 5个月, 3个小时, 2个百分点: a span or a figure, not a count of things.
    r"(?!(?<=个)(?:月|小时|工作日|百分点|多月))"
)
# In English the count is the ask's only where it follows the question word (what four
# qualities, which are the three parties, name the pilot's two...): in "what did four
# ministries decide" or "how should the three parties coordinate" it counts the subject.
_EN_COUNT = re.compile(
    r"\b(?:what|which|name|list|give|identify|outline)\b"
    r"(?:\s+(?:are|were|is|was|the|these|those|its|their|his|her|our|[a-z]+'s))*"
    r"\s+(two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+(?!percent|per\b|%|times?\b"
    r"|years?\b|months?\b|days?\b|yuan\b|million\b|billion\b)([a-z][a-z-]*)",
    re.IGNORECASE,
)
_ASKS = re.compile(r"哪|什么|几|有何|是啥|怎样|如何|列举|what|which|list|name", re.IGNORECASE)


def requested_count(question: str) -> int:
    """How many items a question asks for (0 when it asks for no particular number).

    The count is read from the question's ask (哪四个亮点, 两个方面, four highlights), never
    from names and dates: 十八大, 二十大, 2023年 and 十四五 are not counts, and an ordinal
    (第二个亮点) picks one item rather than asking for several.
    """
    q = fold(question)
    for m in _ZH_COUNT.finditer(q):
        numeral, measure = m.group(1), m.group(2)
        if measure == "大" and (len(numeral) > 1 or numeral in ("一", "十")):
            continue
        if measure in ("位", "家", "层", "重", "句") and not _ASKS.search(q):
            continue
        n = cn_number(numeral)
        if n >= 2:
            return n
    for m in _EN_COUNT.finditer(q):
        token = m.group(1).lower()
        n = int(token) if token.isdigit() else EN_NUMBERS[token]
        if n >= 2:
            return n
    # A ranking's top N asked for by name (销量前五的品牌有哪些？, the top five brands), not a
    # figure about them (前五的品牌合计份额是多少？) nor a span of time (前三季度, 前5个月).
    if asks_for_list(q) and not _ASKS_FIGURE.search(q):
        for m in (*_TOP_ZH.finditer(q), *_TOP_EN.finditer(q)):
            token = m.group(1).lower()
            n = int(token) if token.isdigit() else cn_number(token) or EN_NUMBERS.get(token, 0)
            if n >= 2:
                return n
    return 0


# A sentence announcing the list after it: 概括起来主要有四个亮点。 具体存在以下三方面问题： 其特点
# 主要有以下三点： The count is near the sentence's end, after a verb of having or dividing.
_ANNOUNCING = re.compile(r"有|包括|包含|分为|分成|归纳为|概括为|如下|以下|下列|下述")
_ANNOUNCE_TAIL = 8


def announced_count(sentence: str) -> int:
    """How many items a sentence announces will follow (0 when it announces none)."""
    t = fold(sentence)
    head, colon, rest = t.partition(":")  # NFKC folds ：
    if colon and item_marker(rest) is not None:  # 有以下三点：第一，… runs into its first item
        t = head
    t = re.sub(r"[。.:!\s]+$", "", t)
    for m in reversed(list(_ZH_COUNT.finditer(t))):
        if len(t) - m.end() > _ANNOUNCE_TAIL:
            return 0
        if m.group(2) == "大" and len(m.group(1)) > 1:
            continue
        if not _ANNOUNCING.search(t, max(0, m.start() - 10), m.start()):
            return 0
        n = cn_number(m.group(1))
        return n if n >= 2 else 0
    return 0


EN_ORDINALS = {
    w: i for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1
    )
}  # fmt: skip
# 第二个, 第3项, 第一名: the place of an item in a list.
_ZH_ORDINAL = rf"第([{CN_DIGITS}]{{1,2}}|\d{{1,2}})(?:个|点|项|条|方面|部分|名)"
_EN_ORDINAL = rf"({'|'.join(EN_ORDINALS)})"
# An item picked out of a list the question names: 重点工作的第一项, 四个亮点中的第二个, the
# second of the four highlights. 中国第一个经济特区 names a thing, with no list before it.
_LISTED_ORDINAL = (
    re.compile(rf"(?:的|中|之中|里|当中){_ZH_ORDINAL}"),
    re.compile(rf"\b{_EN_ORDINAL} of the\b", re.I),
)
# An ordinal anywhere in the question (第二个亮点具体指什么？, the second highlight): which item it
# asks for once the answer is known to be a list.
_ANY_ORDINAL = (re.compile(_ZH_ORDINAL), re.compile(rf"\bthe {_EN_ORDINAL}\b", re.I))


def _ordinal(question: str, patterns: tuple[re.Pattern[str], re.Pattern[str]]) -> int:
    """The place a Chinese or an English ordinal of ``patterns`` names (0 when none)."""
    q = fold(question)
    zh, en = patterns
    if m := zh.search(q):
        return cn_number(m.group(1))
    if m := en.search(q):
        return EN_ORDINALS[m.group(1).lower()]
    return 0


def asked_ordinal(question: str) -> int:
    """The place of the item a question asks for, wherever the ordinal stands (0 when none)."""
    return _ordinal(question, _ANY_ORDINAL)


def listed_ordinal(question: str) -> int:
    """Which item of a list the question asks for (0 when none): 重点工作的第一项是什么？ -> 1."""
    return _ordinal(question, _LISTED_ORDINAL)


_TOP_ZH = re.compile(
    rf"前([{CN_DIGITS}]{{1,3}}|\d{{1,2}})(?![{CN_DIGITS}\d])"
    r"(?!个?(?:月|年|天|日|周|季度|小时|分钟|届|次|批|轮|期))"
)
_TOP_EN = re.compile(
    r"\btop (two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\b(?! (?:percent|per\b|%))",
    re.IGNORECASE,
)
_ASKS_FIGURE = re.compile(r"多少|几成|比例|占比|份额是|how much|how many|what share", re.IGNORECASE)


def count_measure(question: str) -> str:
    """The measure word of the count a Chinese question asks for (哪三方面 -> 方面), or ""."""
    q = fold(question)
    for m in _ZH_COUNT.finditer(q):
        if requested_count(m.group(0)) >= 2:
            return m.group(2)
    return ""


# A sentence that is a list of its own: items joined by 、 and closed by the count with a measure
# word (公共就业服务机构、平台企业、新就业形态劳动者三方共同构成…), or a quoted slogan of items
# (“产品卓越、品牌卓著、创新领先、治理现代”). Items are short: a longer run between two 、 is
# a clause, not an item.
_INLINE_MEASURES = ("个", "项", "点", "条", "方面", "方", "者", "种", "类", "件", "部分", "大", "化",
                    "家", "位", "名", "支", "股", "力", "性")  # fmt: skip
_QUOTED = re.compile(r"“([^“”]{3,80})”")
_CLAUSE_BREAK = re.compile(r"[,;:。!?“”]")
_ITEM_CHARS = 20


def inline_list(sentence: str, count: int) -> str | None:
    """How ``sentence`` lists ``count`` items in itself: the measure word after them ("方" for
    A、B、C三方), "" for a quoted list of them, None when it holds no such list."""
    if not 2 <= count <= len(CN_DIGITS):
        return None
    text = fold(sentence)
    for quoted in _QUOTED.findall(text):
        parts = quoted.split("、")
        if len(parts) == count and all(0 < len(p) <= _ITEM_CHARS // 2 for p in parts):
            return ""
    numeral = CN_DIGITS[count - 1] if count != 2 else "两"
    for clause in _CLAUSE_BREAK.split(text):
        parts = clause.split("、")
        if len(parts) != count or not all(0 < len(p) <= _ITEM_CHARS for p in parts[:-1]):
            continue
        last = parts[-1]
        for measure in _INLINE_MEASURES:
            at = last.find(numeral + measure)
            if 0 < at <= _ITEM_CHARS:
                return measure
    return None


_WHOLE_LIST = re.compile(
    r"哪些|哪几|有何|包括什么|包含什么|which\b.*\b(?:are|were)\b|what are", re.I
)


def asks_for_list(question: str) -> bool:
    """The question asks for several things without a number (哪些, 哪几个, what are)."""
    return _WHOLE_LIST.search(fold(question)) is not None


# What something is like, why or how it came about, what it holds: answers that run over several
# sentences (迦楼罗是什么样子的？ 韩遂为什么要投靠羌人？ 黑龙江省博物馆经历了哪些发展？).
_DESCRIPTION_ASK = re.compile(
    r"什么样|怎样|怎么样|如何|为什么|为何|原因|特点|特征|外形|外观|经过|经历|过程|内容|背景|"
    r"影响|作用|由来|来历|评价|\bwhy\b|\bhow (?!many|much|long|old|far|large|big|high|tall|often)"
    r"\w+|\bdescribe\b|\bwhat (?:is|was|are|were) [^?]{1,60} like\b|\bfeatures?\b|"
    r"\bcharacteristics?\b|\bbackground\b|\bimpact\b",
    re.IGNORECASE,
)


def asks_description(question: str) -> bool:
    """The question asks what something is like, why or how: its answer may run over more
    sentences than a fact's."""
    return _DESCRIPTION_ASK.search(fold(question)) is not None


# ---- list items ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemMarker:
    """The marker opening an item of a list: its style and its number (``LAST`` for 最后)."""

    style: str
    number: int
    length: int  # characters of the marker in the folded text


LAST = 99
# 此外/另外 ("besides") close a 首先…其次… run as often as 最后 does (首先…其次…另外，新就业形态
# 劳动者参加培训积极性不高。); only with a comma after them, as 另外一些人 opens no item.
_SEQUENCE_WORDS = {
    "首先": 1,
    "其次": 2,
    "再次": 3,
    "然后": 3,
    "最后": LAST,
    "此外": LAST,
    "另外": LAST,
}
_N = rf"[{CN_DIGITS}]{{1,3}}"
_ITEM_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("其N", re.compile(rf"其({_N})[,、:;]")),
    ("第N", re.compile(rf"第({_N})[,、:;]")),
    # A ranking, one line a place: 第一名 雅驰电动，销量322万辆；
    ("第N名", re.compile(rf"第({_N})名(?![单称字额义誉次])")),
    ("N是", re.compile(rf"({_N})是(?![是的{CN_DIGITS}\d])")),
    ("N要", re.compile(rf"({_N})要[,:]")),
    ("N、", re.compile(rf"({_N})、")),
    ("(N)", re.compile(rf"\(({_N})\)")),
    ("1.", re.compile(r"(\d{1,2})(?:\.(?!\d)|、|\))")),
    ("首先", re.compile(r"(首先|其次|再次|然后|最后|(?:此外|另外)(?=[,:]))[,:]?")),
)


def item_marker(text: str) -> ItemMarker | None:
    """The list-item marker ``text`` opens with (after spaces), if any.

    Styles: 其一/其二, 第一/第二, 一是/二是, 一、二、, （一）（二）, 1. 2. / 1、2、, and
    首先/其次/再次/最后. Full-width and ASCII punctuation read alike.
    """
    folded = fold(text).lstrip()
    skipped = len(fold(text)) - len(folded)
    for style, pattern in _ITEM_PATTERNS:
        m = pattern.match(folded)
        if not m:
            continue
        token = m.group(1)
        number = _SEQUENCE_WORDS[token] if style == "首先" else cn_number(token)
        if number >= 1:
            return ItemMarker(style, number, skipped + m.end())
    return None
