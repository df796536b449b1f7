"""Scoring candidate sentences against a question: meaning, words, rank and answer type.

Every sentence of the retrieved chunks is a candidate. Four signals, each between 0 and 1:

* **dense**: the e5 model's cosine between the question (``query:``) and the sentence
  (``passage:``), min-max scaled over the candidates. It is the only signal that crosses
  languages well (an English question over Chinese text); all candidates go through the model
  in one batch.
* **lexical**: the share of the question's content words found in the sentence, words
  weighted by how rare they are among the candidates. Content words are jieba's words of the
  question (question words, particles and one-character function words out), found as
  substrings of the sentence (so 叶柄 counts in 其叶柄); every sentence also counts the words of
  its article's title, which it is about even where it leaves its subject out (本鱼体呈…), so
  the subject the question names tells an article's sentences apart no more than it should
  and the asked attribute does. An English question's words count through their CC-CEDICT
  translations (:mod:`rag.index.crosslingual`), one concept a word.
* **rank**: ``1 / r`` for the rank ``r`` of the sentence's chunk.
* **type**: the sentence holds something new of the kind asked for (a quantity for
  多少/how many, not a year or a number the question states; a date for 何时/when; an ordinal
  for 第几; a person for 谁/who, a place for 哪里/哪些地区/where, an organisation for
  哪个单位/哪些企业; a causal word such as 由于/因为/导致 for 为什么/why, or an inability such
  as 无法/难以 for why-not: 为什么不能/why can't; 得名/赐名 for where a name comes from; 被誉为/
  号称 for a title people give: 美誉, known as; 又名/简称 for another name: 又称之为什么, also
  called). A date, number, name
  or place counts fully only near one of the question's words, and a how-many question's
  number only before the word it counts (668万人 for 多少人); otherwise half.

The weights were tuned on the dev half of the project's question set and the tuning half of
the CMRC 2018 tune split only (docs/answers.md).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.embedding.base import Encoder
from rag.index.tokenize import has_han, tokenize
from rag.lexicon import ZH_QUESTION_CHARS, ZH_STOPWORDS, fold

EN_STOPWORDS = frozenset(
    "the a an of what which who whom how is are was were in on to and does do did for by with "
    "from at as be been it its this that these those there their they he she his her can could "
    "should would will many much according article".split()
)


@dataclass(frozen=True)
class Weights:
    """How much each signal adds to a sentence's score (tuned on dev data, see module doc)."""

    dense: float = 0.5
    lexical: float = 0.8
    rank: float = 0.6
    type: float = 0.3
    position: float = 0.0
    #: A supporting sentence is quoted when it scores at least this share of the lead's score.
    support: float = 0.5


