"""Saved web pages (news sites, government policy pages): the article and its metadata.

Main-text extraction is trafilatura's (boilerplate, navigation, related-article lists and
comments dropped; title, author, date, site name and URL read from the page's metadata).
What it leaves of the metadata lines Chinese sites print around the body (来源/作者/发布时间
under the title, 责任编辑 under the body) is taken out by :mod:`rag.parsing.metadata`.
"""

from __future__ import annotations

import re

from rag.errors import SourceError
from rag.parsing.cleaning import TextBuilder, ends_sentence
from rag.parsing.dates import parse_date
from rag.parsing.metadata import (
    LineMeta,
    credit_line,
    is_meta_line,
    read_meta,
    split_meta_lines,
    squash,
)
from rag.parsing.page import make_doc_id
from rag.types import Document

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
# GB2312 and GBK pages routinely hold characters only their superset GB18030 defines.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030"}
# "标题--社会--人民网", "标题_中国政府网", "标题 | 新华网": a page title's site tail. A dash
# (——) is left alone: Chinese titles use it themselves.
MIN_PROSE_CHARS = 40
_TITLE_TAIL = re.compile(r"\s*(?:--|_|\||｜)\s*[^-_|｜]{1,20}$")


def decode_html(data: bytes, name: str) -> str:
    """The page as text: the charset its ``<meta>`` declares, else UTF-8, else a guess."""
    candidates = []
    if m := _CHARSET.search(data[:4096]):
        declared = m.group(1).decode("ascii").lower()
        candidates.append(_SUPERSETS.get(declared, declared))
    candidates += ["utf-8", "gb18030"]
    for codec in candidates:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    raise SourceError(f"{name}: cannot tell the page's character encoding; save it as UTF-8")


def parse_html(data: bytes, source: str) -> Document:
    """One saved page as one document.

    Raises:
        SourceError: The page holds no article text (a front page, an index, a login wall).
    """
    import trafilatura

    html = decode_html(data, source)
    extracted = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        deduplicate=True,
    )
    text = (getattr(extracted, "text", None) or "") if extracted is not None else ""
    if not any(_is_prose(line) for line in text.splitlines()):
        raise SourceError(
            f"{source}: no article text found in this page (a front page, a list of links or "
            "a page that loads its text with JavaScript?); save the article's own page"
        )
    title = _site_suffix_removed(extracted.title or "")
    lines = text.splitlines()
    drop, meta = split_meta_lines(lines, title)
    dropped = set(drop)
    body_lines = [line for i, line in enumerate(lines) if i not in dropped and line.strip()]
    if not body_lines:
        raise SourceError(f"{source}: no article text found in this page, only its metadata")
    printed, closing = [], []
    if not (meta.authors and meta.published and meta.origin and meta.editors):
        # The page furniture around the body, parsed once for the lines above and below it.
        blocks = _blocks(html)
        printed, found = _printed_meta(blocks, body_lines[0], title)
        closing = _closing_lines(blocks, body_lines[-1])
        late = read_meta(closing)
        meta = LineMeta(
            authors=meta.authors or found.authors,
            published=meta.published or found.published,
            origin=meta.origin or found.origin,
            editors=meta.editors or found.editors or late.editors,
        )
    # The credit lines (the byline and dateline under the headline, the editor under the body)
    # stay in the text people read, as a plain article keeps them, so that a question about
    # the author, the date or the editor is answered with the line that states it. Tool links
    # (分享到, 【打印】) and the repeated headline are dropped.
    kept = [line for i, line in enumerate(lines) if i not in dropped or credit_line(line)]
    opening = _new_credit_lines(printed, kept)
    ending = _new_credit_lines(closing, kept + opening)
    builder = TextBuilder()
    for lineno, line in enumerate([*opening, *kept, *ending], start=1):
        if line.strip():
            builder.add_line(line, lineno)
            builder.add_newline(lineno)
    body, line_map = builder.build()
    if not title:
        title = body_lines[0].strip()[:40]
    authors = meta.authors or _authors(extracted.author or "")
    # The date the page prints by the article (2024年03月05日05:32 | 来源：…) before trafilatura's:
    # without a date in the page's tags, trafilatura guesses one, and a lone year reads as
    # 1 January (2024-01-01 for a page printed on 5 March).
    published = meta.published or parse_date(extracted.date or "")
    url = extracted.url or ""
    origin = url or source
    return Document(
        doc_id=make_doc_id(origin, TextBuilder.clean(title)),
        title=TextBuilder.clean(title),
        text=body,
        authors=authors,
        site=extracted.sitename or meta.origin,
        source=origin,
        line_map=line_map,
        published=published,
        kind="web",
        editors=meta.editors,
    )


