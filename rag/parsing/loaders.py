"""Reading documents from files and folders.

Formats: newspaper pages, plain text and Markdown (``.txt``, ``.md``), BEIR corpora
(``.jsonl``), saved web pages (``.html``, ``.htm``), PDF and Word (``.docx``) files.

:func:`load_batch` reads a batch the way ``rag ingest`` needs it: a file that cannot be read
(damaged, password-protected, binary with a text extension, over the size limit, a page with
no article) is skipped with a reason naming it, and the rest of the batch still goes in.
:func:`load_documents` is the strict form: the first bad file raises.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import SourceError
from rag.parsing.cleaning import TextBuilder
from rag.parsing.dates import find_published
from rag.parsing.layout import Kind, classify, read_lines
from rag.parsing.metadata import LineMeta, split_meta_lines
from rag.parsing.page import make_doc_id, parse_page
from rag.types import Document, Section

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".jsonl")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, ".html", ".htm", ".pdf", ".docx")
# Larger files are refused: a 50 MB text or PDF is a whole archive, not an article, and
# parsing it would hold the write lock for minutes. Callers may pass their own limit.
MAX_FILE_BYTES = 50_000_000
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# What a binary file announces in its first bytes (to name it when it has a text extension).
_MAGIC = {
    b"%PDF": "a PDF file",
    b"PK\x03\x04": "a ZIP archive (a .docx, .xlsx or .zip file?)",
    b"\xd0\xcf\x11\xe0": "an Office binary file (.doc, .xls, or a password-protected file)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x7fELF": "a program",
}
_ALLOWED_CONTROLS = {9, 10, 12, 13, 27}


@dataclass(frozen=True)
class SkippedFile:
    """A file of a batch that did not go in, and why (the message names the file)."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadResult:
    """The documents of a batch, and the files skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = ()


def load_documents(paths: Iterable[str | Path], max_bytes: int = MAX_FILE_BYTES) -> list[Document]:
    """Load every document from the given files and folders, in a stable order.

    Raises:
        SourceError: A path does not exist, has an unsupported type, or cannot be read or
            parsed (the first such file; see :func:`load_batch` for the lenient form).
    """
    docs: list[Document] = []
    for path in paths:
        for file in iter_source_files(Path(path)):
            docs.extend(load_file(file, max_bytes))
    return docs


def load_batch(paths: Iterable[str | Path], max_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Load what can be loaded; each file that cannot is skipped with the reason.

    Raises:
        SourceError: A path given does not exist, or names a file of an unsupported type
            (a mistake in the command, not in the batch).
    """
    docs: list[Document] = []
    skipped: list[SkippedFile] = []
    for path in paths:
        for file in iter_source_files(Path(path)):
            try:
                docs.extend(load_file(file, max_bytes))
            except SourceError as e:
                logger.warning("skipped %s", e)
                skipped.append(SkippedFile(file.as_posix(), str(e)))
    return LoadResult(tuple(docs), tuple(skipped))


def iter_source_files(path: Path) -> list[Path]:
    """The supported files under ``path`` (itself if it is a file), sorted."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        )
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise SourceError(
            f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return [path]


def load_path(path: Path) -> list[Document]:
    """Load one file, or every supported file under a folder (strict)."""
    return load_documents([path])


def load_file(file: Path, max_bytes: int = MAX_FILE_BYTES) -> list[Document]:
    """The documents of one file, by its type.

    Raises:
        SourceError: Naming the file: too large, unreadable, damaged, password-protected,
            binary with a text extension, or (a web page) without an article.
    """
    data = read_bytes(file, max_bytes)
    source = file.as_posix()
    suffix = file.suffix.lower()
    if suffix == ".pdf":
        from rag.parsing.pdf import parse_pdf

        return parse_pdf(data, source)
    if suffix == ".docx":
        from rag.parsing.word import parse_docx

        return [parse_docx(data, source)]
    if suffix in (".html", ".htm"):
        from rag.parsing.webpage import parse_html

        return [parse_html(data, source)]
    raw = decode_text(data, file)
    if not raw.strip():
        logger.warning("%s: empty file skipped", file)
        return []
    if suffix == ".jsonl":
        return parse_beir_corpus(raw, source)
    if suffix == ".txt" and looks_like_page(raw):
        return parse_page(raw, source)
    return [parse_plain(raw, source, markdown=suffix == ".md")]


def read_bytes(file: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, refusing one over ``max_bytes``."""
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise SourceError(
                f"{file}: {size:,} bytes is over the limit of {max_bytes:,} bytes per file; "
                "split it into smaller files"
            )
        return file.read_bytes()
    except OSError as e:
        raise SourceError(f"{file}: cannot read ({e.strerror})") from e


def read_text(file: Path) -> str:
    """Read a UTF-8 text file, with an error that names the file when it cannot be read."""
    return decode_text(read_bytes(file), file)