# ---- answer types -----------------------------------------------------------------------------
# 什么是X？ / 何谓X？ / X是什么？ / X指的是什么？ with X a bare term: X的特点是什么 asks for an
# attribute, not a definition, and is left out by the 的.
_DEFINITION_ASK = re.compile(
    r"^(?:什么是|何谓|何为)(?P<a>[^的，,？?]{1,24})[？?]?\s*$|"
    r"^(?P<b>[^的，,？?]{1,16}?)(?:是什么|是指什么|指的?是什么)[？?]?\s*$"
)
# X的Y有什么特点？ X的Y是怎样的？: what Y of X is like (软枝黄蝉的花, 政策的适用范围). See
# :func:`describes`.
_ATTRIBUTE_ASK = re.compile(
    r"的(?P<y>[^的，,？?\s]{1,6}?)(?:有(?:什么|哪些|何)|是(?:什么样|怎样|怎么样|如何)|呈什么|什么样)"
)
_ASK_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "reason",
        re.compile(
            # 为什么 closing the question reads 为+什么 (表现为什么？ = "shows as what?").
            r"为什么(?![?？。!！\s]*$)|为何|什么原因|原因是|何以|怎么会|\bwhy\b|what causes?|"
            r"what caused",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"何时|什么时候|什么时间|哪一?年|哪一?天|哪个月|几月|几号|几日|哪个朝代|"
            # 逝世的时间是？ 成立日期为？ a date asked with no question word.
            r"(?:时间|日期|年份)(?:是|为)[?？]?$|的(?:时间|日期|年份)[?？]?$|"
            r"\bwhen\b|what year|what date|which year|what time|\bdeadline\b|\bdue date\b|"
            r"\bclosing date\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|多大|多高|多长|多久|多远|多重|(?<!第)几[个次名项家位岁倍种条年天]|比例|比重|"
            r"占比|百分之|how many|how much|how long|how old|what share|"
            r"what proportion|what percentage|what fraction|how far|"
            r"how (?:large|big|high|tall|deep|wide|heavy|fast)\b|"
            r"\bwhat (?:is|was|are|were) the (?:total )?(?:number|amount|area|size|population)\b",
            re.I,
        ),
    ),
    ("ordinal", re.compile(r"第几|\bwhat (?:place|position|rank)\b|\branked\b", re.I)),
    (
        # A court report's sentence: 被判了什么刑？ 判处几年？ What sentence did he get?
        "penalty",
        re.compile(
            r"判(?:了|处)?(?:什么|多少|多久|几年)|什么刑|何种刑|刑期|量刑|被判|判决结果|怎么判|"
            r"如何判|\bsentenced?\b|\bpenalt(?:y|ies)\b|\bpunish",
            re.I,
        ),
    ),
    (
        "org",
        re.compile(
            r"哪个单位|什么单位|哪家|哪个机构|什么机构|哪个组织|什么组织|哪个部门|哪个公司|"
            r"哪所|哪个课题组|哪个团队|哪个学校|哪个大学|which organi[sz]ation|"
            r"which company|which institution|affiliated|which body|which agency|which companies|"
            # 哪些平台企业, 什么机构: a which-word, a few characters, an organisation noun.
            r"(?:哪|什么)[^,，?？]{0,6}?(?:企业|公司|单位|机构|部门|组织|团体|银行|医院|协会|学校|大学)",
            re.I,
        ),
    ),
    (
        # How a name came about: 名字的由来, 因何得名, why is it called…
        "naming",
        re.compile(
            r"(?:名字|名称|名号|称号|地名|店名|校名)的?(?:由来|来历|来源|起源)|得名|"
            r"名字.{0,3}怎么来|为什么叫|为何叫|为什么被称为|为何被称为|怎么得名|如何得名|"
            r"\bnamed after\b|\borigin of (?:the|its|his|her) name\b|\bwhy is it called\b|"
            r"\bhow did .{1,40} get (?:its|his|her|their) name\b",
            re.I,
        ),
    ),
    (
        # A title people give: 美誉, 称号, 绰号; what is X known as?
        "epithet",
        re.compile(
            r"美誉|美称|雅号|绰号|外号|昵称|别称|别名|称号|誉为什么|被称为什么|被称作什么|人称什么|"
            # Another name: 又称之为什么？ 又名什么？ 简称是什么？
            r"[又也亦还][称名叫](?:之?为|作)?(?:什么|啥|何)|俗称|俗名|简称|"
            r"\bnickname|\bknown as\b|\bdubbed\b|\bepithet|\balso called\b|\bother names?\b|"
            r"\babbreviat",
            re.I,
        ),
    ),
    # What a thing does or is good for: 有什么作用？ 有什么好处？ What is it used for?
    (
        "use",
        re.compile(
            r"作用|用途|功能|功效|好处|益处|优点|优势|用处|有什么用|\bused for\b|\bpurpose\b|"
            r"\bbenefits?\b|\badvantages?\b|\bwhat (?:does|do|did) [^?]{1,40} do\b",
            re.I,
        ),
    ),
    # A colour: 身体是什么颜色的？ is answered by 体呈银灰色, not by the sentence naming the species.
    (
        "color",
        re.compile(r"什么颜色|哪种颜色|何种颜色|什么色|颜色(?:是|为)|\bwhat colou?rs?\b", re.I),
    ),
    # What a term is (什么是乡里制？, 牛车水是什么？, “一轴”指的是什么？): the sentence that
    # defines it (乡里制，是…; 牛车水（…）是新加坡的唐人街) answers, however few of its other
    # words the question repeats. See :func:`defined_term`.
    ("definition", _DEFINITION_ASK),
    ("attribute", _ATTRIBUTE_ASK),
    ("person", re.compile(r"谁|哪位|哪个人|哪些人|什么人|\bwho\b|\bwhom\b", re.I)),
    (
        "place",
        re.compile(
            r"哪里|哪儿|在哪|什么地方|何处|何地|哪个国家|哪个城市|哪个省|哪座|\bwhere\b|"
            r"(?:哪|什么)[^,，?？]{0,4}?(?:地区|地方|城市|省份|国家|区域|地点)",
            re.I,
        ),
    ),
)
# A quantity: digits (not a year, month or day: 2022年4月 dates a sentence, it counts nothing),
# a Chinese numeral before a measure word (20个, 两个, 三成; a lone 一 before a measure is mostly
# an article, 一种/一个), a fraction or an ordinal (第3名 answers 第几名).
_DIGITS = re.compile(r"(\d+(?:[.,]\d+)*)\s*([年月日号])?")
_CN_QUANTITY = re.compile(
    r"(?<![第一二三四五六七八九十两百千万亿半几数\d])"
    r"(?:[一二三四五六七八九十两百千万亿半几数]{2,}|[二三四五六七八九十两百千万亿半])"
    r"(?:[个家人元次倍成项名位座条种岁米亩吨斤届期批所克升度周天]|平方|公里|公尺|公分|厘米|毫米"
    r"|公斤|千克|小时|分钟|秒钟|年|个月)|分之"
)
_ORDINAL = re.compile(r"第[\d一二三四五六七八九十百]+")
_DATE = re.compile(
    r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[今去前明]年|世纪|年代|[一二三四五六七八九十]+月|"
    r"[〇零一二三四五六七八九]{4}年|朝|时期|期间"
)
_ORG = re.compile(
    r"[会院局部委厅处署司]$|公司|集团|大学|学校|学院|课题组|研究所|中心|银行|协会|团队|政府|组织"
)
_PLACE = re.compile(r"[省市县区州国镇村岛山河湖海]$|北京|上海|天津|重庆|香港|澳门")
# 我国, 全国, 各省, 该市: a pronoun or a quantifier before 国/省/市 names no place.
_NOT_PLACE = re.compile(r"^[我本该全各两外他此某异跨多邻]")
# A reason is stated with a causal word in Chinese news (由于…, 因为…, 原因在于…, 导致…, 担心…).
_REASON = re.compile(
    r"因为|由于|原因|导致|造成|因此|所以|以致|致使|使得|在于|担心|缘于|源于|之所以|受限于|受制于|"
    r"鉴于|出于|归因于|归咎于|制约"
)
# A name's origin: 因…而得名, 以…命名, 赐名, 名称源于… .
_NAMING = re.compile(
    r"得名|命名|赐名|取名|起名|定名|改名|更名|故名|之名|名称源|名字源|名称的?(?:由来|起源|来历)|名字的?(?:由来|来历)"
)
# A title given: 被誉为, 号称, 人称, 有…之称, 美誉.
_EPITHET = re.compile(
    r"誉为|称为|号称|人称|称作|被称|美誉|美称|雅号|绰号|外号|昵称|别称|别名|之称|尊称|并称|称号|"
    r"又名|又称|亦称|也称|俗称|俗名|简称|又叫|也叫"
)
_USE = re.compile(
    r"用于|用作|用来|用以|可用|可供|有助于|有利于|功效|功能|作用|主治|治疗|防治|克服|提高|提升|"
    r"增强|改善|减少|降低|避免|防止|以便|使得|得以|能够|可以"
)
_COLOR = re.compile(r"[红橙黄绿青蓝紫黑白灰褐棕金银粉赤乳米]{1,3}色|彩色|透明")
_PENALTY = re.compile(r"有期徒刑|无期徒刑|死刑|死缓|拘役|管制|罚金|罚款|缓刑|剥夺政治权利|没收")
_POS_TYPES = {"person": ("nr",), "place": ("ns",), "org": ("nt",)}
_NEGATIVE_WHY = re.compile(
    r"(?:为什么|为何|怎么)[^,?？]{0,12}(?:不能|无法|不会|难以|不肯|未能|没能|没有|不)|"
    r"\bwhy\b[^?]{0,12}\b(?:can'?t|cannot|couldn'?t|won'?t|wouldn'?t|don'?t|doesn'?t|didn'?t|"
    r"isn'?t|aren'?t|not|fail)",
    re.I,
)
_INABILITY = re.compile(r"无法|不能|难以|未能|不足以|不适应|不适合|不愿|不肯|缺乏|欠缺")


