"""The date a document states for itself: in its metadata, a dateline or a line near the top.

Only a full date (year, month and day) counts: ``10月23日`` alone could be any year, and a
wrong year would make date filters silently wrong. Dates are returned as ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

# 2023年10月26日, 2023-10-26, 2023/10/26, 2023.10.26 (OCR spaces and full-width digits allowed).
_FULL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|"
    r"[-/.](\d{1,2})[-/.](\d{1,2})(?!\d))"
)
# A date is the document's own when it stands on a short line of its own near the top (a
# dateline, a "发布时间：… 来源：…" line under the title); inside a sentence of the body it
# is more likely a date the article talks about ("大会于2023年10月9日开幕").
TOP_LINES = 4
DATELINE_MAX_CHARS = 60
# An official document closes with its issuer and the date (国务院办公厅 / 2024年1月15日; a
# paragraph's lines may have been joined into one): a short line, no sentence, ending in it.
SIGNATURE_LINES = 3
SIGNED_LINE = re.compile(
    r"^[^。！？，；,;!?]{0,30}?(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*$"
)


def parse_date(value: str) -> str:
    """``YYYY-MM-DD`` for the first full date in ``value`` ("" when there is none or it is
    not a real calendar day)."""
    m = _FULL_DATE.search(unicodedata.normalize("NFKC", value or ""))
    if not m:
        return ""
    year = int(m.group(1))
    month = int(m.group(2) or m.group(4))
    day = int(m.group(3) or m.group(5))
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return ""


def find_published(text: str) -> str:
    """The date stated on a short line among the first lines of ``text``, else the date an
    official document is signed with on a line of its own at its end (国务院办公厅 /
    2024年1月15日); "" if neither."""
    lines = text.splitlines()
    for line in lines[:TOP_LINES]:
        if len(line.strip()) <= DATELINE_MAX_CHARS and (date := parse_date(line)):
            return date
    for line in reversed([x for x in lines if x.strip()][-SIGNATURE_LINES:]):
        if SIGNED_LINE.match(unicodedata.normalize("NFKC", line)):
            return parse_date(line)
    return ""
