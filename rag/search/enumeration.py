"""List expansion, a stage after retrieval: "what are the four highlights" needs all four items.

Ranking chunks by similarity rarely puts every item of a list near the top. When a question
asks for N things (:func:`rag.lexicon.requested_count`) and a retrieved chunk opens, holds or
introduces the items of a list in one of the common styles (其一…, 第一…, 一是…, 一、…, （一）…,
1. …, 首先…最后, see :func:`rag.lexicon.item_marker`), the chunks holding the other items of
the same document are pulled up right behind it. ``/ask`` always runs this stage; ``/search``
runs it unless asked not to (``expand: false``), and ``rag eval`` reports both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rag.lexicon import LAST, item_marker, requested_count
from rag.types import Chunk, Hit, SearchResult

__all__ = ["expand", "expand_result", "item_number", "requested_count"]


def _items_in(chunk: Chunk) -> list[tuple[str, int]]:
    """``(style, number)`` of every list item opening a line of the chunk."""
    out = []
    for line in chunk.text.split("\n"):
        marker = item_marker(line)
        if marker is not None:
            out.append((marker.style, marker.number))
    return out


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
        by_style: dict[str, dict[int, Chunk]] = {}
        for c in siblings:
            for style, n in _items_in(c):
                n = count if n == LAST else n
                if 1 <= n <= count:
                    by_style.setdefault(style, {}).setdefault(n, c)
        for items in by_style.values():
            if len(items) < count:
                continue
            touched = hit in items.values() or _introduces(hit, items)
            if not touched:
                continue
            group = list(dict.fromkeys(items[n] for n in range(1, count + 1)))
            ids = {c.chunk_id for c in group}
            head = [c for c in ranked[: pos + 1] if c.chunk_id not in ids]
            tail = [c for c in ranked[pos + 1 :] if c.chunk_id not in ids]
            return head + group + tail
    return ranked


def _introduces(hit: Chunk, items: dict[int, Chunk]) -> bool:
    """The hit ends right before the list's first item (it is the list's introduction)."""
    first = items[min(items)]
    return hit.doc_id == first.doc_id and 0 <= first.start - hit.end <= 2


def expand_result(result: SearchResult, chunks_of: Callable[[str], list[Chunk]]) -> SearchResult:
    """The list-expansion stage over a search result: same number of hits, re-ranked.

    Hits pulled in from outside the result carry no leg scores (they were not retrieved among
    the top hits); their fused score is that of the hit they follow.
    """
    if result.mode != "hybrid" or not result.hits:
        return result
    chunks = [h.chunk for h in result.hits]
    ranked = expand(chunks, chunks_of, result.query, window=len(chunks))
    if [c.chunk_id for c in ranked[: len(chunks)]] == [c.chunk_id for c in chunks]:
        return result
    by_id = {h.chunk.chunk_id: h for h in result.hits}
    hits: list[Hit] = []
    for rank, chunk in enumerate(ranked[: len(chunks)], start=1):
        old = by_id.get(chunk.chunk_id)
        if old is not None:
            hits.append(replace(old, rank=rank))
        else:
            hits.append(Hit(chunk, rank, hits[-1].score if hits else 0.0))
    return replace(result, hits=tuple(hits))


def item_number(text: str) -> tuple[str, int]:
    """The list style and item number a sentence opens with (``("", 0)`` for none).

    ``其二,…`` gives ``("其", 2)``, ``三是…`` ``("是", 3)``, ``（四）…`` ``("括号", 4)``; the
    items are read by :func:`rag.lexicon.item_marker` (首先…最后 count as no number here).
    """
    marker = item_marker(text)
    if marker is None or marker.number == LAST or marker.style not in _CONVERSATION_STYLES:
        return "", 0
    return _CONVERSATION_STYLES[marker.style], marker.number


# The style names rag/conversation.py knows the numbered styles by.
_CONVERSATION_STYLES = {
    "其N": "其",
    "第N": "第",
    "N是": "是",
    "(N)": "括号",
    "N、": "顿号",
    "1.": "数字",
    "第N名": "名",
}
