"""An index as a folder: a compacted base plus a write-ahead log, served as snapshots.

Layout (all plain files, no pickle)::

    manifest.json    format and package version, model, dimension, chunker, fingerprint, counts
    documents.jsonl  one cleaned document per line (text, metadata, line map)
    chunks.jsonl     one chunk per line as [doc_id, start, end], in the row order of the two
                     search structures (text, title and byline come from the document)
    vectors.npy      unit-length embeddings, row i = chunk i
    dense.faiss      FAISS structure derived from vectors.npy
    tokens.jsonl     keyword tokens of each chunk; bm25/ holds the BM25 matrices
    wal.jsonl        additions and deletions since the base was written (``rag.index.wal``)

A write appends one record to the log and fsyncs it before it returns, so it costs what it adds,
not what the index holds. Compaction writes a complete new base beside the folder and swaps it
in with renames (``rag.index.files``), so a crash at any point leaves either the old base with
its whole log or the new base. Readers never touch the folder: they use the :class:`Snapshot`
that the last write published.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag import __version__
from rag.chunking import Chunker, ChunkerSettings, embedding_text
from rag.embedding.base import Encoder
from rag.errors import IndexMismatchError, NotFoundError
from rag.index.dense import DenseIndex
from rag.index.files import recover, swap_in, temporary_folder
from rag.index.keyword import KeywordIndex
from rag.index.records import (
    addition_from_record,
    addition_to_record,
    deletion_record,
    doc_from_json,
    doc_to_json,
)
from rag.index.snapshot import Addition, Snapshot, make_chunk
from rag.index.tokenize import tokenize
from rag.index.wal import LOG_NAME, WriteLog, crash_point, fsync_dir, read_log
from rag.parsing.cleaning import TEXT_VERSION
from rag.types import Chunk, Document

logger = logging.getLogger(__name__)

# 2: chunks stored as offsets into their document, write-ahead log (format 1 copied the text,
# title and byline into every chunk and rewrote the whole folder on every write).
FORMAT_VERSION = 2
# Format 1 folders are read as they are (their chunk rows carry the offsets too) and rewritten
# as format 2 by the first compaction, which a writable engine runs on opening one.
READABLE_FORMATS = (1, 2)
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
    # Where the time went: embed (the model), index (chunk, tokenise, next snapshot), log.
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)


def content_hash(doc: Document) -> str:
    """Hash of everything about a document that ends up in the index."""
    payload = json.dumps(doc_to_json(doc), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class Index:
    """Documents, their chunks, and the dense and keyword structures over the chunks.

    The state is an immutable :class:`Snapshot` (:attr:`snapshot`); every write builds the
    next one and publishes it with one reference assignment, so a reader holding a snapshot
    needs no lock. Writes are serialised by a lock of their own. An index made with the
    constructor lives in memory until :meth:`save`; one from :meth:`load` (or after
    :meth:`attach`) logs every write to its folder durably before publishing it.
    """

    def __init__(
        self,
        encoder: Encoder,
        chunker: Chunker | None = None,
        ann: str = "auto",
    ) -> None:
        self.encoder = encoder
        self.chunker = chunker or Chunker()
        self.ann = ann
        self._snapshot = Snapshot.empty(encoder, self.chunker, ann)
        self._folder: Path | None = None
        self._log: WriteLog | None = None
        self._write_lock = threading.RLock()
        self.format_version = FORMAT_VERSION  # of the folder it was loaded from

    # ---- reading (all from the current snapshot) -----------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        """The current state; it never changes, later writes publish new ones."""
        return self._snapshot

    @property
    def documents(self):
        return self._snapshot.documents

    @property
    def hashes(self):
        return self._snapshot.hashes

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return self._snapshot.chunks

    @property
    def dense(self) -> DenseIndex:
        return self._snapshot.dense

    @property
    def keyword(self) -> KeywordIndex:
        return self._snapshot.keyword

    @property
    def built_at(self) -> str:
        return self._snapshot.built_at

    def __len__(self) -> int:
        return len(self._snapshot)

    def document(self, doc_id: str) -> Document:
        return self._snapshot.document(doc_id)

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """The chunks of one document, in order."""
        return self._snapshot.chunks_of(doc_id)

    def row(self, chunk_id: str) -> int:
        """Row of a chunk in the search structures."""
        return self._snapshot.row(chunk_id)

    def fingerprint(self) -> str:
        """Identifies the indexed corpus: same documents, same fingerprint."""
        return self._snapshot.fingerprint()

    @property
    def folder(self) -> Path | None:
        """The folder writes are logged to (None for an index only in memory)."""
        return self._folder

    @property
    def log_records(self) -> int:
        """Writes logged since the base was written (what a compaction would fold in)."""
        return self._log.records if self._log is not None else 0

    # ---- writing -------------------------------------------------------------------------
    def add_documents(self, docs: list[Document], progress: bool = False) -> IngestReport:
        """Add new documents, replace changed ones, skip identical ones (no re-embedding)."""
        # One document per id, the last one given: two with one id would leave orphan chunks.
        docs = list({doc.doc_id: doc for doc in docs}.values())
        with self._write_lock:
            snap = self._snapshot
            added, replaced, unchanged, to_index, digests = [], [], [], [], []
            for doc in docs:
                digest = content_hash(doc)
                old = snap.hashes.get(doc.doc_id)
                if old == digest:
                    unchanged.append(doc.doc_id)
                    continue
                (replaced if old is not None else added).append(doc.doc_id)
                to_index.append(doc)
                digests.append(digest)
            removed = sum(len(snap.chunks_of(d)) for d in replaced)
            if not to_index:
                return IngestReport(unchanged=tuple(unchanged))
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            addition = self.prepare_addition(to_index, digests, progress, timings)
            following = snap.added(addition)
            t1 = time.perf_counter()
            self._commit(addition_to_record(addition), following)
            timings["index"] = round((t1 - t0) * 1000 - timings["embed"], 1)
            timings["log"] = round((time.perf_counter() - t1) * 1000, 1)
        return IngestReport(
            tuple(added),
            tuple(replaced),
            tuple(unchanged),
            len(addition.spans),
            removed,
            timings_ms=timings,
        )

    def prepare_addition(
        self,
        docs: list[Document],
        digests: list[str],
        progress: bool = False,
        timings: dict[str, float] | None = None,
    ) -> Addition:
        """Chunk, embed and tokenise documents: the slow part of a write, done before it."""
        spans, texts = [], []
        for i, doc in enumerate(docs):
            for chunk in self.chunker.split(doc):
                spans.append((i, chunk.start, chunk.end))
                texts.append(embedding_text(chunk))
        t0 = time.perf_counter()
        if texts:
            vectors = self.encoder.encode_documents(texts, progress=progress)
        else:
            vectors = DenseIndex(self.encoder.dim).vectors
        if timings is not None:
            timings["embed"] = round((time.perf_counter() - t0) * 1000, 1)
        return Addition(
            documents=tuple(docs),
            hashes=tuple(digests),
            spans=tuple(spans),
            vectors=vectors,
            tokens=tuple(tuple(t) for t in tokenize_chunks(texts)),
        )

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and all its chunks; return how many chunks went."""
        with self._write_lock:
            snap = self._snapshot
            snap.document(doc_id)
            removed = len(snap.chunks_of(doc_id))
            self._commit(deletion_record([doc_id]), snap.deleted({doc_id}))
        return removed

    def _commit(self, record: dict, snapshot: Snapshot) -> None:
        # Durable first, visible second: no reader ever sees a write a crash could take back.
        if self._log is not None:
            self._log.append(record)
        self._snapshot = snapshot

    # ---- persistence ---------------------------------------------------------------------
    def manifest(self) -> dict:
        snap = self._snapshot
        return {
            "format_version": FORMAT_VERSION,
            "text_version": TEXT_VERSION,
            "package_version": __version__,
            "model": self.encoder.name,
            "dim": self.encoder.dim,
            # Which runtime built the vectors (torch-fp32, onnx-int8...): informative, since a
            # query encoder of the same model on another runtime is compatible (cosine >= 0.99).
            "runtime": self.encoder.runtime,
            "chunker": self.chunker.settings.as_dict(),
            "ann": snap.dense.ann,
            "ann_kind": snap.dense.kind,
            "fingerprint": snap.fingerprint(),
            "documents": len(snap.documents),
            "chunks": len(snap.chunks),
            "built_at": snap.built_at,
            "answerability": _answerability(self.encoder.name),
        }

    def save(self, folder: str | Path) -> None:
        """Write the whole index to ``folder`` atomically (build beside, then swap by rename).

        Saving to the folder the index is attached to compacts it (see :meth:`compact`).
        """
        folder = Path(folder)
        with self._write_lock:
            if self._folder is not None and folder.absolute() == self._folder.absolute():
                self.compact()
                return
            self._write_base(folder)

    def attach(self, folder: str | Path) -> None:
        """Log every later write to ``folder``, which must hold this index as saved."""
        with self._write_lock:
            self._folder = Path(folder)
            records, size = read_log(self._folder / LOG_NAME)
            self._log = WriteLog(self._folder, len(records), size)

    def compact(self) -> None:
        """Fold the log into a new base of the attached folder (writes wait meanwhile)."""
        with self._write_lock:
            if self._folder is None or self._log is None:
                raise NotFoundError("this index has no folder to compact; save it first")
            self._log.close()
            self._write_base(self._folder)
            self._log = WriteLog(self._folder)
            self.format_version = FORMAT_VERSION

    def close(self) -> None:
        """Close the log file (the index stays readable)."""
        with self._write_lock:
            if self._log is not None:
                self._log.close()

    def _write_base(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_folder(folder)
        # Same state, new time stamp: readers may take this snapshot as it is.
        self._snapshot = replace(self._snapshot, built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        try:
            self._write(tmp)
            crash_point("base-written")
            swap_in(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write(self, folder: Path) -> None:
        snap = self._snapshot
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
            for doc_id, doc in snap.documents.items():
                row = doc_to_json(doc) | {"content_hash": snap.hashes[doc_id]}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as f:
            for chunk in snap.chunks:
                f.write(json.dumps([chunk.doc_id, chunk.start, chunk.end], ensure_ascii=False))
                f.write("\n")
        snap.dense.save(folder)
        snap.keyword.save(folder)
        _sync_tree(folder)
        # The manifest goes last: a folder without one is never mistaken for a finished index.
        _write_json(folder / "manifest.json", self.manifest())
        fsync_dir(folder)

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder, chunker: Chunker | None = None) -> Index:
        """Load a saved index and replay its log, refusing one built with another model or format.

        The index comes back attached to ``folder``: later writes are logged there.

        Raises:
            NotFoundError: There is no index in ``folder``.
            IndexMismatchError: It was built with another format version, model or dimension.
        """
        folder = Path(folder)
        recover(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise NotFoundError(f"no index in {folder}; build one with `rag ingest`")
        manifest = json.loads(manifest_path.read_text())
        check_manifest(manifest, encoder, folder)
        chunker = chunker or Chunker(ChunkerSettings(**manifest["chunker"]))
        index = cls(encoder, chunker, manifest.get("ann", "auto"))
        documents, hashes = {}, {}
        with open(folder / "documents.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                hashes[row["doc_id"]] = row.pop("content_hash")
                documents[row["doc_id"]] = doc_from_json(row)
        with open(folder / "chunks.jsonl", encoding="utf-8") as f:
            chunks = tuple(make_chunk(documents[d], s, e) for d, s, e in map(_span, f))
        dense = DenseIndex.load(folder, encoder.dim, manifest.get("ann", "auto"))
        keyword = KeywordIndex.load(folder)
        if not (len(chunks) == len(dense) == len(keyword)):
            raise IndexMismatchError(f"index in {folder} is inconsistent; {REBUILD_HINT}")
        snap = Snapshot.create(
            encoder, chunker, documents, hashes, chunks, dense, keyword,
            manifest.get("built_at", ""), prepare=False,
        )  # fmt: skip
        records, size = read_log(folder / LOG_NAME)
        for record in records:
            snap = apply_record(snap, record)
        snap.dense.prepare()
        snap.keyword.prepare()
        if records:
            logger.info("replayed %d logged writes over the index in %s", len(records), folder)
        index._snapshot = snap
        index._folder = folder
        index._log = WriteLog(folder, len(records), size)
        index.format_version = manifest["format_version"]
        return index


def tokenize_chunks(texts: list[str]) -> list[list[str]]:
    """Keyword tokens of each chunk's embedding text, its header tokenised once per document.

    Every chunk of a document repeats the same header (title, byline, section) above its
    text; BM25 counts tokens, not their order, so the header's tokens are reused. Only a header
    ending in a digit is tokenised with its text, where a number could run on into a unit
    (``2023`` + ``年``).
    """
    header_tokens: dict[str, list[str]] = {}
    out = []
    for text in texts:
        header, _, body = text.partition("\n")
        if not header or header[-1].isdigit():
            out.append(tokenize(text))
            continue
        if header not in header_tokens:
            header_tokens[header] = tokenize(header)
        out.append(header_tokens[header] + tokenize(body))
    return out


def apply_record(snap: Snapshot, record: dict) -> Snapshot:
    """The snapshot after one logged write (structures left for the caller to prepare)."""
    if record.get("op") == "add":
        return snap.added(addition_from_record(record), prepare=False)
    if record.get("op") == "delete":
        return snap.deleted(set(record["doc_ids"]), prepare=False)
    raise IndexMismatchError(f"unknown write {record.get('op')!r} in the index log; {REBUILD_HINT}")


def check_manifest(manifest: dict, encoder: Encoder, folder: Path) -> None:
    """Refuse an index this code or this model cannot use, saying how to rebuild it."""
    if manifest.get("format_version") not in READABLE_FORMATS:
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
            f"(dim {manifest.get('dim')}, runtime {manifest.get('runtime', 'unknown')}), but "
            f"the configured model is {encoder.name!r} (dim {encoder.dim}, runtime "
            f"{encoder.runtime}); its vectors are not comparable: {REBUILD_HINT}, or configure "
            "the model it was built with"
        )
    if manifest.get("runtime") not in (None, encoder.runtime):
        # Same model, other runtime (e.g. built with torch, queried with ONNX int8): allowed.
        logger.info(
            "index in %s was built with runtime %s, queried with %s (same model %r)",
            folder,
            manifest.get("runtime"),
            encoder.runtime,
            encoder.name,
        )


def _span(line: str) -> tuple[str, int, int]:
    row = json.loads(line)
    if isinstance(row, dict):  # format 1: the whole chunk
        return row["doc_id"], row["start"], row["end"]
    return row[0], row[1], row[2]


def read_manifest(folder: str | Path) -> dict | None:
    path = Path(folder) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _sync_tree(folder: Path) -> None:
    # A rename is only as durable as the data it points at: sync every file before the swap.
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif path.is_dir():
            fsync_dir(path)


def _answerability(model: str) -> dict:
    """The answerability thresholds searches of this index use, with the model they were
    calibrated for (None when they were not: another model borrows nothing from e5)."""
    from dataclasses import asdict

    from rag.search.answerability import thresholds_for

    thresholds, calibrated = thresholds_for(model)
    return {
        "model": model if calibrated else None,
        "thresholds": asdict(thresholds) if calibrated else None,
        "rule": "cosine and word coverage" if calibrated else "word coverage only",
    }
