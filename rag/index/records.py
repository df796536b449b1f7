"""Plain-JSON forms of documents and additions, shared by the chunk store and the write log."""

from __future__ import annotations

import base64
from dataclasses import asdict

import numpy as np

from rag.index.snapshot import Addition
from rag.types import Document, Section


def doc_to_json(doc: Document) -> dict:
    row = asdict(doc)
    row["sections"] = [[s.title, s.start] for s in doc.sections]
    row["line_map"] = [list(p) for p in doc.line_map]
    return row


def doc_from_json(row: dict) -> Document:
    row = dict(row)
    row["authors"] = tuple(row.get("authors", ()))
    row["sections"] = tuple(Section(t, s) for t, s in row.get("sections", ()))
    row["line_map"] = tuple((o, n) for o, n in row.get("line_map", ()))
    row["title_lines"] = tuple(row.get("title_lines", ()))
    row["editors"] = tuple(row.get("editors", ()))  # absent from indexes built before it
    return Document(**row)


def addition_to_record(addition: Addition) -> dict:
    vectors = np.ascontiguousarray(addition.vectors, dtype="<f4")
    return {
        "op": "add",
        "documents": [
            doc_to_json(d) | {"content_hash": h}
            for d, h in zip(addition.documents, addition.hashes, strict=True)
        ],
        "spans": [list(s) for s in addition.spans],
        "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
        # float32 bytes, base64: exact (no decimal round trip) and a third the size of JSON.
        "vectors": base64.b64encode(vectors.tobytes()).decode("ascii"),
        "tokens": [list(t) for t in addition.tokens],
    }


def addition_from_record(record: dict) -> Addition:
    docs, hashes = [], []
    for row in record["documents"]:
        row = dict(row)
        hashes.append(row.pop("content_hash"))
        docs.append(doc_from_json(row))
    dim = record["dim"]
    vectors = np.frombuffer(base64.b64decode(record["vectors"]), dtype="<f4")
    vectors = vectors.astype(np.float32).reshape(-1, dim) if dim else vectors.reshape(0, 0)
    return Addition(
        documents=tuple(docs),
        hashes=tuple(hashes),
        spans=tuple((i, s, e) for i, s, e in record["spans"]),
        vectors=vectors,
        tokens=tuple(tuple(t) for t in record["tokens"]),
    )


def deletion_record(doc_ids: list[str]) -> dict:
    return {"op": "delete", "doc_ids": sorted(doc_ids)}
