"""Enumeration-aware expansion: "what are the four highlights" needs all four items.

Ranking chunks by similarity rarely puts every item of a list near the top. When a query
asks for N things and a retrieved chunk opens or belongs to an enumeration (``其一…其四``,
``第一…第四``, ``一是…四是``), the chunks holding the other items of the same document are
pulled up right behind it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.types import Chunk

_CN_DIGITS = "一二三四五六七八九十"
_EN_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# Ordinal markers that open an item of a list, as a format with the Chinese numeral.
_MARKERS = ("其{n}", "第{n}", "{n}是")


def requested_count(query: str) -> int:
    """How many items a query asks for (0 when it asks for no particular number)."""
    # "第二个" is an ordinal (the second one), not a count: the lookbehind skips it.
    m = re.search(rf"(?<![第\d])([{_CN_DIGITS}]|\d+)\s*(?:个|项|大|点|条|方面)", query)
    if m:
        tok = m.group(1)
        return int(tok) if tok.isdigit() else _CN_DIGITS.index(tok) + 1
    m = re.search(r"\b(two|three|four|five|six|seven|eight|nine|ten|\d+)\b", query.lower())
    if m:
        tok = m.group(1)
        return int(tok) if tok.isdigit() else _EN_NUMBERS[tok]
    return 0


def _item_number(chunk: Chunk, style: str) -> int:
    """Which item of a ``style`` list a chunk opens with (0 if none)."""
    for n, digit in enumerate(_CN_DIGITS[:10], start=1):
        marker = style.format(n=digit)
        if re.match(rf"\s*(?:[^\n]*\n)?{marker}[,，、:：]", chunk.text):
            return n
    return 0


def expand(
    ranked: list[Chunk], chunks_of: Callable[[str], list[Chunk]], query: str, window: int = 5
) -> list[Chunk]:
    """Reorder ``ranked`` so that a requested enumeration's items follow its first hit.

    Args:
        ranked: Chunks best first.
        chunks_of: A document's chunks by its id (to find items that were not retrieved).
        query: The user's question.
        window: Only an enumeration touched by one of the first ``window`` hits counts.
    """
    count = requested_count(query)
    if count < 2:
        return ranked
    for pos, hit in enumerate(ranked[:window]):
        siblings = chunks_of(hit.doc_id)
        for style in _MARKERS:
            items: dict[int, Chunk] = {}
            for c in siblings:
                n = _item_number(c, style)
                if 1 <= n <= count and n not in items:
                    items[n] = c
            if len(items) < count:
                continue
            touched = hit in items.values() or _introduces(hit, siblings, items)
            if not touched:
                continue
            group = [items[n] for n in range(1, count + 1)]
            ids = {c.chunk_id for c in group}
            head = [c for c in ranked[: pos + 1] if c.chunk_id not in ids]
            tail = [c for c in ranked[pos + 1 :] if c.chunk_id not in ids]
            return head + group + tail
    return ranked


def _introduces(hit: Chunk, siblings: list[Chunk], items: dict[int, Chunk]) -> bool:
    """The hit ends right before the list's first item (it is the list's introduction)."""
    first = items[min(items)]
    return hit.doc_id == first.doc_id and 0 <= first.start - hit.end <= 2


# Every list style an item may open with, as (name, pattern with the number in group 1).
_ITEM_OPENINGS = (
    ("其", rf"其([{_CN_DIGITS}]+)[,，、:：]"),
    ("第", rf"第([{_CN_DIGITS}]+)[,，、:：]"),
    ("是", rf"([{_CN_DIGITS}]+)是"),
    ("括号", rf"[(（]([{_CN_DIGITS}]+|\d+)[)）]"),
    ("顿号", rf"([{_CN_DIGITS}]+)、"),
    ("数字", r"(\d+)[.、．](?!\d)"),
)


def item_number(text: str) -> tuple[str, int]:
    """The list style and item number a sentence opens with (``("", 0)`` for none).

    ``其二,…`` gives ``("其", 2)``, ``三是…`` ``("是", 3)``, ``（四）…`` ``("括号", 4)``.
    """
    text = text.lstrip()
    for style, pattern in _ITEM_OPENINGS:
        m = re.match(pattern, text)
        if m:
            return style, _numeral(m.group(1))
    return "", 0


def _numeral(token: str) -> int:
    if token.isdigit():
        return int(token)
    if len(token) == 1:
        return _CN_DIGITS.index(token) + 1
    # 十一..十九, 二十..九十九
    tens, _, units = token.partition("十")
    value = (_CN_DIGITS.index(tens) + 1 if tens else 1) * 10
    return value + (_CN_DIGITS.index(units) + 1 if units else 0)
