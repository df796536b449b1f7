"""Metadata lines of Chinese news and government pages, and taking them out of the body.

Sites print an article's metadata as short lines around the body rather than (only) in
machine-readable tags: ``2023年10月26日08:15 | 来源：人民网－人民日报``, ``发布时间：2023-10-26
来源：市政府办公厅 作者：张三``, ``分享到：微信 微博`` under the title, ``（责任编辑：李四）`` or
``【打印】【关闭】`` under the body. A dateline names the reporter: ``本报北京10月25日电（记者
张三）``. These rules hold for such pages generally; none is fitted to one site.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.parsing.dates import SIGNATURE_LINES, SIGNED_LINE, parse_date

_HAN = r"\u4e00-\u9fff"
# A metadata line is short and starts with (or holds, after a date) a label and a colon, or
# one of the page's tool links.
_LABELS = (
    "来源|作者|记者|撰稿|编辑|责编|责任编辑|审核|校对|监制|发布时间|发布日期|发布机构|"
    "发文机关|成文日期|时间|日期|稿源|出处|浏览次数|阅读量|点击数|字号"
)
_TOOLS = "分享到|扫一扫|打印本页|关闭窗口|【打印】|【关闭】|【字体"
_TOOL = re.compile(_TOOLS)
_META_LINE = re.compile(rf"^[\s(（【\[]*(?:(?:{_LABELS})\s*[:：]|{_TOOLS})")
_LABEL_ANYWHERE = re.compile(rf"(?:{_LABELS})\s*[:：]")
_DATE_START = re.compile(r"^\s*(?:19|20)\d{2}\s*[-/.年]")
META_LINE_MAX_CHARS = 80
_AUTHOR = re.compile(rf"(?:作者|撰稿)\s*[:：]\s*([{_HAN}·]{{2,4}}(?:[\s、,，]+[{_HAN}·]{{2,4}})*)")
_REPORTER = re.compile(
    rf"[（(]\s*(?:本报|本刊)?记者\s*([{_HAN}·]{{2,4}}(?:[\s、]+[{_HAN}·]{{2,4}})*)\s*[）)]"
)
# Roles a byline names beside the reporters' names: （记者 赵静 通讯员 孙立波）.
_ROLES = frozenset("通讯员 实习生 见习记者 特约记者 记者 摄影 摄".split())
# A speech or a work report names its speaker under the title, by office: 江川省省长 陈立华.
SPEAKER_LINE = re.compile(
    rf"^[ \t\u3000]*([{_HAN}]{{2,24}}?(?:省长|市长|县长|区长|主席|书记|部长|局长|厅长|主任|总理|"
    rf"委员长|院长|校长|董事长|总经理|总裁|行长|会长|理事长|秘书长|检察长))[ \t\u3000]+"
    rf"([{_HAN}·]{{2,4}})[ \t\u3000]*$",
    re.MULTILINE,
)
_ORIGIN = re.compile(r"(?:来源|稿源)\s*[:：]\s*([^\s|｜]+)")
# The editor a Chinese news page names under or over the body: （责任编辑：李四）, 责编：王五,
# 【编辑：赵六 校对：孙七】 (only the names after the label, up to the next label or bracket).
_EDITOR = re.compile(
    rf"(?:责任编辑|责编|(?<![总主副])编辑)\s*[:：]\s*([{_HAN}·]{{2,4}}(?:[ \t、,，]+[{_HAN}·]{{2,4}})*)"
)


@dataclass(frozen=True)
class LineMeta:
    """What the metadata lines around a body said."""

    authors: tuple[str, ...] = ()
    published: str = ""
    origin: str = ""  # 来源: the publication the article comes from
    editors: tuple[str, ...] = ()  # 责任编辑: the editors the page names


def is_meta_line(line: str) -> bool:
    """A short line made of labels (来源：…, 发布时间：…, 责任编辑：…, 分享到…)."""
    s = line.strip()
    if not s or len(s) > META_LINE_MAX_CHARS:
        return False
    if s.endswith(("？", "?")):
        return False  # 记者：这项成果最大的突破在哪里？ is an interviewer's turn, not a byline
    if _META_LINE.match(s):
        return True
    # "2023年10月26日08:15 | 来源：…": a date first, then labels.
    if not _DATE_START.match(s) or not parse_date(s):
        return False
    return len(s) <= 25 or _LABEL_ANYWHERE.search(s) is not None


def credit_line(line: str) -> bool:
    """A metadata line that credits the article (its author, date, source or editor: 2024年04月
    25日 14:06 东方财讯网 作者：赵一鸣, （责任编辑：李四）), as opposed to page tools (分享到,
    【打印】) or counters (浏览次数)."""
    if not is_meta_line(line) or any(mark in line for mark in "。！？!?"):
        return False  # 2023年10月26日，市政府召开会议。 is a sentence of the body
    if _TOOL.search(line):
        # A date line with the share links beside it (…来源：人民网 分享到：微信): the element
        # holding both holds each as an element of its own, and that one is the credit line.
        return False
    said = read_meta([line])
    return bool(said.authors or said.published or said.origin or said.editors)


def split_meta_lines(
    lines: list[str], title: str = "", edge: int = 4
) -> tuple[list[int], LineMeta]:
    """Indexes of the lines that are metadata (among the first and last ``edge`` lines, and a
    repeat of the title at the top), and what they say.

    A reporter named in a dateline (``…电（记者张三）``) counts as an author; the dateline stays
    in the body, being part of the article's first sentence.
    """
    drop: list[int] = []
    n = len(lines)
    for i, line in enumerate(lines):
        near_edge = i < edge or i >= n - edge
        if not near_edge:
            continue
        s = line.strip()
        if i < edge and title and squash(s) == squash(title) or is_meta_line(s):
            drop.append(i)
    # A dateline's reporters open the article; a closing （本报记者 陈曦 通讯员 刘畅） ends it.
    edges = "\n".join(lines[:edge] + lines[-edge:])
    return drop, read_meta([lines[i] for i in drop], edges)


def read_meta(meta_lines: list[str], edges: str = "") -> LineMeta:
    """What metadata lines say: the author (else the reporters of a byline in ``edges``), the
    first date a line gives, and the 来源."""
    meta_text = "\n".join(meta_lines)
    authors: tuple[str, ...] = ()
    if m := _AUTHOR.search(meta_text):
        authors = tuple(re.split(r"[\s、,，]+", m.group(1)))
    elif m := _REPORTER.search(edges):
        authors = tuple(n for n in re.split(r"[\s、]+", m.group(1)) if n not in _ROLES)
    elif m := SPEAKER_LINE.search(edges):
        authors = (m.group(2),)
    published = ""
    for line in meta_lines:
        if published := parse_date(line):
            break
    origin = m.group(1) if (m := _ORIGIN.search(meta_text)) else ""
    return LineMeta(authors=authors, published=published, origin=origin, editors=editors(meta_text))


def editors(text: str) -> tuple[str, ...]:
    """The names a metadata line gives as the article's editors (（责任编辑：李四 王五） →
    李四, 王五); a role word after them (校对, 审核) is no name."""
    m = _EDITOR.search(text)
    if m is None:
        return ()
    names = [n for n in re.split(r"[ \t、,，]+", m.group(1)) if n]
    return tuple(n for n in names if not _LABEL_WORD.match(n))


_LABEL_WORD = re.compile(rf"(?:{_LABELS})")


def squash(text: str) -> str:
    """``text`` without any whitespace: how lines printed with different spacing compare."""
    return re.sub(r"\s+", "", text)


# ---- an official document's signature (落款) ---------------------------------------------------
# The body that signs a notice, a circular or an opinion names itself on a short line of its own
# above the date: 南京市鼓楼区住房保障和房产局 / 2024年5月20日 (or on the date's line, when a
# paragraph's lines were joined: 国务院办公厅 2024年1月15日).
_ISSUER = re.compile(
    r"(?:[局委部厅办院会署处室所司]|政府|委员会|办公室|办公厅|中心|公司|集团|银行|小组|指挥部)"
    r"(?:[（(]\S{1,12}[）)])?$"
)
_ISSUER_MAX_CHARS = 40


@dataclass(frozen=True)
class Signature:
    """Who signed a document and when, and the span of ``text`` that says so."""

    issuer: str
    published: str  # YYYY-MM-DD
    start: int
    end: int


def read_signature(text: str) -> Signature | None:
    """The issuer and date an official document closes with, or None when its last lines are
    no such signature (a news article ends with a sentence, or an editor's note)."""
    lines: list[tuple[int, int]] = []  # the last non-empty lines, as (start, end), last first
    end = len(text)
    while end > 0 and len(lines) < SIGNATURE_LINES:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            lines.append((start, end))
        end = start - 1
    # Each line's span without the spaces around it: a citation quotes the signature itself.
    lines = [(start + len(raw) - len(raw.lstrip()), start + len(raw.rstrip()))
             for start, end in lines for raw in (text[start:end],)]  # fmt: skip
    for i, (start, end) in enumerate(lines):
        line = unicodedata.normalize("NFKC", text[start:end])
        if not SIGNED_LINE.match(line):
            continue
        published = parse_date(line)
        before_date = re.split(r"(?:19|20)\d{2}\s*年", line, maxsplit=1)[0].strip()
        if before_date:  # 国务院办公厅 2024年1月15日 on one line
            return _signed(before_date, published, start, end)
        if i + 1 < len(lines):
            above = lines[i + 1]
            issuer = unicodedata.normalize("NFKC", text[above[0] : above[1]])
            return _signed(issuer, published, above[0], end)
        return None
    return None


def _signed(issuer: str, published: str, start: int, end: int) -> Signature | None:
    if len(issuer) > _ISSUER_MAX_CHARS or re.search(r"[。！？!?，,；;:：]", issuer):
        return None
    if not _ISSUER.search(issuer) or not published:
        return None
    return Signature(issuer, published, start, end)