def asked_types(question: str) -> tuple[str, ...]:
    """Everything the question asks for, in this order: reason, date, number, ordinal, penalty,
    org, naming, epithet, use, color, definition, attribute, person, place (在哪里、什么时间召开
    asks for a date and a place)."""
    q = fold(question)
    kinds = tuple(name for name, pattern in _ASK_TYPES if pattern.search(q))
    # A why-question's other question words serve the reason (为什么这么多人…).
    if kinds[:1] == ("reason",):
        # Why can't X…? is answered by what X cannot do and why: 工伤保险制度建立在稳定劳动关系
        # 基础之上，无法适应平台用工… states the reason with no causal word.
        return ("reason_not",) if _NEGATIVE_WHY.search(q) else kinds[:1]
    if "use" in kinds:
        # X的效率有什么好处？ asks what it is good for, not what the efficiency is like.
        kinds = tuple(k for k in kinds if k != "attribute")
    return kinds


def asks_reason(question: str) -> bool:
    """Whether the question asks why (or why not)."""
    return bool({"reason", "reason_not"}.intersection(asked_types(question)))


_QUOTE_MARKS = "“”\"'‘’「」『』《》"


@lru_cache(maxsize=1024)
def defined_term(question: str) -> str:
    """The term a what-is question asks to define, without quote marks ("" for none)."""
    m = _DEFINITION_ASK.match(fold(question).strip())
    if m is None:
        return ""
    return (m.group("a") or m.group("b") or "").strip().strip(_QUOTE_MARKS).lower()


