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


def check_variants(n: int) -> None:
    """Print how many of ``n`` variants parse to the bundled page's documents: exactly, and
    up to where paragraph breaks fall (``python tests/data/make_rearranged_page.py 300``)."""
    from rag.parsing import load_documents
    from rag.parsing.page import parse_page

    root = Path(__file__).resolve().parents[2]
    base = load_documents([root / "data/articles.txt"])

    def key(d, breaks=True):
        text = d.text if breaks else d.text.replace("\n", "")
        return (d.title, d.authors, d.affiliation, d.column, d.standfirst, text)

    for label, changes in (("layout", ALL_CHANGES - {"width"}), ("layout+widths", ALL_CHANGES)):
        exact = same = 0
        for seed in range(n):
            docs = parse_page(make_variant(seed, changes=changes), "variant.txt")
            exact += sorted(map(key, docs)) == sorted(map(key, base))
            same += sorted(key(d, False) for d in docs) == sorted(key(d, False) for d in base)
        print(f"{label}: {exact}/{n} exactly the same documents, {same}/{n} up to paragraph breaks")


# ---- variants: the same articles laid out in the other ways real pages use ----------------
# The roles of each group's blocks, by the first raw line of the block (written down by hand
# from the printed page, like GROUPS): column label, pull quote (or box text), title, byline.
ROLES = [
    {"title": 246},
    {"title": 248, "label": 249, "pull": 251, "byline": 261},
    {"label": 422, "pull": 423, "title": 433, "byline": 435},
    {"label": 649, "pull": 651, "byline": 667, "title": 742, "box": 746},
]
TITLE_AFTER = [True, False, False, True]
# In group 3 the paragraph before the byline is not a pull quote but the text of the box
# ("开栏的话"), printed across the page in its own frame: it moves, but keeps its lines.
BOX_TEXT = {3}  # where the original page prints each title


def _group_roles(group, roles):
    """Split a group's blocks into label, pull, title, byline, body, affil and box blocks."""
    by_line = {b.lines[0].no: b for b in group}
    parts = {name: [by_line[no]] for name, no in roles.items() if name != "box"}
    box_start = roles.get("box")
    parts["box"] = [b for b in group if box_start and b.lines[0].no >= box_start]
    taken = {id(b) for bs in parts.values() for b in bs}
    parts["affil"] = [b for b in group if b.kind is Kind.AFFIL]
    taken |= {id(b) for b in parts["affil"]}
    parts["body"] = [b for b in group if id(b) not in taken]
    return parts


ALL_CHANGES = frozenset({"order", "width", "spacing", "title", "pull", "byline"})
PULL_FIRST = [True, False, True, True]  # whether the original prints the pull quote first


