"""Make tests/data/page_rearranged.txt from data/articles.txt (run from the repository root).

The page is cut into its article groups by raw line ranges (written down here by hand: this
script makes test data, it is not the parser), the groups are put in another order, body
paragraphs are re-wrapped at another width with a two-character first-line indent, headings
at a narrower width, and the blank-line style of the two halves is switched.

The parser's own block classification is used only to find paragraph boundaries to re-wrap.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rag.parsing.cleaning import display_width  # noqa: E402
from rag.parsing.layout import Kind, classify, read_lines  # noqa: E402

# (first raw line, last raw line) of each article group on the original page.
GROUPS = [(1, 246), (248, 421), (422, 647), (649, 748)]
ORDER = [3, 0, 2, 1]  # new order of the groups
BODY_WIDTH = 23.0  # the original is about 18 (first half) and 26 (second half)
HEAD_WIDTH = 12.0


NO_LINE_START = set("，。、；：！？）”’》」』,.;:!?)")


def _units(text: str) -> list[str]:
    """Characters, except that a run of digits/Latin letters stays whole (never split)."""
    units: list[str] = []
    for ch in text:
        if (
            units
            and ch.isascii()
            and ch.isalnum()
            and units[-1][-1].isascii()
            and units[-1][-1].isalnum()
        ):
            units[-1] += ch
        else:
            units.append(ch)
    return units


def wrap(text: str, width: float, indent: float = 0.0) -> list[str]:
    """Greedy wrap by display width; like a typesetter, never start a line with a mark."""
    lines, current = [], ""
    limit = width - indent
    for unit in _units(text):
        if current and display_width(current + unit) > limit and unit[0] not in NO_LINE_START:
            lines.append(current)
            current, limit = "", width
        current += unit
    if current:
        lines.append(current)
    return lines


def render(block, spaced: bool) -> list[str]:
    raw = [line.raw.strip() for line in block.lines]
    if block.kind is Kind.PARA:
        text = "".join(raw)
        out = wrap(text, BODY_WIDTH, indent=2.0)
        if len(out) > 1 and display_width(out[-1]) >= BODY_WIDTH - 1:
            out[-1:] = [out[-1][:-2], out[-1][-2:]]  # a paragraph's last line is never full
    elif (
        block.kind is Kind.HEAD
        and display_width("".join(raw)) > HEAD_WIDTH
        and " " not in "".join(raw)
    ):
        out = wrap("".join(raw), HEAD_WIDTH)
    else:
        out = raw
    return out


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    page = (root / "data/articles.txt").read_text(encoding="utf-8")
    blocks = classify(read_lines(page))
    groups = [[b for b in blocks if lo <= b.lines[0].no <= hi] for lo, hi in GROUPS]
    out: list[str] = []
    for new_pos, g in enumerate(ORDER):
        spaced = new_pos % 2 == 1  # switch which half has a blank line after every line
        for block in groups[g]:
            lines = render(block, spaced)
            for line in lines:
                out.append(line)
                if spaced:
                    out.append("")
            if not spaced:
                out.append("")
    target = root / "tests/data/page_rearranged.txt"
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {target} ({len(out)} lines)")


if __name__ == "__main__":
    main()