# Elements a page prints its metadata line in (<div class="meta">2024年04月25日 作者：赵一鸣</div>).
_BLOCKS = ("div", "p", "span", "li", "td", "h2", "h3", "h4", "h5", "h6", "section", "header")


def _blocks(html: str) -> list[tuple[str, str]]:
    """The page's block elements in document order (a container before what it holds), each as
    its tag and its text with runs of whitespace made one space; none when lxml cannot parse
    the page."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    return [(e.tag, " ".join(e.text_content().split())) for e in root.iter("h1", *_BLOCKS)]


def _printed_meta(
    blocks: list[tuple[str, str]], first_line: str, title: str = ""
) -> tuple[list[str], LineMeta]:
    """The metadata lines a page prints between its title and its body, which the extractor
    drops with the page furniture (a ``<div class="meta">`` under the headline): read from the
    headline (``title``) up to the element holding the body's first line, so that a sidebar
    before it or a list of related articles after the body, with their own authors, is never
    read."""
    opening = first_line.strip()[:20]
    headline = squash(title)
    lines: list[str] = []
    for tag, text in blocks:
        if opening and opening in text:
            if headline and headline in squash(text):
                continue  # a container of the whole article, headline and all
            break
        if headline and squash(text) == headline:
            lines = []  # the headline: what a sidebar printed before it is another article's
        elif tag != "h1" and is_meta_line(text):
            lines.append(text)
    return lines, read_meta(lines)


_CLOSING_REACH = 4  # elements after the body's last line where a closing 责任编辑 line sits


def _closing_lines(blocks: list[tuple[str, str]], last_line: str) -> list[str]:
    """The metadata lines a page prints right after the body (``<div class="editor">责任编辑：
    王晓东</div>``, which the extractor drops): read only from the few elements after the one
    holding the body's last line, so a list of related articles further on is never read."""
    closing = squash(last_line)[-20:]
    texts = [text for tag, text in blocks if tag != "h1"]
    # Blocks come in document order, a container before what it holds: the last block holding
    # the body's last line is the innermost, and the blocks after it follow the body.
    last = max((i for i, text in enumerate(texts) if closing in squash(text)), default=-1)
    after = texts[last + 1 : last + 1 + _CLOSING_REACH] if closing and last >= 0 else []
    return [text for text in after if is_meta_line(text)]


def _new_credit_lines(lines: list[str], text_lines: list[str]) -> list[str]:
    """The credit lines of ``lines`` that the text does not hold yet. An element and the spans
    inside it (<div class="info"><span>2024-05-13</span><span>来源：…</span></div>) print the
    same words: a line within one taken before is left out."""
    out: list[str] = []
    held = "\n".join(squash(line) for line in text_lines)
    for line in lines:
        squashed = squash(line)
        if credit_line(line) and squashed not in held:
            out.append(line)
            held += "\n" + squashed
    return out


def _is_prose(line: str) -> bool:
    """A line of running text: a sentence, or long. A page of nothing but short link texts
    (a front page, a column index) has no article even when the extractor returns them."""
    s = line.strip()
    return len(s) >= MIN_PROSE_CHARS or (len(s) >= 6 and ends_sentence(s))


def _authors(value: str) -> tuple[str, ...]:
    names = [TextBuilder.clean(a) for a in re.split(r"[;；,，、|/]+|\s{2,}", value)]
    return tuple(n for n in names if n)


def _site_suffix_removed(title: str) -> str:
    """``社区食堂试点扩大--社会--人民网`` -> ``社区食堂试点扩大`` (the page title's site tail)."""
    title = title.strip()
    for _ in range(3):
        shorter = _TITLE_TAIL.sub("", title)
        if shorter == title or len(shorter) < 4:
            break
        title = shorter
    return title