@lru_cache(maxsize=1024)
def asked_attribute(question: str) -> str:
    """What of a thing the question asks to describe (软枝黄蝉的花有什么特点？ → 花), or ""."""
    m = _ATTRIBUTE_ASK.search(fold(question))
    return m.group("y").lower() if m else ""


# A clause that opens with the attribute and goes on to say what it is or has (花为聚繖花序顶生,
# 叶为披针形, 种子长约2厘米), not a word that merely starts with it (花期为3-8月).
_CLAUSE_START = re.compile(r"(?:^|[；;。])\s*")
_DESCRIBES = "为呈是有长具较多生分约:：0123456789一二三四五六七八九十两"


def describes(text: str, attribute: str) -> bool:
    """Whether a clause of the sentence opens with ``attribute`` (叶子 read as 叶 too) and
    goes on to describe it."""
    if not attribute:
        return False
    forms = {attribute}
    if len(attribute) > 1 and attribute[-1] in "子儿":
        forms.add(attribute[:-1])
    t = folded(text)
    for m in _CLAUSE_START.finditer(t):
        for form in forms:
            after = t[m.end() + len(form) : m.end() + len(form) + 1]
            if t.startswith(form, m.end()) and after and after in _DESCRIBES:
                return True
    return False


# After the term: a gloss in brackets at most, then a copula within a short stretch.
_COPULA_AFTER = re.compile(r"(?:[(（][^)）]*[)）])?[^。!?；;]{0,20}?(?:是|为|指|即|系|乃)")


def defines(text: str, term: str) -> bool:
    """Whether a sentence opens by defining ``term``: the term (quoted or not, after 所谓),
    an optional gloss in brackets, then within a short stretch a copula (乡里制，是…; 牛车水（；）
    是新加坡的唐人街; 所谓标准杆，是指…; 放线菌酮又称…，为…)."""
    t = folded(text).lstrip(_QUOTE_MARKS)
    if t.startswith("所谓"):
        t = t[2:].lstrip(_QUOTE_MARKS)
    if not term or not t.startswith(term):
        return False
    return _COPULA_AFTER.match(t[len(term) :].lstrip(_QUOTE_MARKS)) is not None


# X位于哪里？ X在什么地方？ X是位于哪个国家？: where a named thing is. See :func:`locates`.
_LOCATION_ASK = re.compile(
    r"^(?P<x>[^的，,？?\s]{2,16}?)(?:是|目前)?(?:位于|坐落于|坐落在|地处|位在|在)"
    r"(?:哪里|哪儿|何处|何地|什么地方|(?:哪个|哪一个|哪座|哪|什么)(?:国家|城市|省份?|地区|地方|区域|"
    r"位置|州|县|市|镇|乡|村|岛))呢?[？?]?\s*$"
)
# What says where a thing is once it is named: 乌石渔港是位于台湾宜兰县…, 牛车水…位于新加坡.
_LOCATED = re.compile(r"位于|地处|坐落|位在|地址")
# A place name right before the thing: 浙江省丽水市松阳县青山村.
_PLACE_BEFORE = "省市县区镇乡州国"


@lru_cache(maxsize=1024)
def located_term(question: str) -> str:
    """The thing a where-question asks the place of (乌石渔港在哪里？ → 乌石渔港), or ""."""
    m = _LOCATION_ASK.match(fold(question).strip())
    term = m.group("x").strip(_QUOTE_MARKS).lower() if m else ""
    # 该校位于哪个城市？ names the thing by a pronoun, which no sentence opens with; 分布在哪些
    # 地区, 生活在什么地方, 体现在哪里 ask where something happens or shows, not where a thing is.
    if term[:1] in _PRONOUN_START or _NOT_LOCATION.search(term):
        return ""
    return term


