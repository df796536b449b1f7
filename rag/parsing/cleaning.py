"""Joining hard-wrapped OCR lines into clean text while remembering where each character came from.

The cleaned text is the text people see and quote: it keeps the source's full-width
punctuation as printed (``，：；？！（）…``) but is otherwise NFKC-normalised (full-width digits
and letters become ASCII, compatibility forms are folded). Control and format characters
(NUL, zero-width spaces, a stray BOM) are dropped. The spurious spaces OCR puts inside
Chinese text and numbers are removed (``10 月 23 日`` -> ``10月23日``), and one space stays only
between two Latin letters or digits. Every output character remembers its raw line, so a
citation can point back at the original file.

Matching and indexing fold width completely (NFKC, see :func:`fold`), so a query typed with
ASCII commas still finds text printed with full-width ones.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Version of the rules above, recorded in every index manifest: text cleaned by other rules
# has other offsets, so an index built with them must be rebuilt.
# 1: NFKC everywhere (full-width punctuation became ASCII); 2: punctuation kept as printed,
# control characters dropped.
TEXT_VERSION = 2

# Punctuation and symbols NFKC would turn into ASCII or expand, kept as printed: the
# full-width block's marks (，：；？！（）％ ...), the ellipsis (NFKC makes it "...") and the
# full-width tilde. Full-width letters and digits are not in it: they fold to ASCII.
_AS_PRINTED = re.compile(r"[\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65…]+")
# Control (Cc, whitespace aside), format (Cf: zero-width spaces, BOM, soft hyphen) and lone
# surrogates (Cs): invisible, never meant as text, and quoted back they corrupt answers.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

# Characters after which a line ends a sentence (optionally followed by closing quotes/brackets).
SENTENCE_END = "。！？!?…"
CLOSERS = "”’」』)）》"


def display_normalize(raw: str) -> str:
    """The text as people should see it: NFKC except for the punctuation kept as printed,
    with control and format characters removed (whitespace is kept for the caller)."""
    out = []
    pos = 0
    for m in _AS_PRINTED.finditer(raw):
        out.append(unicodedata.normalize("NFKC", raw[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(unicodedata.normalize("NFKC", raw[pos:]))
    text = "".join(out)
    if any(not ch.isspace() and unicodedata.category(ch) in _DROPPED_CATEGORIES for ch in text):
        text = "".join(
            ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
        )
    return text


def fold(text: str) -> str:
    """Width-folded text for matching and indexing only (never shown, never quoted)."""
    return unicodedata.normalize("NFKC", text)


def find_folded(text: str, quote: str) -> int:
    """Offset of ``quote`` in ``text`` ignoring width (，/, ：/: …), or -1.

    A chat client or a reader may send back a quote with its punctuation folded to ASCII;
    the offset found is still one into the text people see.
    """
    at = text.find(quote)
    return at if at >= 0 else fold_in_place(text).find(fold_in_place(quote))


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# Full-width forms U+FF01-FF5E and the ideographic space, one for one to ASCII.
_WIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_in_place(text: str) -> str:
    """Full-width marks and letters folded to ASCII one for one, so ``find`` positions in
    the result are positions in ``text`` (for matching a quote typed either way)."""
    return text.translate(_WIDTH_TABLE)


def is_cjk(ch: str) -> bool:
    """True for Han characters, CJK punctuation and full-width forms."""
    if not ch:
        return False
    cp = ord(ch)
    return (
        0x3000 <= cp <= 0x303F  # CJK punctuation
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms
        or 0x2010 <= cp <= 0x206F  # general punctuation: “ ” — …
        or 0x20000 <= cp <= 0x2FFFF
    )


def is_han(ch: str) -> bool:
    """True for Han ideographs only (no punctuation)."""
    cp = ord(ch)
    return (
        0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or cp >= 0x20000
    )


def display_width(line: str) -> float:
    """Width of a line in full-width character cells.

    OCR sprinkles spaces inside numbers, so spaces count for nothing; half-width
    characters count half. Used only to compare lines of one page with each other.
    """
    width = 0.0
    for ch in line:
        if ch.isspace():
            continue
        width += 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5
    return width


def ends_sentence(line: str) -> bool:
    """True when a line ends with sentence-final punctuation (closing quotes allowed after it)."""
    s = line.rstrip().rstrip(CLOSERS)
    return bool(s) and s[-1] in SENTENCE_END


@dataclass
class TextBuilder:
    """Accumulates cleaned text with one raw line number per output character."""

    chars: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    _soft_space: bool = False  # the pending space is a line wrap, not a space in the source

    def __len__(self) -> int:
        return len(self.chars)

    def add_line(self, raw: str, lineno: int) -> None:
        """Append one raw line, joined to what came before by the Chinese wrapping rules."""
        for ch in display_normalize(raw.strip()):
            self._add(ch, lineno, soft=False)

    def add_soft_break(self, lineno: int) -> None:
        """A hard wrap: becomes a space only if Latin text continues across it."""
        self._add(" ", lineno, soft=True)

    def add_newline(self, lineno: int) -> None:
        """Paragraph separator."""
        while self.chars and self.chars[-1] == " ":
            self.chars.pop()
            self.lines.pop()
        if self.chars and self.chars[-1] != "\n":
            self.chars.append("\n")
            self.lines.append(lineno)

    def _add(self, ch: str, lineno: int, soft: bool) -> None:
        if ch.isspace():
            ch = " "
            if not self.chars or self.chars[-1] in " \n":
                return
            self.chars.append(ch)
            self.lines.append(lineno)
            self._soft_space = soft
            return
        # A pending space survives only between two Latin/digit characters; a line wrap only
        # between two letters or digits (words), not before a mark: "42" + "%" is "42%".
        if self.chars and self.chars[-1] == " ":
            before = self.chars[-2] if len(self.chars) > 1 else ""
            wrap_joins = self._soft_space and not (_is_word_char(before) and _is_word_char(ch))
            if is_cjk(before) or is_cjk(ch) or not before or wrap_joins:
                self.chars.pop()
                self.lines.pop()
        self._soft_space = False
        self.chars.append(ch)
        self.lines.append(lineno)

    @staticmethod
    def clean(raw: str) -> str:
        """Clean a single line of text (for titles and other metadata)."""
        builder = TextBuilder()
        builder.add_line(raw, 0)
        return builder.build()[0]

    def build(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        """Return the text (trailing whitespace removed) and its run-length line map."""
        while self.chars and self.chars[-1] in " \n":
            self.chars.pop()
            self.lines.pop()
        line_map: list[tuple[int, int]] = []
        for offset, lineno in enumerate(self.lines):
            if not line_map or line_map[-1][1] != lineno:
                line_map.append((offset, lineno))
        return "".join(self.chars), tuple(line_map)


def clean_inline(raw_lines: list[str]) -> str:
    """Join and clean a few lines of metadata (a title, an affiliation) into one string."""
    builder = TextBuilder()
    for i, raw in enumerate(raw_lines):
        if i:
            builder.add_soft_break(0)
        builder.add_line(raw, 0)
    return builder.build()[0]


def clean_title(raw_lines: list[str]) -> str:
    """Like :func:`clean_inline`, but keeps a space between two Chinese phrases of one line.

    Newspaper titles separate a main title from its second half with a space
    (``打造高素质职工队伍 助力建设世界一流企业``); inside body text such spaces are OCR noise.
    """
    parts = []
    for raw in raw_lines:
        words = display_normalize(raw).split()
        parts.append(" ".join(w for w in words))
    text = "".join(parts)
    # Spaces around digits and single characters are OCR noise even in titles.
    out = []
    for i, ch in enumerate(text):
        if ch == " ":
            before, after = text[i - 1], text[i + 1]
            left_word = text[:i].split(" ")[-1]
            right_word = text[i + 1 :].split(" ")[0]
            keep = len(left_word) >= 4 and len(right_word) >= 4
            if not (before.isascii() and after.isascii()) and not keep:
                continue
        out.append(ch)
    return "".join(out)
