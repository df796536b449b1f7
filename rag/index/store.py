"""An index as a folder: manifest, FAISS file, keyword index, chunk and document store.

Layout (all plain files, no pickle)::

    manifest.json    format and package version, model, dimension, chunker, fingerprint, counts
    documents.jsonl  one cleaned document per line (text, metadata, line map)
    chunks.jsonl     one chunk per line, in the row order of the two search structures
    vectors.npy      unit-length embeddings, row i = chunk i
    dense.faiss      FAISS structure derived from vectors.npy
    tokens.jsonl     keyword tokens of each chunk; bm25/ holds the BM25 matrices

Saving writes a complete new folder beside the old one and swaps it in with renames, so a
crash mid-build leaves the previous index usable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag import __version__
from rag.chunking import Chunker, ChunkerSettings, embedding_text
from rag.embedding.base import Encoder
from rag.errors import IndexMismatchError, NotFoundError
from rag.index.dense import DenseIndex
from rag.index.keyword import KeywordIndex
from rag.index.tokenize import tokenize
from rag.parsing.cleaning import TEXT_VERSION
from rag.types import Chunk, Document, Section

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with `rag ingest --rebuild` (or delete the folder)"


@dataclass(frozen=True)
class IngestReport:
    """What an ingest changed."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    skipped: tuple[tuple[str, str], ...] = ()  # (file, why) for files of a batch left out