_PRONOUN_START = frozenset("该此这那其本它他她")
_NOT_LOCATION = re.compile(
    r"(?:分布|栖息|生活|体现|表现|生长|出生|居住|发生|举行|举办|召开|工作|学习|出现|存在|活动|"
    r"住|死|葬|用|见)$"
)


def locates(text: str, term: str, places: Iterable[str] = ()) -> bool:
    """Whether a sentence says where ``term`` is: it opens with the term and goes on to say
    where it lies (位于, 地处, 坐落), a place name comes right before it (松阳县青山村), or one
    of the sentence's ``places`` right after it and 在 or 于 (十八大在北京胜利召开)."""
    if not term:
        return False
    t = folded(text).lstrip(_QUOTE_MARKS)
    if t.startswith(term) and _LOCATED.search(t, len(term)):
        return True
    at = t.find(term)
    if at > 0 and t[at - 1] in _PLACE_BEFORE:
        return True
    after = _IN_PLACE.match(t, at + len(term)) if at >= 0 else None
    return after is not None and any(t.startswith(p.lower(), after.end()) for p in places)


_IN_PLACE = re.compile(r"(?:[(（][^)）]*[)）])?(?:是|则|也|将|已|目前)?(?:位于|在|于)")


def asked_type(question: str) -> str:
    """What the question asks for first: reason, date, number, ordinal, org, person, place
    or ""."""
    kinds = asked_types(question)
    return kinds[0] if kinds else ""


# Sentences are immutable and the same passages come back question after question, so their
# tokens and answer-type checks are computed once per text (bounded, least recently used out):
# jieba's segmentation and tagging were most of the answer stage's cost (docs/answers.md).
_TEXT_CACHE = 50_000


@lru_cache(maxsize=_TEXT_CACHE)
def folded(text: str) -> str:
    """A sentence or title as words are looked for in it (NFKC, lower case), cached."""
    return fold(text).lower()


@lru_cache(maxsize=_TEXT_CACHE)
def sentence_tokens(text: str) -> frozenset[str]:
    """The distinct tokens of a sentence (:func:`rag.index.tokenize.tokenize`), cached."""
    return frozenset(tokenize(text))


@lru_cache(maxsize=_TEXT_CACHE)
def type_tokens(text: str, kind: str) -> frozenset[str]:
    """What a sentence holds of the asked ``kind``: the numbers, dates, names, places,
    organisations or causal words found in it (cheap surface tests first), cached."""
    t = fold(text)
    if kind == "number":
        found = {m.group() for m in _CN_QUANTITY.finditer(t)}
        for m in _DIGITS.finditer(t):
            unit = m.group(2)
            if unit and (unit != "年" or len(m.group(1)) == 4):
                continue  # a date, not a quantity
            if t[max(0, m.start() - 1) : m.start()] == "第":
                continue  # an ordinal: 第十八次 counts nothing
            found.add(m.group(1))
        return frozenset(found)
    if (pattern := _PATTERN_KINDS.get(kind)) is not None:
        return frozenset(m.group() for m in pattern.finditer(t))
    if kind == "reason_not":
        return frozenset(m.group() for m in (*_REASON.finditer(t), *_INABILITY.finditer(t)))
    if kind in _POS_TYPES:
        flags = _POS_TYPES[kind]
        suffix = {"org": _ORG, "place": _PLACE}.get(kind)
        found = (
            w for w, flag in _tagged(t)
            if flag.startswith(flags) or (suffix is not None and len(w) >= 2 and suffix.search(w))
        )  # fmt: skip
        if kind == "place":
            found = (w for w in found if not (len(w) <= 3 and _NOT_PLACE.match(w)))
        return frozenset(found)
    return frozenset()


# Kinds a sentence holds by what a pattern finds in it.
_PATTERN_KINDS = {
    "ordinal": _ORDINAL,
    "date": _DATE,
    "reason": _REASON,
    "penalty": _PENALTY,
    "naming": _NAMING,
    "epithet": _EPITHET,
    "color": _COLOR,
    "use": _USE,
}


@lru_cache(maxsize=_TEXT_CACHE)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    import jieba.posseg as pseg  # only for who/where/which-organisation questions

    return tuple((p.word, p.flag) for p in pseg.lcut(text))


def holds_type(text: str, kind: str) -> bool:
    """Whether a sentence holds something of the asked ``kind``."""
    return bool(type_tokens(text, kind))


