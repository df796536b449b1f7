"""Word files (.docx, with python-docx): paragraphs, headings as sections.

The title is the paragraph styled ``Title`` (or the document's title property, or its first
paragraph); ``Heading N`` paragraphs become sections. Raw "lines" are paragraph numbers.
"""

from __future__ import annotations

import io
import zipfile

from rag.errors import SourceError
from rag.parsing.cleaning import TextBuilder
from rag.parsing.dates import find_published
from rag.parsing.metadata import credit_line, split_meta_lines
from rag.parsing.page import make_doc_id
from rag.types import Document, Section

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _is_heading(style: str) -> bool:
    s = style.lower()
    return s.startswith(("heading", "标题")) and s not in ("title", "标题")


def parse_docx(data: bytes, source: str) -> Document:
    """One Word file as one document.

    Raises:
        SourceError: Password-protected, an old binary .doc, damaged, or without text.
    """
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if data.startswith(_OLE_MAGIC):
        raise SourceError(
            f"{source}: the file is password-protected (or an old binary .doc saved as .docx); "
            "save an unprotected .docx copy and ingest that"
        )
    try:
        word = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise SourceError(f"{source}: not a readable .docx file, damaged or truncated ({e})") from e
    paras = [(p.style.name if p.style is not None else "", p.text) for p in word.paragraphs]
    paras = [(style, text) for style, text in paras if text.strip()]
    if not paras:
        raise SourceError(f"{source}: the Word file holds no text")
    title, title_no = "", 0
    for n, (style, text) in enumerate(paras, start=1):
        if style.lower() in ("title", "标题"):
            title, title_no = text, n
            break
    if not title and word.core_properties.title:
        title = word.core_properties.title
    if not title:
        title, title_no = paras[0][1], 1
    texts = [text for _, text in paras]
    drop, meta = split_meta_lines(texts, title)
    # The credit lines (date, source, author, editor) stay in the text, as a page's do.
    dropped = {i for i in drop if not credit_line(texts[i])} | {title_no - 1}
    builder = TextBuilder()
    sections: list[Section] = []
    for n, (style, text) in enumerate(paras, start=1):
        if n - 1 in dropped:
            continue
        start = len(builder)
        builder.add_line(text, n)
        if _is_heading(style):
            sections.append(Section(title="".join(builder.chars[start:]), start=start))
        builder.add_newline(n)
    body, line_map = builder.build()
    if not body:
        body, line_map = TextBuilder.clean(title), ((0, title_no),)
    clean_title = TextBuilder.clean(title)
    return Document(
        doc_id=make_doc_id(source, clean_title),
        title=clean_title,
        text=body,
        authors=meta.authors,
        sections=tuple(sections),
        source=source,
        line_map=line_map,
        published=meta.published or find_published(body),
        kind="docx",
        site=meta.origin,
        title_lines=(title_no,),
        editors=meta.editors,
    )
