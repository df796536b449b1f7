"""Request and response models of the HTTP API (kept apart from the library's own types)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

from rag.search.filters import Filters
from rag.search.searcher import MAX_QUERY_CHARS, MAX_TOP_K
from rag.types import Answer, Citation, Document, Hit, SearchResult, Turn

_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}


def between(lo: int, hi: int) -> WrapValidator:
    """Report either bound's violation as one ``out_of_range`` error naming both bounds.

    The bounds themselves are ``Field(ge=lo, le=hi)`` next to it, so /openapi.json shows them.
    """

    def check(value, handler):
        try:
            return handler(value)
        except ValidationError as e:
            if any(err["type"] in _RANGE_ERRORS for err in e.errors()):
                raise PydanticCustomError(
                    "out_of_range", "must be between {lo} and {hi}", {"lo": lo, "hi": hi}
                ) from None
            raise

    return WrapValidator(check)


#: Strict: ``true``, ``"5"`` and ``5.0`` are refused rather than read as 1 or 5.
TopK = Annotated[int, Field(strict=True, ge=1, le=MAX_TOP_K), between(1, MAX_TOP_K)]
MAX_TITLE_CHARS = 300


class FilterFields(BaseModel):
    """Optional conditions on the documents a search or answer draws from."""

    published_after: str | None = Field(
        None, description="Only documents published on or after this date (YYYY-MM-DD)."
    )
    published_before: str | None = Field(
        None, description="Only documents published on or before this date (YYYY-MM-DD)."
    )
    source: str | None = Field(
        None, description="Only documents whose source (file name or URL) is this or starts so."
    )
    kind: str | None = Field(
        None, description="Only documents of this kind: page, web, pdf, docx, text."
    )
    doc_ids: list[str] | None = Field(None, description="Only these documents.")

    def filters(self) -> Filters | None:
        return Filters.make(
            self.published_after, self.published_before, self.source, self.kind, self.doc_ids
        )


class SearchRequest(FilterFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"query": "职业伤害保障试点有哪四个亮点？", "top_k": 5, "mode": "hybrid"},
                {
                    "query": "How many people were covered by the injury insurance pilot?",
                    "top_k": 3,
                },
                {"query": "新就业形态", "published_after": "2023-01-01", "kind": "web"},
            ]
        }
    )
    query: str = Field(
        max_length=MAX_QUERY_CHARS, description="The question or keywords, in Chinese or English."
    )
    top_k: TopK = Field(5, description="How many passages to return.")
    mode: Literal["hybrid", "dense", "keyword"] = Field(
        "hybrid", description="Both retrievers fused, or one of them alone."
    )
    expand: bool = Field(
        True,
        description="Pull up the other items of a list the query asks for (hybrid mode); "
        "false ranks the passages as retrieved.",
    )


class HistoryCitation(BaseModel):
    """A citation of an earlier answer, as /ask returned it (extra fields are ignored)."""

    n: int
    doc_id: str = ""
    chunk_id: str = ""
    title: str = ""
    quote: str = ""
    start: int = 0
    end: int = 0


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation: its question, and the answer /ask gave."""

    question: str = Field(description="The earlier question, as asked.")
    answer: str = Field("", description="The answer text /ask returned for it.")
    citations: list[HistoryCitation] = Field(
        default_factory=list, description="The citations /ask returned with that answer."
    )


class AskRequest(FilterFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "职业伤害保障试点有哪四个亮点？"},
                {
                    "question": "第二个亮点具体指什么？",
                    "history": [
                        {
                            "question": "职业伤害保障试点有哪四个亮点？",
                            "answer": "1. 其一，精准回应了平台从业人员目前面临的最大职业风险。[1]\n"
                            "2. 其二，在缴费方式上实现了一定的突破和创新。[2]",
                        }
                    ],
                },
                {
                    "question": "What are the four highlights of the injury-insurance pilot?",
                    "top_k": 5,
                },
            ]
        }
    )
    question: str = Field(
        max_length=MAX_QUERY_CHARS, description="The question, in Chinese or English."
    )
    top_k: TopK = Field(5, description="How many passages to draw the answer from.")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns of the conversation, oldest first (at most 20): a "
        "follow-up such as 第二个亮点具体指什么？ is resolved against them.",
    )


class DocumentIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "社区食堂试点扩大",
                    "text": "本市社区食堂试点扩大到20个街道。\n\n试点食堂为老年人提供优惠餐。",
                    "authors": ["张三"],
                    "source": "example.txt",
                }
            ]
        }
    )
    title: str = Field(max_length=MAX_TITLE_CHARS, description="The article's title.")
    text: str = Field(description="The article's body; blank lines separate paragraphs.")
    authors: list[str] = Field(default_factory=list)
    source: str = Field("api", description="Where it comes from (part of its id).")
    published: str | None = Field(
        None,
        description="Publication date, YYYY-MM-DD (default: a date the text states near its top).",
    )
    kind: str = Field("text", description="page, web, pdf, docx or text.")


class HitOut(BaseModel):
    rank: int
    score: float
    scores: dict[str, float]
    ranks: dict[str, int]
    chunk_id: str
    doc_id: str
    title: str
    authors: list[str]
    section: str
    text: str
    start: int
    end: int
    lines: list[int]


class SearchResponse(BaseModel):
    query: str
    mode: str
    hits: list[HitOut]
    answerable: bool
    timings_ms: dict[str, float]


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    title: str
    authors: list[str]
    section: str
    quote: str
    start: int
    end: int
    lines: list[int]


class AskResponse(BaseModel):
    question: str
    answer: str
    answerable: bool
    note: str
    citations: list[CitationOut]
    passages: list[HitOut]
    timings_ms: dict[str, float]


class DeletedDocument(BaseModel):
    deleted: str = Field(description="The id of the removed document.")
    chunks_removed: int = Field(description="How many passages left the index with it.")


class Health(BaseModel):
    status: Literal["ok", "starting"]
    version: str
    model: str = Field(description="The embedding model's name.")
    documents: int
    chunks: int
    index_built_at: str = Field(description="When the index was built (ISO 8601), or empty.")
    read_only: bool = Field(description="Whether document changes are refused.")
    generation: bool = Field(description="Whether a language model phrases the answers.")


class DocumentSummary(BaseModel):
    id: str
    title: str
    authors: list[str]
    affiliation: str
    column: str
    source: str
    published: str
    kind: str
    site: str
    characters: int
    chunks: int


class SectionOut(BaseModel):
    title: str
    start: int = Field(description="Offset of the section's first character in the text.")


class DocumentOut(DocumentSummary):
    text: str
    standfirst: str
    sections: list[SectionOut]


def hit_out(hit: Hit) -> HitOut:
    c = hit.chunk
    return HitOut(
        rank=hit.rank,
        score=round(hit.score, 6),
        scores={k: round(v, 6) for k, v in hit.scores.items()},
        ranks=dict(hit.ranks),
        chunk_id=c.chunk_id,
        doc_id=c.doc_id,
        title=c.title,
        authors=list(c.authors),
        section=c.section,
        text=c.text,
        start=c.start,
        end=c.end,
        lines=list(c.lines),
    )


def search_response(result: SearchResult) -> SearchResponse:
    return SearchResponse(
        query=result.query,
        mode=result.mode,
        hits=[hit_out(h) for h in result.hits],
        answerable=result.answerable,
        timings_ms=result.timings_ms,
    )


def citation_out(c: Citation) -> CitationOut:
    # The response model's fields are the citation's own: pydantic reads them off it.
    return CitationOut.model_validate(c, from_attributes=True)


def ask_response(answer: Answer) -> AskResponse:
    return AskResponse(
        question=answer.question,
        answer=answer.text,
        answerable=answer.answerable,
        note=answer.note,
        citations=[citation_out(c) for c in answer.citations],
        passages=[hit_out(h) for h in answer.passages],
        timings_ms=answer.timings_ms,
    )


def document_summary(doc: Document, chunks: int) -> DocumentSummary:
    return DocumentSummary(
        id=doc.doc_id,
        title=doc.title,
        authors=list(doc.authors),
        affiliation=doc.affiliation,
        column=doc.column,
        source=doc.source,
        published=doc.published,
        kind=doc.kind,
        site=doc.site,
        characters=len(doc.text),
        chunks=chunks,
    )


def document_out(doc: Document, chunks: int) -> DocumentOut:
    return DocumentOut(
        **document_summary(doc, chunks).model_dump(),
        text=doc.text,
        standfirst=doc.standfirst,
        sections=[SectionOut(title=s.title, start=s.start) for s in doc.sections],
    )


def history_turns(turns: list[HistoryTurn]) -> tuple[Turn, ...]:
    """The library's :class:`Turn` records for an /ask request's history."""
    return tuple(
        Turn(
            question=t.question,
            answer=t.answer,
            citations=tuple(
                Citation(
                    n=c.n,
                    doc_id=c.doc_id,
                    chunk_id=c.chunk_id,
                    title=c.title,
                    quote=c.quote,
                    start=c.start,
                    end=c.end,
                )  # fmt: skip
                for c in t.citations
            ),
        )
        for t in turns
    )