def type_score(
    text: str,
    kinds: Sequence[str],
    question: str,
    counted: Sequence[str] = (),
    words: Sequence[str] = (),
) -> float:
    """Share of the asked kinds the sentence holds something new of: a number, name or place
    the question already states (2022年 in 2022年有多少…) answers nothing. When the question
    names what it counts (多少城市, how many people: ``counted``), a number counts fully only
    with that word right after it (20个城市, 668万人), half otherwise. Given the question's
    content ``words``, a date, number, name or place counts fully only near one of them
    (试点于去年7月启动 for when did the pilot start), :data:`NEAR_WEIGHT` otherwise. A
    sentence saying where the thing a where-question names is (:func:`locates`), or defining
    the term a what-is question asks (:func:`defines`), counts :data:`RELATION_WEIGHT`, so the
    share may exceed 1."""
    if not kinds:
        return 0.0
    q = fold(question)
    t = folded(text)
    held = 0.0
    for kind in kinds:
        if kind == "definition":
            held += RELATION_WEIGHT if defines(text, defined_term(question)) else 0.0
            continue
        if kind == "attribute":
            held += 1.0 if describes(text, asked_attribute(question)) else 0.0
            continue
        if kind == "place" and (term := located_term(question)):
            # Where a named thing is: the sentence locating it answers; another place near the
            # thing's name (its history, its neighbours) at most half.
            if locates(text, term, type_tokens(text, kind)):
                held += RELATION_WEIGHT
                continue
            cap = NEAR_WEIGHT
        else:
            cap = 1.0
        new = [tok for tok in type_tokens(text, kind) if not _states(q, tok)]
        if not new:
            continue
        if kind == "number" and counted and COUNTED_WEIGHT < 1:
            near = _near(t, new, counted, before=0, after=_COUNTED_WINDOW)
            got = 1.0 if near else COUNTED_WEIGHT
        elif kind in _LISTED_KINDS and len(set(new)) >= LISTED_AT_LEAST:
            # A sentence naming several places (people, organisations) is a list of them: it
            # answers 分布在哪些地区 in itself, where articles leave the subject out (中国大陆的
            # 云南、菲律宾、吕宋以北…), so no question word stands near them.
            got = 1.0
        elif kind not in _WORDED_KINDS and words and NEAR_WEIGHT < 1:
            near = _near(t, new, words, before=NEAR_WINDOW, after=NEAR_WINDOW)
            got = 1.0 if near else NEAR_WEIGHT
        else:
            got = 1.0
        held += min(got, cap)
    return held / len(kinds)


NEAR_WEIGHT = 0.5
# A sentence stating the precise relation asked (where the named thing is, what the term is)
# outweighs one that merely holds a place or mentions the term: it counts double (tuned on the
# CMRC tuning half and the news tuning sets, docs/answers.md).
RELATION_WEIGHT = 2.0
# Kinds a sentence holds by a word of its own (由于, 得名, 被誉为), not by a value that should
# stand near the question's words.
_WORDED_KINDS = frozenset({"reason", "reason_not", "naming", "epithet", "color", "use"})
LISTED_AT_LEAST = 3
_LISTED_KINDS = frozenset({"place", "person", "org"})
NEAR_WINDOW = 8
COUNTED_WEIGHT = 0.5
_COUNTED_WINDOW = 6
# 多少城市, 几个省市, 多少人: the word a how-many question counts comes right after it.
_COUNT_ASK = re.compile(r"(?:多少|几)[个位家名项次条座所种批]?")
# What a Chinese sentence puts after the number where an English question counts these nouns:
# a classifier (3次, 5家), which no dictionary gives as the noun's translation.
_EN_MEASURES = {
    "times": ("次",), "people": ("人", "名"), "persons": ("人", "名"), "members": ("名", "人"),
    "companies": ("家",), "enterprises": ("家",), "firms": ("家",), "platforms": ("家",),
    "items": ("项", "个"), "points": ("点", "个"), "years": ("年",), "days": ("天", "日"),
    "months": ("个月",), "hours": ("小时",),
}  # fmt: skip
_EN_COUNT_ASK = re.compile(r"how (?:many|much) ([a-z]+)", re.I)


def counted_words(
    question: str, candidate_tokens: Sequence[frozenset[str]] = ()
) -> tuple[str, ...]:
    """What a how-many question counts (城市 in 多少城市; people's translations in how many
    people), or nothing."""
    q = fold(question)
    m = _COUNT_ASK.search(q)
    if m:
        from rag.index.tokenize import jieba_tokenizer

        rest = q[m.end() :]
        words = [w for w in jieba_tokenizer().lcut(rest) if w.strip()]
        word = words[0] if words else ""
        if word and has_han(word) and word not in ZH_STOPWORDS and word not in _FUNCTION_CHARS:
            return (word,)
        return ()
    m = _EN_COUNT_ASK.search(q)
    if m and m.group(1) not in EN_STOPWORDS:
        from rag.index.crosslingual import DICTIONARY

        vocabulary = set().union(*candidate_tokens) if candidate_tokens else set()
        noun = m.group(1).lower()
        return _EN_MEASURES.get(noun, ()) + DICTIONARY.translate(noun, vocabulary).terms
    return ()


