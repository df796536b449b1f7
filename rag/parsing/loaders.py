"""Reading documents from files and folders: newspaper pages, plain text, Markdown, BEIR JSONL."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from rag.errors import SourceError
from rag.parsing.cleaning import TextBuilder
from rag.parsing.layout import Kind, classify, read_lines
from rag.parsing.page import make_doc_id, parse_page
from rag.types import Document, Section

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def load_documents(paths: Iterable[str | Path]) -> list[Document]:
    """Load every document from the given files and folders, in a stable order.

    Raises:
        SourceError: A path does not exist, has an unsupported type, or is not valid UTF-8.
    """
    docs: list[Document] = []
    for path in paths:
        docs.extend(load_path(Path(path)))
    return docs


def iter_source_files(path: Path) -> list[Path]:
    """The supported files under ``path`` (itself if it is a file), sorted."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUPPORTED_SUFFIXES)
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(
            f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return [path]


def load_path(path: Path) -> list[Document]:
    """Load one file, or every supported file under a folder."""
    docs: list[Document] = []
    for file in iter_source_files(path):
        raw = read_text(file)
        if not raw.strip():
            logger.warning("%s: empty file skipped", file)
            continue
        source = file.as_posix()
        if file.suffix == ".jsonl":
            docs.extend(parse_beir_corpus(raw, source))
        elif file.suffix == ".txt" and looks_like_page(raw):
            docs.extend(parse_page(raw, source))
        else:
            docs.append(parse_plain(raw, source, markdown=file.suffix == ".md"))
    return docs


def read_text(file: Path) -> str:
    """Read a UTF-8 file, with an error that names the file when it cannot be read."""
    try:
        data = file.read_bytes()
    except OSError as e:
        raise SourceError(f"{file}: cannot read ({e.strerror})") from e
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
    return Document(
        doc_id=make_doc_id(source, ""),
        title=TextBuilder.clean(title),
        text=text,
        sections=tuple(sections),
        source=source,
        line_map=line_map,
        title_lines=(title_line,),
    )


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
    title: str, text: str, authors: Iterable[str] = (), source: str = "api"
) -> Document:
    """A document given directly (e.g. over HTTP): blank-line paragraphs, wrapped lines joined.

    Its id comes from ``source`` and the title, so posting the same title again replaces it.
    """
    builder, _ = _paragraphs(text.splitlines())
    body, line_map = builder.build()
    clean_title = TextBuilder.clean(title)
    return Document(
        doc_id=make_doc_id(source, clean_title),
        title=clean_title,
        text=body,
        authors=tuple(a.strip() for a in authors if a.strip()),
        source=source,
        line_map=line_map,
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