def decode_text(data: bytes, file: Path) -> str:
    """Decode a text file's bytes, refusing binary content with a message naming the file."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise SourceError(
                f"{file}: this is {what}, not text, despite its {file.suffix} extension; "
                "rename it to its real type or export its text"
            )
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in _ALLOWED_CONTROLS)
    # A few stray NULs are stripped at cleaning; this many means the file is not text at all.
    if sample and controls > max(8, len(sample) // 100):
        raise SourceError(
            f"{file}: looks like a binary file ({controls} control bytes in its first "
            f"{len(sample)}), not text; ingest the original document instead"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceError(
            f"{file}: not valid UTF-8 (byte {e.start}); convert it, e.g. `iconv -f GB18030 -t UTF-8`"
        ) from e


def looks_like_page(raw: str) -> bool:
    """A newspaper page closes its articles with affiliation notes or carries bylines."""
    kinds = {b.kind for b in classify(read_lines(raw))}
    return Kind.AFFIL in kinds


def parse_plain(raw: str, source: str, markdown: bool = False) -> Document:
    """One document per file: the title is the first heading (Markdown) or the first line.

    Paragraphs are separated by blank lines; lines inside a paragraph are joined with the
    same Chinese wrapping rules as a newspaper page.
    """
    lines = raw.splitlines()
    title = ""
    title_line = 0
    for i, line in enumerate(lines):
        if line.strip():
            m = _MD_HEADING.match(line.strip()) if markdown else None
            title = m.group(2) if m else line.strip()
            title_line = i + 1
            break
    builder, sections = _paragraphs(lines, markdown=markdown, skip_line=title_line)
    text, line_map = builder.build()
    if not text:  # a file of one line: its line is both title and text
        builder = TextBuilder()
        builder.add_line(title, title_line)
        text, line_map = builder.build()
    # The metadata lines a saved article keeps under its title (来源：… 作者：…) or a speech its
    # speaker's (江川省省长 陈立华): they stay in the text people read, and name its authors.
    meta = _plain_meta(lines[title_line:])
    return Document(
        doc_id=make_doc_id(source, ""),
        title=TextBuilder.clean(title),
        text=text,
        authors=tuple(TextBuilder.clean(a) for a in meta.authors),
        sections=tuple(sections),
        source=source,
        line_map=line_map,
        published=meta.published or find_published(text),
        kind="text",
        site=meta.origin,
        title_lines=(title_line,),
        editors=meta.editors,
    )


def _plain_meta(lines: list[str]) -> LineMeta:
    """What the first and last few non-blank lines of a plain article say as metadata (the
    lines are kept in its text, so which of them are metadata is not needed)."""
    return split_meta_lines([line.strip() for line in lines if line.strip()])[1]


def parse_beir_corpus(raw: str, source: str) -> list[Document]:
    """BEIR ``corpus.jsonl``: one ``{"_id", "title", "text"}`` object per line; ids are kept."""
    docs = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            doc_id, text = str(obj["_id"]), str(obj["text"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise SourceError(
                f"{source}:{n}: expected a JSON object with '_id' and 'text' ({e})"
            ) from e
        docs.append(beir_document(doc_id, str(obj.get("title") or ""), text, source, n))
    return docs


def document_from_text(
    title: str,
    text: str,
    authors: Iterable[str] = (),
    source: str = "api",
    published: str = "",
    kind: str = "text",
) -> Document:
    """A document given directly (e.g. over HTTP): blank-line paragraphs, wrapped lines joined.

    Its id comes from ``source`` and the title, so posting the same title again replaces it.
    ``published`` (``YYYY-MM-DD``) defaults to a date the text states near its top.
    """
    builder, _ = _paragraphs(text.splitlines())
    body, line_map = builder.build()
    clean_title = TextBuilder.clean(title)
    names = (TextBuilder.clean(a) for a in authors)
    return Document(
        doc_id=make_doc_id(source, clean_title),
        title=clean_title,
        text=body,
        authors=tuple(a for a in names if a),
        source=source,
        line_map=line_map,
        published=published or find_published(body),
        kind=kind,
    )


def beir_document(doc_id: str, title: str, text: str, source: str = "", line: int = 0) -> Document:
    """One BEIR corpus record as a document: its id kept, each line of text a paragraph."""
    builder = TextBuilder()
    for para in text.splitlines():
        if para.strip():
            builder.add_line(para, line)
            builder.add_newline(line)
    body, line_map = builder.build()
    return Document(
        doc_id=doc_id,
        title=TextBuilder.clean(title),
        text=body or TextBuilder.clean(title),
        source=source,
        line_map=line_map,
    )


def _paragraphs(
    lines: list[str], markdown: bool = False, skip_line: int = 0
) -> tuple[TextBuilder, list[Section]]:
    """Clean plain-text lines: blank lines separate paragraphs, wrapped lines are joined by
    the Chinese rules, and (in Markdown) ``#`` headings become sections."""
    builder = TextBuilder()
    sections: list[Section] = []
    in_paragraph = False
    for i, line in enumerate(lines, start=1):
        heading = _MD_HEADING.match(line.strip()) if markdown else None
        if i == skip_line or not line.strip() or heading:
            if in_paragraph:
                builder.add_newline(i)
            in_paragraph = False
            if heading and i != skip_line:
                start = len(builder)
                builder.add_line(heading.group(2), i)
                sections.append(Section(title="".join(builder.chars[start:]), start=start))
                builder.add_newline(i)
            continue
        if in_paragraph:
            builder.add_soft_break(i)
        builder.add_line(line, i)
        in_paragraph = True
    return builder, sections
