"""Assembling a newspaper page's blocks into articles.

An affiliation note closes each article. Between two notes come, in some order: the next
article's column label, its pull quote, its title and its byline, then its body. An article
with no title in front of its body has it printed after its end: the first heading after its
affiliation note. A box label (``开 栏 的 话``) introduces a box whose title is the heading after
the label and whose text is the paragraph that no article claims.

Anything the rules cannot place goes into an "unplaced" document rather than being dropped.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

from rag.parsing.cleaning import TextBuilder, clean_inline, clean_title, ends_sentence
from rag.parsing.dates import find_published
from rag.parsing.layout import Block, Kind, classify, label_text, read_lines
from rag.types import Document, Section

logger = logging.getLogger(__name__)

UNPLACED_TITLE = "未归类内容"
# A pull quote repeats the body almost verbatim; the column's introduction box does not.
PULL_QUOTE_OVERLAP = 0.6
# A line this much shorter than its paragraph's column is more than an indented first line.
TITLE_SLACK = 3.0


@dataclass
class _Article:
    title_blocks: list[Block] = field(default_factory=list)
    authors: tuple[str, ...] = ()
    column: str = ""
    body: list[Block] = field(default_factory=list)
    prefix_paras: list[Block] = field(default_factory=list)
    affiliation: Block | None = None
    is_box: bool = False

    @property
    def needs_title(self) -> bool:
        return not self.title_blocks


def parse_page(raw_text: str, source: str = "") -> list[Document]:
    """Parse one OCR'd newspaper page into its articles.

    Args:
        raw_text: The page's text as read from the file.
        source: Where it came from (used in document ids and citations).

    Returns:
        The articles in page order, then the box and unplaced documents if any.
    """
    blocks = classify(read_lines(raw_text))
    articles: list[_Article] = []
    boxes: list[_Article] = []
    leftovers: list[Block] = []

    segments: list[list[Block]] = [[]]
    for block in blocks:
        segments[-1].append(block)
        if block.kind is Kind.AFFIL:
            segments.append([])

    tail_paras: list[Block] = []
    for segment in segments:
        closed = bool(segment) and segment[-1].kind is Kind.AFFIL
        previous = articles[-1] if articles else None
        if closed:
            articles.append(_read_article(segment, previous, boxes, leftovers))
        else:
            tail_paras = _read_tail(segment, previous, boxes, leftovers)

    _place_prefix_paragraphs(articles, boxes, leftovers)
    # Paragraphs after the last article fill a box still without text, else stay unplaced.
    for para in tail_paras:
        empty_box = next((b for b in boxes if not b.body), None)
        (empty_box.body if empty_box is not None else leftovers).append(para)
    docs = [_to_document(a, source) for a in articles + boxes]
    if leftovers:
        docs.append(_unplaced_document(leftovers, source))
    _dedupe_ids(docs)
    return docs


def _read_article(
    segment: list[Block], previous: _Article | None, boxes: list[_Article], leftovers: list[Block]
) -> _Article:
    article = _Article(affiliation=segment[-1])
    inner = segment[:-1]
    if previous is not None and previous.needs_title:
        inner = _peel_title(inner)
    bylines = [i for i, b in enumerate(inner) if b.kind is Kind.BYLINE]
    if bylines:
        start = bylines[-1] + 1
        # Two or more authors may share one line or get one line each.
        first = bylines[-1]
        while first > 0 and inner[first - 1].kind is Kind.BYLINE:
            first -= 1
        article.authors = tuple(
            name for b in inner[first:start] for name in b.lines[0].text.split()
        )
        prefix = inner[:first]
    else:
        start = _first_body_index(inner)
        prefix = inner[:start]
    article.body = inner[start:]
    candidates = _read_prefix(prefix, article, boxes, leftovers)
    if previous is not None and previous.needs_title and candidates:
        previous.title_blocks.append(candidates.pop(0))
    if candidates:
        article.title_blocks.append(candidates.pop(0))
    leftovers.extend(candidates)
    return article


def _peel_title(blocks: list[Block]) -> list[Block]:
    """The previous article's title when it was set right against the next paragraph.

    An article printed without a title in front has it after its affiliation note; with no
    blank line between that title and the next article's first paragraph, the two read as
    one block. The first line is the title when it is no sentence's end and shorter than the
    paragraph's column by more than a first line's indent.
    """
    if not blocks or blocks[0].kind is not Kind.PARA or len(blocks[0].lines) < 3:
        return blocks
    first, *rest = blocks[0].lines
    column = max(line.width for line in rest[:4])
    if ends_sentence(first.text) or first.width > column - TITLE_SLACK:
        return blocks
    return [Block(Kind.HEAD, [first]), Block(Kind.PARA, rest), *blocks[1:]]


def _first_body_index(blocks: list[Block]) -> int:
    """Without a byline, the body starts at the first paragraph not owned by a box label."""
    i = 0
    while i < len(blocks):
        kind = blocks[i].kind
        if kind is Kind.BOXMARK:
            i += 2  # the label and its title
            continue
        if kind is Kind.PARA:
            return i
        i += 1
    return len(blocks)


def _read_prefix(
    prefix: list[Block], article: _Article, boxes: list[_Article], leftovers: list[Block]
) -> list[Block]:
    """Sort what precedes an article's body; return the headings that may be titles."""
    candidates: list[Block] = []
    i = 0
    while i < len(prefix):
        block = prefix[i]
        if block.kind is Kind.LABEL:
            article.column = label_text(block.lines[0])
        elif block.kind is Kind.BOXMARK:
            i += _open_box(prefix[i:], boxes)
            continue
        elif block.kind is Kind.HEAD:
            candidates.append(block)
        elif block.kind is Kind.PARA:
            article.prefix_paras.append(block)
        else:
            leftovers.append(block)
        i += 1
    return candidates