def _near(
    text: str, tokens: Sequence[str], words: Sequence[str], *, before: int, after: int
) -> bool:
    """Whether one of ``words`` occurs within ``before`` characters ahead of an occurrence of
    one of ``tokens`` in ``text``, or within ``after`` characters past its end."""
    return any(
        any(w in text[max(0, i - before) : i + len(tok) + after] for w in words)
        for tok in tokens
        for i in _positions(text, tok.lower())
    )


def _positions(text: str, token: str) -> list[int]:
    out, i = [], text.find(token)
    while i >= 0:
        out.append(i)
        i = text.find(token, i + 1)
    return out


def _states(question: str, token: str) -> bool:
    """The question holds ``token`` (a number only as a whole: 20 is not in 2022)."""
    if not token[:1].isdigit():
        return token in question
    return re.search(rf"(?<![\d.]){re.escape(token)}(?![\d.])", question) is not None


# ---- lexical overlap ----------------------------------------------------------------------------
#: Han characters that carry grammar, not content: a one-character question word made of
#: anything else (高, 食, 花) is kept, at half weight, since it is often the question's focus.
_FUNCTION_CHARS = frozenset(
    "的是有在了和与及为被将把对于从以其之而或也都就又还会能要让给由向等这那个中上下着过地得所"
    "此该各每已并但则即令使我你他她它们"
)
_SINGLE_WEIGHT = 0.5


#: Nouns that only complete the question word (什么时间 = when, 什么地方 = where): the answer
#: states a date or a place, not the noun.
_ASK_NOUNS = frozenset("时间 时候 地方 地点 原因 样子 东西".split())
_ASK_WORDS = frozenset("什么 哪个 哪些 哪一 哪 啥".split())


def _unglue_copula(tokens: list[str], dictionary: dict[str, int]) -> list[str]:
    """Undo jieba's guess that glues the copula 是 to a word it does not know.

    中国工会十八大是在哪里召开的？ cuts as 十八 + 大是: 大是 then matches only a sentence that
    restates the question (十八大是在…召开的一次重要大会), not the one with the answer (十八大在北京
    召开). The guessed word loses its 是, and a single character left over rejoins the word
    before it (十八 + 大 -> 十八大).
    """
    out: list[str] = []
    for token in tokens:
        if (
            len(token) >= 2
            and token.endswith("是")
            and has_han(token)
            and not dictionary.get(token)
        ):
            stem = token[:-1]
            if len(stem) == 1 and out and has_han(out[-1]):
                out[-1] += stem
            else:
                out.append(stem)
            out.append("是")
        else:
            out.append(token)
    return out


@lru_cache(maxsize=4096)
def _question_words(question: str) -> tuple[str, ...]:
    """A Chinese question's content words: jieba words, question words and particles out."""
    from rag.index.tokenize import jieba_tokenizer

    tokenizer = jieba_tokenizer()
    words: list[str] = []
    previous = ""
    for w in _unglue_copula(tokenizer.lcut(fold(question).lower()), tokenizer.FREQ):
        w, before = w.strip(), previous
        previous = w or previous
        if not w or w in ZH_STOPWORDS or w in EN_STOPWORDS:
            continue
        if any(ch in ZH_QUESTION_CHARS for ch in w) or not any(ch.isalnum() for ch in w):
            continue
        if has_han(w) and len(w) == 1 and w in _FUNCTION_CHARS:
            continue
        if w in _ASK_NOUNS and before in _ASK_WORDS:
            continue
        words.append(w)
    return tuple(dict.fromkeys(words))


