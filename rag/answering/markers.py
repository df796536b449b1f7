"""Citation markers in answer text, and the citations they point at.

Answers carry ``[n]`` markers numbered 1..N in order of first use. A language model writes
them less tidily (``[1, 2]``, ``[１]``, ``【3】``, numbers of passages it was never shown),
so its text is rewritten into that one canonical form before anyone sees it.
"""

from __future__ import annotations

import re

from rag.types import Citation, Document

# Full-width brackets and digits come from models that write Chinese; ``\d`` matches any
# Unicode digit and ``int()`` reads them. Spaces and tabs before a marker go with it, so
# a removed marker does not leave a stray space before the punctuation that followed it.
_MARKER = re.compile(
    r"(?P<space>[ \t\u3000]*)[\[［【]\s*"
    r"(?P<body>\d+(?:\s*(?:[,，、;；]|[-–~～])\s*\d+)*)"
    r"\s*[\]］】]"
)
_SEPARATOR = re.compile(r"\s*[,，、;；]\s*")
_RANGE = re.compile(r"(\d+)\s*[-–~～]\s*(\d+)")
# A range wider than this is not a citation ("[1-2000]"); read it as its two ends.
_MAX_RANGE = 20


def renumber_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Rewrite ``[n]`` markers so that they run 1..N in order of first use.

    Markers pointing at numbers outside ``valid`` are removed together with the spaces
    before them. Groups (``[1, 2]``, ``[1、2]``, ``[1-3]``) become runs of single markers
    (``[1][2]``); a number repeated inside a group is kept once.

    Args:
        text: Text with markers as a model wrote them.
        valid: The numbers that point at something (e.g. ``{1, ..., k}`` for k passages).

    Returns:
        The rewritten text, and the original numbers in their new order: original number
        ``order[i]`` is now ``[i + 1]``.
    """
    renumberer = MarkerRenumberer(valid)
    return renumberer.rewrite(text), renumberer.order


# A text's tail that may still grow into a marker: spaces, then an opening bracket and what a
# marker's body may hold so far. Held back while streaming until it is complete or cannot be.
_OPEN_TAIL = re.compile(r"[ \t\u3000]*(?:[\[［【][\s\d,，、;；\-–~～]{0,40})?\Z")


class MarkerRenumberer:
    """Renumbers markers as :func:`renumber_citations` does, over one text or a stream of it.

    A language model's reply streams in small pieces and a marker may be cut across two of
    them (``"…风险 ["``, ``"2]。"``); :meth:`feed` holds such a tail back until it is complete,
    so every piece it returns is final and numbered like the whole text would be.

    Args:
        valid: The numbers that point at something (e.g. ``{1, ..., k}`` for k passages).
    """

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.order: list[int] = []  # original number order[i] is now [i + 1]
        self._new_number: dict[int, int] = {}
        self._pending = ""

    def rewrite(self, text: str) -> str:
        """The whole of ``text`` rewritten (numbering continues from earlier calls)."""
        return _MARKER.sub(self._rewrite_marker, text)

    def feed(self, piece: str) -> str:
        """The rewritten text that is final once ``piece`` has arrived ("" while held)."""
        text = self._pending + piece
        tail = _OPEN_TAIL.search(text)
        cut = tail.start() if tail else len(text)
        self._pending = text[cut:]
        return self.rewrite(text[:cut])

    def flush(self) -> str:
        """Whatever is still held back, rewritten (at the end of the stream)."""
        text, self._pending = self._pending, ""
        return self.rewrite(text)

    def _rewrite_marker(self, m: re.Match[str]) -> str:
        kept: list[int] = []
        for n in _numbers(m.group("body")):
            if n in self.valid and n not in kept:
                kept.append(n)
        if not kept:
            return ""
        for n in kept:
            if n not in self._new_number:
                self.order.append(n)
                self._new_number[n] = len(self.order)
        return m.group("space") + "".join(f"[{self._new_number[n]}]" for n in kept)


def _numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for part in _SEPARATOR.split(body.strip()):
        span = _RANGE.fullmatch(part)
        if span:
            lo, hi = int(span.group(1)), int(span.group(2))
            if lo <= hi and hi - lo <= _MAX_RANGE:
                numbers.extend(range(lo, hi + 1))
            else:
                numbers.extend((lo, hi))
        elif part:
            numbers.append(int(part))
    return numbers


def marker_numbers(text: str) -> list[int]:
    """The numbers of the canonical ``[n]`` markers in ``text``, in order of appearance."""
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def make_citation(n: int, document: Document, chunk_id: str, start: int, end: int) -> Citation:
    """A citation quoting ``document.text[start:end]``, with its section and source lines.

    The quote is sliced from the document here, so ``document.text[c.start:c.end] ==
    c.quote`` holds by construction.
    """
    return Citation(
        n=n,
        doc_id=document.doc_id,
        chunk_id=chunk_id,
        title=document.title,
        quote=document.text[start:end],
        start=start,
        end=end,
        authors=document.authors,
        section=document.section_at(start),
        lines=document.lines_for(start, end),
    )
