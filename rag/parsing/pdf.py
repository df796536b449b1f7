"""PDF files: the text layer (pypdfium2, PDFium's own extraction) as page lines.

Text is read in the file's content order, one line per text line of the page (fragments on
one baseline are joined). Vertical space of a line's height or more, between lines or above
the first line of a column or page, becomes a blank line (text flows on from the foot of one
column or page to the head of the next): on paper that space is what separates
blocks, and the newspaper-page parser reads blocks from blank lines. A PDF of a newspaper page
then goes through that parser; any other PDF is one document whose paragraphs end where a
line ending a sentence stops short of the column's width.

No OCR: a PDF without a text layer (a scan) is refused with a message saying so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from rag.errors import SourceError
from rag.parsing.cleaning import ends_sentence
from rag.parsing.loaders import looks_like_page, parse_plain
from rag.parsing.page import parse_page
from rag.types import Document

# Space between two lines taller than this many line heights is a blank line. Body text is
# set with a leading of 1.2-1.6 times the type size, so the space between lines stays well
# under one line height; an empty line's worth of space is above it.
GAP_FACTOR = 1.0
# A line ending a sentence this much shorter than the column's usual width ends a paragraph.
SHORT_LINE = 0.85


@dataclass(frozen=True)
class _Line:
    text: str
    left: float
    bottom: float
    right: float
    top: float


def pdf_lines(data: bytes, name: str) -> list[list[_Line]]:
    """The text lines of each page, in content order.

    Raises:
        SourceError: Not a PDF, damaged, password-protected, or without any text layer.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise SourceError(
                f"{name}: the PDF is password-protected; save an unprotected copy and ingest that"
            ) from e
        raise SourceError(f"{name}: not a readable PDF, damaged or truncated ({e})") from e
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append(_page_lines(textpage))
            textpage.close()
            page.close()
    except pdfium.PdfiumError as e:
        raise SourceError(f"{name}: a page of the PDF cannot be read ({e})") from e
    finally:
        pdf.close()
    if not any(line.text.strip() for page in pages for line in page):
        raise SourceError(
            f"{name}: the PDF has no text layer (a scanned document?); run OCR on it first "
            "(e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result"
        )
    return pages


def _page_lines(textpage) -> list[_Line]:
    lines: list[_Line] = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).replace("\r", "")
        text = text.replace("\n", " ")
        if not text.strip():
            continue
        prev = lines[-1] if lines else None
        height = top - bottom
        same_line = (
            prev is not None
            and abs(prev.bottom - bottom) < 0.5 * height
            and prev.right - 1 <= left <= prev.right + 2 * height  # not the next column's
        )
        if same_line:
            lines[-1] = _Line(prev.text + text, prev.left, min(prev.bottom, bottom), right, top)
        else:
            lines.append(_Line(text, left, bottom, right, top))
    return lines


def page_text(pages: list[list[_Line]], paragraphs: bool = False) -> str:
    """The pages as text lines, blank lines where the page leaves space (see the module doc).

    Text flows from the foot of one column or page to the head of the next, so a jump is no
    break by itself; space above a column's first line (measured from the document's highest
    line) is. With ``paragraphs``, a short line ending a sentence is followed by a blank line.
    """
    out: list[str] = []
    # Where a column's first line starts when no space is left above it: the highest line
    # of the document (pages share their margins).
    top = max((line.top for page in pages for line in page), default=0.0)
    for page in pages:
        if not page:
            continue
        height = statistics.median(line.top - line.bottom for line in page)
        usual = statistics.median(line.right - line.left for line in page)
        for k, line in enumerate(page):
            prev = page[k - 1] if k else None
            if prev is not None and line.bottom > prev.bottom + 0.5 * height:
                gap = top - line.top  # a new column: space above its first line
            elif prev is not None:
                gap = prev.bottom - line.top  # space between two lines of one column
            else:
                gap = top - line.top  # space above a page's first line
            if gap > GAP_FACTOR * height and out and out[-1]:
                out.append("")
            out.append(line.text.rstrip())
            short = line.right - line.left < SHORT_LINE * usual
            if paragraphs and short and ends_sentence(line.text):
                out.append("")
    return "\n".join(out) + "\n"


def parse_pdf(data: bytes, source: str) -> list[Document]:
    """The documents of one PDF: the articles of a newspaper page, or one document."""
    pages = pdf_lines(data, source)
    raw = page_text(pages)
    if looks_like_page(raw):
        return [replace(d, kind="pdf") for d in parse_page(raw, source)]
    doc = parse_plain(page_text(pages, paragraphs=True), source)
    return [replace(doc, kind="pdf")]