def content_hash(doc: Document) -> str:
    """Hash of everything about a document that ends up in the index."""
    payload = json.dumps(_doc_to_json(doc), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Index:
    """Documents, their chunks, and the dense and keyword structures over the chunks.

    Construction is cheap; :meth:`load` reads a saved folder. Mutations happen in memory
    and become durable with :meth:`save`.
    """

    def __init__(
        self,
        encoder: Encoder,
        chunker: Chunker | None = None,
        ann: str = "auto",
    ) -> None:
        self.encoder = encoder
        self.chunker = chunker or Chunker()
        self.documents: dict[str, Document] = {}
        self.hashes: dict[str, str] = {}
        self.chunks: list[Chunk] = []
        self.dense = DenseIndex(encoder.dim, ann)
        self.keyword = KeywordIndex()
        self.built_at = ""
        self._rows: tuple[dict[str, int], dict[str, list[int]]] | None = None

    # ---- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.chunks)

    def document(self, doc_id: str) -> Document:
        try:
            return self.documents[doc_id]
        except KeyError:
            raise NotFoundError(
                f"no document with id {doc_id!r}; list them with GET /documents or `rag documents`"
            ) from None

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        return [self.chunks[row] for row in self._lookup()[1].get(doc_id, ())]

    def row(self, chunk_id: str) -> int:
        """Row of a chunk in the search structures."""
        return self._lookup()[0][chunk_id]

    def _lookup(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        # Built once per change of the chunk list, not per query: searches map hits back to
        # rows and enumerations look up a document's chunks.
        if self._rows is None:
            by_id: dict[str, int] = {}
            by_doc: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                by_id[chunk.chunk_id] = row
                by_doc.setdefault(chunk.doc_id, []).append(row)
            self._rows = (by_id, by_doc)
        return self._rows

    def fingerprint(self) -> str:
        """Identifies the indexed corpus: same documents, same fingerprint."""
        h = hashlib.sha256()
        for doc_id in sorted(self.hashes):
            h.update(f"{doc_id}:{self.hashes[doc_id]}\n".encode())
        return h.hexdigest()[:16]

    # ---- writing -------------------------------------------------------------------------
    def add_documents(self, docs: list[Document], progress: bool = False) -> IngestReport:
        """Add new documents, replace changed ones, skip identical ones (no re-embedding)."""
        added, replaced, unchanged, to_index = [], [], [], []
        for doc in docs:
            digest = content_hash(doc)
            old = self.hashes.get(doc.doc_id)
            if old == digest:
                unchanged.append(doc.doc_id)
                continue
            (replaced if old is not None else added).append(doc.doc_id)
            to_index.append(doc)
        removed = self._remove(set(replaced))
        new_chunks = self.chunker.split_all(to_index)
        if new_chunks:
            texts = [embedding_text(c) for c in new_chunks]
            vectors = self.encoder.encode_documents(texts, progress=progress)
            self.dense.add(vectors)
            self.keyword.add([tokenize(t) for t in texts])
            self.chunks.extend(new_chunks)
            self._rows = None
        for doc in to_index:
            self.documents[doc.doc_id] = doc
            self.hashes[doc.doc_id] = content_hash(doc)
        return IngestReport(
            tuple(added), tuple(replaced), tuple(unchanged), len(new_chunks), removed
        )

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and all its chunks; return how many chunks went."""
        self.document(doc_id)
        removed = self._remove({doc_id})
        del self.documents[doc_id]
        del self.hashes[doc_id]
        return removed

    def _remove(self, doc_ids: set[str]) -> int:
        if not doc_ids:
            return 0
        mask = np.array([c.doc_id not in doc_ids for c in self.chunks], dtype=bool)
        removed = int((~mask).sum())
        if removed:
            self.chunks = [c for c, keep in zip(self.chunks, mask, strict=True) if keep]
            self._rows = None
            self.dense.keep(mask)
            self.keyword.keep(mask)
        return removed

    # ---- persistence ---------------------------------------------------------------------
    def manifest(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "text_version": TEXT_VERSION,
            "package_version": __version__,
            "model": self.encoder.name,
            "dim": self.encoder.dim,
            "chunker": self.chunker.settings.as_dict(),
            "ann": self.dense.ann,
            "ann_kind": self.dense.kind,
            "fingerprint": self.fingerprint(),
            "documents": len(self.documents),
            "chunks": len(self.chunks),
            "built_at": self.built_at,
        }

    def save(self, folder: str | Path) -> None:
        """Write the index to ``folder`` atomically (build beside, then swap by rename)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        for stale in folder.parent.glob(f"{folder.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = folder.parent / f"{folder.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        tmp.mkdir()
        self.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            self._write(tmp)
            _swap_in(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, folder: Path) -> None:
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
            for doc_id, doc in self.documents.items():
                row = _doc_to_json(doc) | {"content_hash": self.hashes[doc_id]}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as f:
            for chunk in self.chunks:
                f.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        self.dense.save(folder)
        self.keyword.save(folder)
        # The manifest goes last: a folder without one is never mistaken for a finished index.
        _write_json(folder / "manifest.json", self.manifest())

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder, chunker: Chunker | None = None) -> Index:
        """Load a saved index, refusing one built with another model or format.

        Raises:
            NotFoundError: There is no index in ``folder``.
            IndexMismatchError: It was built with another format version, model or dimension.
        """
        folder = Path(folder)
        _recover(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise NotFoundError(f"no index in {folder}; build one with `rag ingest`")
        manifest = json.loads(manifest_path.read_text())
        check_manifest(manifest, encoder, folder)
        chunker = chunker or Chunker(ChunkerSettings(**manifest["chunker"]))
        index = cls(encoder, chunker, manifest.get("ann", "auto"))
        with open(folder / "documents.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                index.hashes[row["doc_id"]] = row.pop("content_hash")
                index.documents[row["doc_id"]] = _doc_from_json(row)
        with open(folder / "chunks.jsonl", encoding="utf-8") as f:
            index.chunks = [_chunk_from_json(json.loads(line)) for line in f]
        index.dense = DenseIndex.load(folder, encoder.dim, manifest.get("ann", "auto"))
        index.keyword = KeywordIndex.load(folder)
        index.built_at = manifest.get("built_at", "")
        if not (len(index.chunks) == len(index.dense) == len(index.keyword)):
            raise IndexMismatchError(f"index in {folder} is inconsistent; {REBUILD_HINT}")
        return index


def check_manifest(manifest: dict, encoder: Encoder, folder: Path) -> None:
    """Refuse an index this code or this model cannot use, saying how to rebuild it."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {folder} has format {manifest.get('format_version')}, this version "
            f"reads format {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    # Indexes from before the text version was recorded had version 1 (punctuation folded).
    if manifest.get("text_version", 1) != TEXT_VERSION:
        raise IndexMismatchError(
            f"index in {folder} holds text cleaned by older rules (text version "
            f"{manifest.get('text_version', 1)}; this version keeps full-width punctuation as "
            f"printed and is version {TEXT_VERSION}), so its offsets no longer match; {REBUILD_HINT}"
        )
    if manifest.get("model") != encoder.name or manifest.get("dim") != encoder.dim:
        raise IndexMismatchError(
            f"index in {folder} was built with model {manifest.get('model')!r} "
            f"(dim {manifest.get('dim')}), but the configured model is {encoder.name!r} "
            f"(dim {encoder.dim}); {REBUILD_HINT}, or configure the model it was built with"
        )


def read_manifest(folder: str | Path) -> dict | None:
    path = Path(folder) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def _swap_in(new: Path, folder: Path) -> None:
    old = folder.parent / f"{folder.name}.old-{os.getpid()}"
    if folder.exists():
        os.rename(folder, old)
    os.rename(new, folder)
    shutil.rmtree(old, ignore_errors=True)


def _recover(folder: Path) -> None:
    """Finish a swap that a crash interrupted between its two renames."""
    if folder.exists():
        return
    olds = sorted(folder.parent.glob(f"{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and (olds[-1] / "manifest.json").exists():
        logger.warning("restoring %s from %s after an interrupted save", folder, olds[-1])
        os.rename(olds[-1], folder)


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2))
    os.replace(tmp, path)


def _doc_to_json(doc: Document) -> dict:
    row = asdict(doc)
    row["sections"] = [[s.title, s.start] for s in doc.sections]
    row["line_map"] = [list(p) for p in doc.line_map]
    return row


def _doc_from_json(row: dict) -> Document:
    row = dict(row)
    row["authors"] = tuple(row.get("authors", ()))
    row["sections"] = tuple(Section(t, s) for t, s in row.get("sections", ()))
    row["line_map"] = tuple((o, n) for o, n in row.get("line_map", ()))
    row["title_lines"] = tuple(row.get("title_lines", ()))
    return Document(**row)


def _chunk_from_json(row: dict) -> Chunk:
    row = dict(row)
    row["authors"] = tuple(row.get("authors", ()))
    row["lines"] = tuple(row.get("lines", (0, 0)))
    return Chunk(**row)
