"""The documents resource: list, read, add, delete."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.schemas import (
    DeletedDocument,
    DocumentIn,
    DocumentOut,
    DocumentSummary,
    document_out,
    document_summary,
)
from rag.errors import InputError
from rag.parsing.loaders import document_from_text
from rag.search.filters import check_date
from rag.types import DOCUMENT_KINDS

router = APIRouter(prefix="/documents", tags=["documents"])


@router.get("", response_model=list[DocumentSummary])
def list_documents(engine: EngineDep) -> list[DocumentSummary]:
    return [document_summary(d, engine.chunk_count(d.doc_id)) for d in engine.documents()]


@router.get("/{doc_id}", response_model=DocumentOut)
def get_document(doc_id: str, engine: EngineDep) -> DocumentOut:
    doc = engine.document(doc_id)
    return document_out(doc, engine.chunk_count(doc_id))


@router.post("", response_model=DocumentSummary, status_code=201)
async def add_document(body: DocumentIn, engine: EngineDep) -> DocumentSummary:
    """Add (or replace, same title and source) one document; it is searchable at once."""
    if not body.title.strip():
        raise InputError("title must not be empty: give the article a title", "title")
    if not body.text.strip():
        raise InputError("text must not be empty: send the article's body", "text")
    published = (body.published or "").strip()
    check_date(published, "published")
    if body.kind not in DOCUMENT_KINDS:
        raise InputError(
            f"kind must be one of {', '.join(DOCUMENT_KINDS)}, got {body.kind!r}", "kind"
        )
    doc = document_from_text(
        body.title, body.text, body.authors, body.source or "api", published, body.kind
    )
    await run_in_threadpool(engine.add_document, doc)
    return document_summary(doc, engine.chunk_count(doc.doc_id))


@router.delete("/{doc_id}", response_model=DeletedDocument)
async def delete_document(doc_id: str, engine: EngineDep) -> DeletedDocument:
    """Remove one document and its passages from the index."""
    removed = await run_in_threadpool(engine.delete_document, doc_id)
    return DeletedDocument(deleted=doc_id, chunks_removed=removed)