def make_variant(seed: int, page: str | None = None, changes=ALL_CHANGES) -> str:
    """One variant of the bundled page, drawn from ``seed``.

    Per piece (article group), drawn at random: its place on the page, its body width
    (16-30 characters), its pull quote's and headings' widths (larger type: fewer characters
    than the body's column, or a title on one line across columns), its blank-line style (a blank line after every
    line, or only between blocks), whether its title comes before or after its body, whether
    its pull quote comes before or after its title, and whether two authors share one byline
    line or get one each.
    """
    import random

    rng = random.Random(seed)
    root = Path(__file__).resolve().parents[2]
    page = page if page is not None else (root / "data/articles.txt").read_text(encoding="utf-8")
    blocks = classify(read_lines(page))
    groups = [[b for b in blocks if lo <= b.lines[0].no <= hi] for lo, hi in GROUPS]
    order = list(range(len(groups)))
    if "order" in changes:
        rng.shuffle(order)
    out: list[str] = []
    for pos, g in enumerate(order):
        parts = _group_roles(groups[g], ROLES[g])
        body_width = rng.choice([16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0])
        # Type sizes: title > pull quote > body, so per line a pull quote holds fewer
        # characters than the body's column, and a title set over a column fewer still
        # (under 70%, docs/parsing.md); a title spanning several columns sits on one line.
        pull_width = float(round(body_width * rng.uniform(0.55, 0.8)))
        across = rng.random() < 0.5
        spaced = rng.random() < 0.5
        title_after = rng.random() < 0.5
        pull_first = rng.random() < 0.5
        split_byline = rng.random() < 0.5
        if "width" not in changes:
            body_width, pull_width, across = BODY_WIDTH, 13.0, None
        if "spacing" not in changes:
            spaced = pos % 2 == 1
        if "title" not in changes:
            title_after = TITLE_AFTER[g]
        if "pull" not in changes:
            pull_first = PULL_FIRST[g]
        if "byline" not in changes:
            split_byline = False
        front = []
        if parts.get("pull") and parts.get("title") and not title_after:
            pair = [*parts["pull"], *parts["title"]]
            front = [*parts.get("label", []), *(pair if pull_first else pair[::-1])]
        else:
            front = [*parts.get("label", []), *parts.get("pull", [])]
            if not title_after:
                front += parts.get("title", [])

        def hw(block, body_width=body_width, pull_width=pull_width, across=across):
            if across is None:  # widths unchanged: headings keep their lines
                return 0.0
            return _heading_width(block, body_width, pull_width, across)

        rendered: list[list[str]] = []
        for block in front:
            if block in parts.get("pull", []) and g in BOX_TEXT:
                rendered.append([line.raw.strip() for line in block.lines])  # a box, as printed
                continue
            is_pull = block in parts.get("pull", [])
            rendered.append(_render(block, pull_width if is_pull else body_width, hw(block)))
        for block in parts.get("byline", []):
            names = block.lines[0].raw.split()
            if split_byline and len(names) > 1:
                rendered.extend([[n] for n in names])
            else:
                rendered.append([block.lines[0].raw.strip()])
        for block in parts["body"] + parts["affil"]:
            rendered.append(_render(block, body_width, hw(block)))
        if title_after:
            rendered.extend(_render(b, body_width, hw(b)) for b in parts.get("title", []))
        rendered.extend(_render(b, body_width, hw(b)) for b in parts["box"])
        for lines in rendered:
            for line in lines:
                out.append(line)
                if spaced:
                    out.append("")
            if not spaced:
                out.append("")
    return "\n".join(out) + "\n"


def _render(block, body_width: float, head_width: float) -> list[str]:
    raw = [line.raw.strip() for line in block.lines]
    text = "".join(raw)
    if block.kind is Kind.PARA:
        out = wrap(text, body_width, indent=2.0)
        if len(out) > 1 and display_width(out[-1]) >= body_width - 1:
            out[-1:] = [out[-1][:-2], out[-1][-2:]]  # a paragraph's last line is never full
        return out
    wide = head_width and display_width(text) > head_width
    if block.kind is Kind.HEAD and wide and " " not in text:
        return balanced(text, head_width)
    return raw


def _heading_width(block, body_width: float, pull_width: float, across: bool) -> float:
    """The characters a line of a heading holds: on one line across columns only when that
    makes it clearly wider than the body's column, else under 70% of the narrower text."""
    text = "".join(line.raw.strip() for line in block.lines)
    if across and display_width(text) >= body_width + 3:
        return 0.0
    return float(int(0.7 * min(body_width, pull_width)))


def balanced(text: str, width: float) -> list[str]:
    """A heading over as few lines as ``width`` allows (three at most), evened out the way
    typesetters do (no one- or two-character last line), each line no longer than the one
    before."""
    units = _units(text)
    n = min(-(-len(units) // int(width)), 3)  # lines needed; a longer title gets smaller type
    per = -(-len(units) // n)
    return ["".join(units[i : i + per]) for i in range(0, len(units), per)]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        check_variants(int(sys.argv[1]))
    else:
        main()
