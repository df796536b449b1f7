"""Request and response models of the HTTP API (kept apart from the library's own types)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.types import Answer, Citation, Document, Hit, SearchResult


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"query": "职业伤害保障试点有哪四个亮点？", "top_k": 5, "mode": "hybrid"},
                {
                    "query": "How many people were covered by the injury insurance pilot?",
                    "top_k": 3,
                },
            ]
        }
    )
    query: str = Field(description="The question or keywords, in Chinese or English.")
    top_k: int = Field(5, description="How many passages to return (1-100).")
    mode: str = Field("hybrid", description="hybrid, dense or keyword.")
    expand: bool = Field(
        True,
        description="Pull up the other items of a list the query asks for (hybrid mode); "
        "false ranks the passages as retrieved.",
    )


class AskRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "职业伤害保障试点有哪四个亮点？"},
                {
                    "question": "What are the four highlights of the injury-insurance pilot?",
                    "top_k": 5,
                },
            ]
        }
    )
    question: str = Field(description="The question, in Chinese or English.")
    top_k: int = Field(5, description="How many passages to draw the answer from (1-100).")


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
    title: str = Field(description="The article's title.")
    text: str = Field(description="The article's body; blank lines separate paragraphs.")
    authors: list[str] = Field(default_factory=list)
    source: str = Field("api", description="Where it comes from (part of its id).")


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


class DocumentSummary(BaseModel):
    id: str
    title: str
    authors: list[str]
    affiliation: str
    column: str
    source: str
    characters: int
    chunks: int


class DocumentOut(DocumentSummary):
    text: str
    standfirst: str
    sections: list[dict[str, Any]]


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
    return CitationOut(
        n=c.n,
        doc_id=c.doc_id,
        chunk_id=c.chunk_id,
        title=c.title,
        authors=list(c.authors),
        section=c.section,
        quote=c.quote,
        start=c.start,
        end=c.end,
        lines=list(c.lines),
    )


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
        characters=len(doc.text),
        chunks=chunks,
    )


def document_out(doc: Document, chunks: int) -> DocumentOut:
    return DocumentOut(
        **document_summary(doc, chunks).model_dump(),
        text=doc.text,
        standfirst=doc.standfirst,
        sections=[{"title": s.title, "start": s.start} for s in doc.sections],
    )