def _open_box(blocks: list[Block], boxes: list[_Article]) -> int:
    """Start a box at a box label; return how many blocks it consumed."""
    box = _Article(column=re.sub(r"\s+", "", blocks[0].lines[0].text), is_box=True)
    boxes.append(box)
    if len(blocks) > 1 and blocks[1].kind is Kind.HEAD:
        box.title_blocks.append(blocks[1])
        return 2
    return 1


def _read_tail(
    segment: list[Block], previous: _Article | None, boxes: list[_Article], leftovers: list[Block]
) -> list[Block]:
    """What follows the last affiliation note: late titles, box labels, stray text.

    Returns the paragraphs found there, to be placed once the boxes are known.
    """
    paras: list[Block] = []
    if previous is not None and previous.needs_title:
        segment = _peel_title(segment)
    i = 0
    while i < len(segment):
        block = segment[i]
        if block.kind is Kind.HEAD and previous is not None and previous.needs_title:
            previous.title_blocks.append(block)
        elif block.kind is Kind.BOXMARK:
            i += _open_box(segment[i:], boxes)
            continue
        elif block.kind is Kind.PARA:
            paras.append(block)
        else:
            leftovers.append(block)
        i += 1
    return paras


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:], strict=False)}


def _place_prefix_paragraphs(
    articles: list[_Article], boxes: list[_Article], leftovers: list[Block]
) -> None:
    """Pull quotes become standfirsts; other paragraphs before a byline go to an empty box."""
    for article in articles:
        body = _bigrams("".join(line.text for b in article.body for line in b.lines))
        for para in article.prefix_paras:
            grams = _bigrams("".join(line.text for line in para.lines))
            overlap = len(grams & body) / max(len(grams), 1)
            if overlap >= PULL_QUOTE_OVERLAP:
                continue  # kept as the standfirst
            article.prefix_paras = [p for p in article.prefix_paras if p is not para]
            empty_box = next((b for b in boxes if not b.body), None)
            if empty_box is not None:
                empty_box.body.append(para)
            else:
                leftovers.append(para)


def _to_document(article: _Article, source: str) -> Document:
    builder = TextBuilder()
    sections: list[Section] = []
    blocks = list(article.body)
    if article.affiliation is not None:
        blocks.append(article.affiliation)
    for block in blocks:
        start = len(builder)
        _append_block(builder, block)
        if block.kind is Kind.HEAD:
            sections.append(Section(title="".join(builder.chars[start:]).strip(), start=start))
        builder.add_newline(block.lines[-1].no)
    text, line_map = builder.build()
    title_lines = [line for b in article.title_blocks for line in b.lines]
    title = clean_title([line.raw for line in title_lines]) if title_lines else ""
    if not title:
        title = _fallback_title(text)
    affiliation = ""
    if article.affiliation is not None:
        affiliation = clean_inline([line.raw for line in article.affiliation.lines])
        affiliation = re.sub(r"^[(（]\s*|\s*[)）]$", "", affiliation)
    standfirst = "\n".join(
        clean_inline([line.raw for line in p.lines]) for p in article.prefix_paras
    )
    return Document(
        doc_id=make_doc_id(source, title),
        title=title,
        text=text,
        authors=article.authors,
        affiliation=affiliation,
        column=article.column,
        standfirst=standfirst,
        sections=tuple(sections),
        source=source,
        line_map=line_map,
        kind="page",
        published=find_published(text),
        title_lines=tuple(line.no for line in title_lines),
    )


def _append_block(builder: TextBuilder, block: Block) -> None:
    for k, line in enumerate(block.lines):
        if k:
            builder.add_soft_break(line.no)
        builder.add_line(line.raw, line.no)


def _unplaced_document(blocks: list[Block], source: str) -> Document:
    builder = TextBuilder()
    for block in blocks:
        _append_block(builder, block)
        builder.add_newline(block.lines[-1].no)
    text, line_map = builder.build()
    logger.warning("%s: %d block(s) could not be placed in an article", source, len(blocks))
    return Document(
        doc_id=make_doc_id(source, UNPLACED_TITLE),
        title=UNPLACED_TITLE,
        text=text,
        source=source,
        line_map=line_map,
        kind="page",
    )


def _fallback_title(text: str) -> str:
    first = re.split(r"[。!?！？\n]", text, maxsplit=1)[0]
    return first[:30] + ("…" if len(first) > 30 else "")


def make_doc_id(source: str, title: str) -> str:
    """A stable id from where a document comes from and its title (not its content).

    Keeping the content out of the id is what lets a changed article replace its old
    version in the index instead of sitting beside it.
    """
    name = source.rsplit("/", 1)[-1]
    stem = re.sub(r"[^0-9A-Za-z]+", "-", name.rsplit(".", 1)[0]).strip("-")
    # The file name, not its path: the same file ingested from another folder or working
    # directory is the same document.
    digest = hashlib.sha1(f"{name}\x00{title}".encode()).hexdigest()[:10]
    return f"{stem or 'doc'}-{digest}"


def _dedupe_ids(docs: list[Document]) -> None:
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        n = seen.get(doc.doc_id, 0)
        seen[doc.doc_id] = n + 1
        if n:
            object.__setattr__(docs[i], "doc_id", f"{doc.doc_id}-{n + 1}")
