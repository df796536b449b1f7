"""Classifying the lines of an OCR'd newspaper page and grouping them into blocks.

The conventions this relies on (none of them this page's particular strings):

* body text is hard-wrapped at the column width; a paragraph's first line is indented, so
  it is a little shorter than the lines after it; a paragraph ends on a line that ends a
  sentence and is shorter than the column;
* headings are set in a larger font, so their lines are clearly shorter (under 70%) than the
  column and never end a sentence; a heading broken over two lines has a second line no longer
  than the first;
* some regions put a blank line after every line, others only between paragraphs;
* a column label is a bullet (``●`` or a logo letter) and a few characters (``●观 点``);
* a box label is a few characters spaced out (``开 栏 的 话``);
* a byline is one to four names of two to four Han characters alone on a line;
* an affiliation note in parentheses (``（作者单位：…）``, ``（作者为…）``) closes an article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from rag.parsing.cleaning import display_width, ends_sentence


class Kind(Enum):
    PARA = "para"
    HEAD = "head"
    LABEL = "label"
    BOXMARK = "boxmark"
    AFFIL = "affil"
    BYLINE = "byline"


HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A bullet glyph, or a logo letter that OCR read as a capital, then a short Han label.
LABEL_BULLETS = "●■▲◆★▶◇□○◎"
_LABEL = re.compile(rf"^(?:[{LABEL_BULLETS}]\s*|[A-Z]\s+)([{HAN}](?:\s?[{HAN}]){{1,7}})$")
_BOXMARK = re.compile(rf"^[{HAN}](?:\s+[{HAN}]){{2,6}}$")
_AFFIL_START = re.compile(r"^[(（]\s*作\s*者")
_AFFIL_END = re.compile(r"[)）]\s*$")
_NAME = rf"[{HAN}·]{{2,4}}"
_BYLINE = re.compile(rf"^{_NAME}(?:\s+{_NAME}){{0,3}}$")
# A long title in a narrow column runs to three lines, each no longer than the one before.
MAX_HEADING_LINES = 3
# A title wrapped over lines holds at most this many characters in all; two headings in a row
# holding more are two titles.
MAX_HEADING_WIDTH = 32
_HAN_RUN4 = re.compile(rf"[{HAN}]{{4,}}")


@dataclass(frozen=True)
class Line:
    """A non-blank raw line: 1-based number, text, and whether blank lines surround it."""

    no: int
    raw: str
    blank_before: bool
    blank_after: bool

    @property
    def text(self) -> str:
        return unicodedata.normalize("NFKC", self.raw).strip()

    @property
    def width(self) -> float:
        # Measured on the raw line: NFKC turns full-width commas into half-width ones.
        return display_width(self.raw)


@dataclass
class Block:
    """Consecutive lines that play one role on the page."""

    kind: Kind
    lines: list[Line]

    @property
    def width(self) -> float:
        return sum(line.width for line in self.lines)


def label_text(line: Line) -> str:
    """The label of a column-label line, without its bullet and OCR spaces."""
    m = _LABEL.match(line.text)
    return re.sub(r"\s+", "", m.group(1)) if m else ""


def label_bullet(line: Line) -> str:
    """The decoration in front of a column label (a bullet glyph or logo letter)."""
    return line.text[: line.text.index(label_text(line)[0])].strip()


def _is_byline(line: Line, previous: Line | None) -> bool:
    if not _BYLINE.match(line.text):
        return False
    names = line.text.split()
    if len(names) == 1 and len(names[0]) == 4:
        return False  # four Han characters alone are far more often a heading than a name
    # A short line glued to an unfinished line above it is that line's continuation.
    glued = previous is not None and not line.blank_before and not ends_sentence(previous.text)
    return not glued


def read_lines(raw_text: str) -> list[Line]:
    """Non-blank lines of a page with their blank-line surroundings."""
    raw_lines = raw_text.splitlines()
    out = []
    for i, raw in enumerate(raw_lines):
        if not raw.strip():
            continue
        before = i == 0 or not raw_lines[i - 1].strip()
        after = i + 1 >= len(raw_lines) or not raw_lines[i + 1].strip()
        out.append(Line(no=i + 1, raw=raw, blank_before=before, blank_after=after))
    return out


def classify(lines: list[Line]) -> list[Block]:
    """Group the page's non-blank lines into typed blocks, in page order."""
    blocks: list[Block] = []
    run: list[Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        special: Block | None = None
        if _AFFIL_START.match(line.text):
            j = i
            while j < len(lines) - 1 and not _AFFIL_END.search(lines[j].text):
                j += 1
            special = Block(Kind.AFFIL, lines[i : j + 1])
            i = j
        elif _LABEL.match(line.text):
            special = Block(Kind.LABEL, [line])
        elif _BOXMARK.match(line.text):
            special = Block(Kind.BOXMARK, [line])
        elif _is_byline(line, lines[i - 1] if i else None):
            special = Block(Kind.BYLINE, [line])
        if special is None:
            run.append(line)
        else:
            blocks.extend(_segment_run(run))
            run = []
            blocks.append(special)
        i += 1
    blocks.extend(_segment_run(run))
    return _merge_headings(blocks)


def _dense_break_after(run: list[Line], k: int) -> bool:
    """A blank line after ``run[k]`` marks a paragraph end only in a region where most lines
    are not followed by a blank line (elsewhere every line is, and blanks mean nothing)."""
    if not run[k].blank_after or k == len(run) - 1:
        return False
    gaps = range(max(0, k - 4), min(len(run) - 1, k + 5))
    glued = sum(1 for j in gaps if not run[j].blank_after)
    return glued * 2 >= len(gaps)


def _segment_run(run: list[Line]) -> list[Block]:
    """Split a run of text lines (no special lines inside) into paragraphs and headings."""
    if not run:
        return []
    last_end = max((k for k, line in enumerate(run) if ends_sentence(line.text)), default=-1)
    blocks: list[Block] = []
    i = 0
    while i <= last_end:
        first = run[i]
        if ends_sentence(first.text) and not _continues(run, i, last_end):
            blocks.append(Block(Kind.PARA, [first]))
            i += 1
            continue
        if _starts_heading(run, i):
            wrapped = _wrapped_heading(run, i)
            blocks.append(Block(Kind.HEAD, run[i : i + 2] if wrapped else [first]))
            i += 2 if wrapped else 1
        else:
            k = _paragraph_end(run, i, last_end)
            blocks.append(Block(Kind.PARA, run[i : k + 1]))
            i = k + 1
    # Lines after the last sentence end cannot be body text: titles printed after an article.
    blocks.extend(Block(Kind.HEAD, [line]) for line in run[last_end + 1 :])
    return blocks


def _paragraph_end(run: list[Line], start: int, last_end: int) -> int:
    """Index of the last line of the paragraph that starts at ``run[start]``."""
    column = run[start].width + 2  # the first line is indented by about two characters
    k = start
    while k < last_end:
        if _dense_break_after(run, k):
            return k
        k += 1
        line = run[k]
        if ends_sentence(line.text):
            if line.width < column - 1:
                return k
            # A full line that ends a sentence may still end the paragraph: the next line
            # then starts indented, or is a heading.
            if k < last_end and (_starts_heading(run, k + 1) or run[k + 1].width <= column - 1.5):
                return k
        column = max(column, line.width)
    return k


def _continues(run: list[Line], i: int, last_end: int) -> bool:
    """Whether a paragraph's first line that ends a sentence is followed by more of it.

    It is when it is as full as an indented first line can be and the next line neither
    starts a heading nor is cut off by a paragraph-separating blank line.
    """
    if i >= last_end or _dense_break_after(run, i) or _starts_heading(run, i + 1):
        return False
    if run[i].width >= run[i + 1].width - 2.5:
        return True
    # The next line may run past the column (a mark hung at its end), and a word or number
    # that did not fit leaves a first line up to two characters short: compare with the
    # column, unless the next line is itself indented (a new paragraph).
    column = max(line.width for line in run[i + 1 : i + 5])
    return run[i + 1].width > column - 1.5 and run[i].width >= column - 4.5


def _is_two_part_title(line: Line) -> bool:
    """A main title and its second half on one line, apart (``打造… 助力…``): OCR puts stray
    spaces next to digits and single characters, never between two long runs of Han."""
    parts = line.text.split()
    return len(parts) == 2 and all(_HAN_RUN4.fullmatch(p) for p in parts)


def _starts_heading(run: list[Line], i: int) -> bool:
    """Whether ``run[i]`` (at a paragraph boundary) is the first line of a heading."""
    first = run[i]
    if ends_sentence(first.text):
        return False
    if i + 1 >= len(run) or _dense_break_after(run, i) or _is_two_part_title(first):
        return True
    nxt = run[i + 1]
    # A body paragraph's first line is never clearly wider than its next unfinished line.
    wider = not ends_sentence(nxt.text) and nxt.width <= first.width - 3
    if wider or first.width < 0.7 * nxt.width:
        return True
    # Nor clearly shorter than an indented first line: a heading set in larger type holds
    # fewer characters than the column by more than the two-character indent. A heading of
    # two or three lines (each no longer than the one before) is measured the same way.
    m = 1
    while (
        m < MAX_HEADING_LINES
        and i + m + 1 < len(run)
        and not ends_sentence(run[i + m].text)
        and run[i + m].width <= run[i + m - 1].width
        and not _dense_break_after(run, i + m - 1)
    ):
        if _dense_break_after(run, i + m):
            return True  # unfinished lines standing apart: no paragraph ends so
        m += 1
        if _heading_before(run, i, m):
            return True
    return _heading_before(run, i, 1)


def _heading_before(run: list[Line], i: int, m: int) -> bool:
    """Whether ``run[i : i + m]`` is clearly narrower than the paragraph after it."""
    if i + m >= len(run):
        return False
    widest = max(line.width for line in run[i : i + m])
    after = run[i + m]
    column = _column_after(run, i + m)
    if widest <= after.width - 2 and widest <= column - 5:
        return True
    # Two or three lines, each no longer than the one before, then an indented first line:
    # a paragraph's own lines never narrow and then widen again.
    return m >= 2 and widest <= column - 3 and after.width <= column - 1.5


def _column_after(run: list[Line], i: int) -> float:
    """The column width of the paragraph from ``run[i]`` on: its widest line among the next
    four, up to the line ending its first sentence."""
    widest = 0.0
    for line in run[i : i + 4]:
        widest = max(widest, line.width)
        if ends_sentence(line.text):
            break
    return widest


def _wrapped_heading(run: list[Line], i: int) -> bool:
    """Whether the heading starting at ``run[i]`` continues on the next, shorter line.

    The continuation is itself short: the line after it is clearly wider (body text), or
    a paragraph break follows it.
    """
    if i + 1 >= len(run) or _dense_break_after(run, i) or _is_two_part_title(run[i]):
        return False
    first, nxt = run[i], run[i + 1]
    if ends_sentence(nxt.text) or nxt.width > first.width:
        return False
    if first.width + nxt.width > MAX_HEADING_WIDTH:
        return False  # two titles in a row (one printed after its body, the next in front)
    if i + 2 >= len(run) or _dense_break_after(run, i + 1):
        return True
    if nxt.width <= first.width - 3 and run[i + 2].width >= nxt.width + 3:
        return True
    return _heading_before(run, i, 2)


def _merge_headings(blocks: list[Block]) -> list[Block]:
    """Join a heading printed over two blocks (up to three lines, each no longer than the one
    before)."""
    out: list[Block] = []
    for block in blocks:
        prev = out[-1] if out else None
        if (
            prev is not None
            and block.kind is Kind.HEAD
            and prev.kind is Kind.HEAD
            and len(prev.lines) + len(block.lines) <= MAX_HEADING_LINES
            and not _is_two_part_title(prev.lines[0])
            and block.lines[0].width <= prev.lines[-1].width
            and prev.width + block.width <= MAX_HEADING_WIDTH
        ):
            prev.lines.extend(block.lines)
            continue
        out.append(block)
    return out