def question_concepts(
    question: str, candidate_tokens: Sequence[frozenset[str] | set[str]]
) -> list[tuple[tuple[str, ...], float]]:
    """The question's content words as concepts: the surface forms that count as the word in
    a sentence, and the word's own weight (a single Han character counts half).

    A Chinese question's words stand for themselves; an English question's content words
    stand for their CC-CEDICT translations found among the candidates, one concept a word, so
    a word with many translations weighs no more than a word with one.
    """
    from rag.index.crosslingual import DICTIONARY

    if has_han(question):
        vocabulary = set().union(*candidate_tokens) if candidate_tokens else set()
        # An acronym counts where the sentence writes out what it stands for (GDP: 国内生产总值).
        acronyms = DICTIONARY.acronym_terms(question, vocabulary)
        return [((w, *acronyms.get(w, ())),
                 _SINGLE_WEIGHT if has_han(w) and len(w) == 1 else 1.0)
                for w in _question_words(question)]  # fmt: skip

    vocabulary = set().union(*candidate_tokens) if candidate_tokens else set()
    concepts = []
    # Each word's terms as translated in the question (a name read as pinyin is one only there).
    for forms in DICTIONARY.translate(question, vocabulary, phrases_give_way=False).forms:
        if forms:
            concepts.append((forms, 1.0))
    # A number is written the same in both languages, a year with 年 after it (in April 1992:
    # 1992年4月); no dictionary holds them.
    for number in dict.fromkeys(_EN_NUMBER.findall(question)):
        forms = tuple(f for f in (number, f"{number}年") if f in vocabulary)
        if forms:
            concepts.append((forms, 1.0))
    return concepts


_EN_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def question_terms(
    question: str, candidate_tokens: Sequence[frozenset[str] | set[str]]
) -> set[str]:
    """The question's content words; an English question's through their CC-CEDICT translations
    (only translations found among the candidates count)."""
    return {f for forms, _ in question_concepts(question, candidate_tokens) for f in forms}


def overlaps(
    question: str,
    texts: Sequence[str],
    titles: Sequence[str] | None = None,
    concepts: Sequence[tuple[tuple[str, ...], float]] | None = None,
) -> list[float]:
    """Share of the question's content words found in each text, words weighted by rarity (0..1).

    A word counts when the sentence contains it (as a substring of the folded text, so a word
    jieba cuts differently in the sentence, 叶柄 in 其叶柄, still counts), or when the title
    of its article does (``titles``, one per text); a word found in every candidate tells them
    apart no better than none.
    """
    texts_folded = [folded(t) for t in texts]
    if titles is not None:
        texts_folded = [
            t + "\n" + folded(title) for t, title in zip(texts_folded, titles, strict=True)
        ]
    if concepts is None:  # not worked out by the caller (:func:`question_concepts`)
        token_sets = [] if has_han(question) else [sentence_tokens(t) for t in texts]
        concepts = question_concepts(question, token_sets)
    if not concepts:
        return [0.0] * len(texts)
    n = len(texts)
    present = [[any(f in t for f in forms) for t in texts_folded] for forms, _ in concepts]
    weights = [
        base * math.log(1 + (n + 1) / (sum(found) + 0.5))
        for (_, base), found in zip(concepts, present, strict=True)
    ]
    total = sum(weights)
    return [
        sum(w for w, found in zip(weights, present, strict=True) if found[i]) / total
        for i in range(n)
    ]


# ---- dense similarity ---------------------------------------------------------------------------
class SentenceVectors:
    """Sentence vectors computed on first use and kept (bounded, least recently used out).

    Encoding every candidate of every question costs one batched model call per question;
    sentences of popular passages come back again and again, so their vectors are kept, keyed
    by the model's name, its runtime and the text. Measured in docs/answers.md. (The runtime is
    part of the key: fp32 and int8 vectors of one model differ a little, and a process holding
    both, as the test suite does, scored one model's sentences against the other's question.)
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        name = (
            f"{getattr(encoder, 'name', type(encoder).__name__)}|{getattr(encoder, 'runtime', '')}"
        )
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (name, t) not in self._vectors]
        if missing:
            fresh = np.asarray(encoder.encode_documents(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._vectors[(name, t)] = v
                while len(self._vectors) > self.capacity:
                    self._vectors.popitem(last=False)
        with self._lock:
            for t in texts:
                if (name, t) in self._vectors:
                    self._vectors.move_to_end((name, t))
            return np.stack([self._vectors[(name, t)] for t in texts])


SENTENCE_VECTORS = SentenceVectors()


def dense_similarities(encoder: Encoder | None, question: str, texts: Sequence[str]) -> list[float]:
    """Cosine of question and each text, min-max scaled to 0..1 (all zero without an encoder)."""
    if encoder is None or not texts:
        return [0.0] * len(texts)
    q = np.asarray(encoder.encode_queries([question]), dtype=np.float32)[0]
    s = SENTENCE_VECTORS.get(encoder, texts)
    cos = s @ q
    lo, hi = float(cos.min()), float(cos.max())
    if hi - lo < 1e-6:
        return [1.0] * len(texts)
    return [float(v) for v in (cos - lo) / (hi - lo)]
