"""The ``milvus`` index backend: chunks, vectors, BM25 and documents in Milvus.

``MilvusClient(uri)``: a local path means Milvus Lite, embedded in this process (one process
per path); ``http://host:19530`` means a Milvus server or cluster, which any number of
service replicas and ingest workers share. Everything a replica needs lives in Milvus, so
replicas share nothing but the address.

Collections (``<prefix>_...``):

* ``chunks``: one row per chunk: ids, offsets, line range, title, authors, section, the
  verbatim text; the embedded text (title | authors | section + text) analysed by Milvus's
  jieba tokenizer and turned into a sparse vector by Milvus's BM25 function; the dense
  vector (AUTOINDEX, inner product on unit vectors = cosine).
* ``documents``: each cleaned document (text, metadata, line map) as JSON, split into parts
  a VARCHAR holds.
* ``terms``: the keyword vocabulary (the project's own tokens, as the FAISS backend's BM25
  sees them), for the cross-lingual dictionary and the answerability check. Milvus exposes
  no term list of its BM25 index, hence this collection. Terms are added, never removed:
  a deleted document's words still count as "in the corpus" (a slightly looser check).
* ``meta``: model, dimension, chunker and format the index was built with, checked on open.

Only what Milvus Lite and Milvus 2.5/2.6 servers share is used: the jieba analyzer, AUTOINDEX,
a sparse inverted index with the BM25 metric, RRF fusion, strong consistency. Milvus Lite
returns BM25 scores negated, so nothing depends on their sign: legs are ranked by the order
Milvus returns, fused by ranks (RRF), and reported as absolute values.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.chunking import Chunker, ChunkerSettings, embedding_text
from rag.embedding.base import Encoder
from rag.errors import IndexMismatchError, InputError, NotFoundError
from rag.index.backend import AUTHOR_MARK, Scored
from rag.index.records import doc_from_json, doc_to_json
from rag.index.store import IngestReport, content_hash
from rag.index.tokenize import tokenize
from rag.types import Chunk, Document

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
REBUILD_HINT = "rebuild it with `rag ingest --rebuild --backend milvus`"
# VARCHAR max_length counts bytes: 16,000 characters stay under 65,535 bytes even if every
# character takes four bytes in UTF-8.
PART_CHARS = 16_000
MAX_VARCHAR = 65_535
MAX_ID = 512
WRITE_BATCH = 256
QUERY_WINDOW = 16_384
# Every Milvus collection needs a vector field; the bookkeeping collections carry this
# two-dimensional placeholder.
_SLOT = [1.0, 0.0]
_CHUNK_FIELDS = [
    "chunk_id", "doc_id", "title", "text", "start", "end", "authors", "section",
    "line_first", "line_last",
]  # fmt: skip
_STRONG = {"consistency_level": "Strong"}


@dataclass(frozen=True)
class IngestPlan:
    """What an ingest will change, decided before any chunk is written."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]
    unchanged: tuple[str, ...]
    todo: tuple[Document, ...]
    chunks_removed: int

    def report(self, chunks_added: int) -> IngestReport:
        return IngestReport(
            self.added, self.replaced, self.unchanged, chunks_added, self.chunks_removed
        )


def is_server_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


class MilvusBackend:
    """Search and documents over Milvus collections (see the module docstring)."""

    name = "milvus"

    def __init__(
        self,
        uri: str,
        encoder: Encoder,
        chunker: Chunker | None = None,
        prefix: str = "rag",
        client=None,
    ) -> None:
        self.uri = str(uri)
        self.encoder = encoder
        self.chunker = chunker or Chunker()
        self.prefix = prefix
        self.client = client or connect(self.uri)
        self.c_chunks = f"{prefix}_chunks"
        self.c_docs = f"{prefix}_documents"
        self.c_terms = f"{prefix}_terms"
        self.c_meta = f"{prefix}_meta"
        self._documents = _DocumentView(self)
        self._load()

    def _load(self) -> None:
        # Collections written by another process come back released (Milvus Lite reopening
        # its folder, a restarted server): load them before any query. Idempotent.
        for name in (self.c_chunks, self.c_docs, self.c_terms, self.c_meta):
            if self.client.has_collection(name):
                self.client.load_collection(name)

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        uri: str,
        encoder: Encoder,
        chunker_settings: ChunkerSettings | None = None,
        prefix: str = "rag",
        rebuild: bool = False,
    ) -> MilvusBackend:
        """Open the index at ``uri``, creating empty collections if there are none.

        Raises:
            IndexMismatchError: It was built with another model, dimension, chunker or format.
        """
        backend = cls(uri, encoder, Chunker(chunker_settings or ChunkerSettings()), prefix)
        if rebuild:
            backend.drop()
        meta = backend.manifest()
        if meta is not None:
            backend.check(meta, chunker_settings)
            backend.chunker = Chunker(ChunkerSettings(**meta["chunker"]))
        backend._create()
        return backend

    @classmethod
    def probe(cls, uri: str, prefix: str = "rag") -> bool:
        """Whether an index was built at ``uri``, without creating anything there."""
        if not is_server_uri(uri) and not Path(uri).exists():
            return False
        client = connect(uri)
        try:
            name = f"{prefix}_meta"
            if not client.has_collection(name):
                return False
            client.load_collection(name)
            return bool(client.get(name, ids=["manifest"]))
        finally:
            client.close()

    def exists(self) -> bool:
        """Whether an index was built here (its manifest is written with the first ingest)."""
        return self.manifest() is not None

    def manifest(self) -> dict | None:
        if not self.client.has_collection(self.c_meta):
            return None
        rows = self.client.get(self.c_meta, ids=["manifest"], output_fields=["value"])
        return json.loads(rows[0]["value"]) if rows else None

    def check(self, meta: dict, chunker_settings: ChunkerSettings | None) -> None:
        where = f"Milvus index at {self.uri} (collections {self.prefix}_*)"
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{where} has format {meta.get('format_version')}, this version reads format "
                f"{FORMAT_VERSION}; {REBUILD_HINT}"
            )
        if meta.get("model") != self.encoder.name or meta.get("dim") != self.encoder.dim:
            raise IndexMismatchError(
                f"{where} was built with model {meta.get('model')!r} (dim {meta.get('dim')}), "
                f"but the configured model is {self.encoder.name!r} (dim {self.encoder.dim}); "
                f"{REBUILD_HINT}, or configure the model it was built with"
            )

    def drop(self) -> None:
        for name in (self.c_chunks, self.c_docs, self.c_terms, self.c_meta):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        if not c.has_collection(self.c_chunks):
            s = c.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID)
            s.add_field("doc_id", DataType.VARCHAR, max_length=MAX_ID)
            s.add_field("title", DataType.VARCHAR, max_length=MAX_VARCHAR)
            s.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
            s.add_field(
                "search_text",
                DataType.VARCHAR,
                max_length=MAX_VARCHAR,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "jieba"},
            )
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("dense", DataType.FLOAT_VECTOR, dim=self.encoder.dim)
            for name in ("start", "end", "line_first", "line_last"):
                s.add_field(name, DataType.INT64)
            s.add_field("authors", DataType.VARCHAR, max_length=MAX_VARCHAR)
            s.add_field("section", DataType.VARCHAR, max_length=MAX_VARCHAR)
            s.add_function(
                Function(
                    name="bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=["search_text"],
                    output_field_names=["sparse"],
                )
            )
            ip = c.prepare_index_params()
            ip.add_index("dense", index_type="AUTOINDEX", metric_type="IP")
            ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            c.create_collection(self.c_chunks, schema=s, index_params=ip, **_STRONG)
        self._create_keyed(self.c_docs, "part_id", [
            ("doc_id", DataType.VARCHAR, MAX_ID),
            ("part", DataType.INT64, None),
            ("parts", DataType.INT64, None),
            ("content_hash", DataType.VARCHAR, 64),
            ("payload", DataType.VARCHAR, MAX_VARCHAR),
        ])  # fmt: skip
        self._create_keyed(self.c_terms, "term", [])
        self._create_keyed(self.c_meta, "key", [("value", DataType.VARCHAR, MAX_VARCHAR)])

    def _create_keyed(self, name: str, key: str, fields: list) -> None:
        from pymilvus import DataType

        c = self.client
        if c.has_collection(name):
            return
        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field(key, DataType.VARCHAR, is_primary=True, max_length=MAX_ID + 16)
        for fname, ftype, length in fields:
            if length is None:
                s.add_field(fname, ftype)
            else:
                s.add_field(fname, ftype, max_length=length)
        s.add_field("slot", DataType.FLOAT_VECTOR, dim=len(_SLOT))
        ip = c.prepare_index_params()
        ip.add_index("slot", index_type="AUTOINDEX", metric_type="L2")
        c.create_collection(name, schema=s, index_params=ip, **_STRONG)

    def _write_manifest(self) -> None:
        meta = {
            "format_version": FORMAT_VERSION,
            "backend": self.name,
            "model": self.encoder.name,
            "dim": self.encoder.dim,
            "chunker": self.chunker.settings.as_dict(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.client.upsert(
            self.c_meta, [{"key": "manifest", "value": json.dumps(meta), "slot": _SLOT}]
        )

    # ---- reading -------------------------------------------------------------------------
    @property
    def documents(self) -> Mapping[str, Document]:
        return self._documents

    @property
    def built_at(self) -> str:
        meta = self.manifest()
        return meta.get("built_at", "") if meta else ""

    def __len__(self) -> int:
        return self._count(self.c_chunks, "")

    def _count(self, collection: str, expr: str) -> int:
        rows = self.client.query(collection, filter=expr, output_fields=["count(*)"], **_STRONG)
        return int(rows[0]["count(*)"]) if rows else 0

    def document(self, doc_id: str) -> Document:
        doc = self._fetch_document(doc_id)
        if doc is None:
            raise NotFoundError(
                f"no document with id {doc_id!r}; list them with GET /documents or `rag documents`"
            )
        return doc

    def _fetch_document(self, doc_id: str) -> Document | None:
        rows = self.client.query(
            self.c_docs,
            filter=f"doc_id == {_lit(doc_id)}",
            output_fields=["part", "parts", "payload"],
            **_STRONG,
        )
        if not rows:
            return None
        rows.sort(key=lambda r: r["part"])
        if len(rows) != rows[0]["parts"]:
            return None  # being written or deleted right now by another replica
        return doc_from_json(json.loads("".join(r["payload"] for r in rows)))

    def _hashes(self, doc_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, str] = {}
        for i in range(0, len(ids), WRITE_BATCH):
            rows = self.client.query(
                self.c_docs,
                filter=f"part == 0 and doc_id in {_lit_list(ids[i : i + WRITE_BATCH])}",
                output_fields=["doc_id", "content_hash"],
                **_STRONG,
            )
            out.update((r["doc_id"], r["content_hash"]) for r in rows)
        return out

    def doc_ids(self) -> list[str]:
        return [r["doc_id"] for r in self._query_all(self.c_docs, "part == 0", ["doc_id"])]

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        # query() returns at most 16,384 rows on a server; past that, page with an iterator
        # (Milvus Lite logs a harmless fallback when it starts one, so only then).
        rows = self.client.query(
            collection, filter=expr, output_fields=fields, limit=QUERY_WINDOW, **_STRONG
        )
        if len(rows) < QUERY_WINDOW:
            return rows
        it = self.client.query_iterator(
            collection, batch_size=1000, filter=expr, output_fields=fields, **_STRONG
        )
        rows: list[dict] = []
        try:
            while batch := it.next():
                rows.extend(batch)
        finally:
            it.close()
        return rows

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self.client.query(
            self.c_chunks,
            filter=f"doc_id == {_lit(doc_id)}",
            output_fields=_CHUNK_FIELDS,
            **_STRONG,
        )
        chunks = [_chunk_from_row(r) for r in rows]
        return sorted(chunks, key=lambda c: (c.start, c.end))

    def known_terms(self, terms: Iterable[str]) -> set[str]:
        wanted = [t for t in dict.fromkeys(terms) if 0 < len(t.encode()) <= MAX_ID]
        found: set[str] = set()
        for i in range(0, len(wanted), WRITE_BATCH):
            rows = self.client.get(
                self.c_terms, ids=wanted[i : i + WRITE_BATCH], output_fields=["term"]
            )
            found.update(r["term"] for r in rows)
        return found

    # ---- searching -----------------------------------------------------------------------
    def dense_search(
        self, qvec: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        res = self.client.search(
            self.c_chunks,
            data=[_vec(qvec)],
            anns_field="dense",
            limit=k,
            filter=_doc_filter(doc_ids),
            output_fields=_CHUNK_FIELDS,
            search_params={"metric_type": "IP"},
            **_STRONG,
        )
        return [Scored(_chunk_from_row(h["entity"]), float(h["distance"])) for h in res[0]]

    def keyword_search(
        self, text: str, terms: Sequence[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[Scored]:
        query = _keyword_text(text, terms)
        if not query:
            return []
        res = self.client.search(
            self.c_chunks,
            data=[query],
            anns_field="sparse",
            limit=k,
            filter=_doc_filter(doc_ids),
            output_fields=_CHUNK_FIELDS,
            search_params={"metric_type": "BM25"},
            **_STRONG,
        )
        return [Scored(_chunk_from_row(h["entity"]), abs(float(h["distance"]))) for h in res[0]]

    def hybrid_search(
        self,
        qvec: np.ndarray,
        text: str,
        terms: Sequence[str],
        k: int,
        doc_ids: Collection[str] | None = None,
    ) -> list[Scored]:
        """Both legs in one request, fused inside Milvus by its RRF ranker (k = 60)."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expr = _doc_filter(doc_ids)
        requests = [
            AnnSearchRequest([_vec(qvec)], "dense", {"metric_type": "IP"}, k, expr=expr or None)
        ]
        query = _keyword_text(text, terms)
        if query:
            requests.append(
                AnnSearchRequest([query], "sparse", {"metric_type": "BM25"}, k, expr=expr or None)
            )
        res = self.client.hybrid_search(
            self.c_chunks, requests, RRFRanker(60), limit=k, output_fields=_CHUNK_FIELDS, **_STRONG
        )
        return [Scored(_chunk_from_row(h["entity"]), float(h["distance"])) for h in res[0]]

    # ---- writing -------------------------------------------------------------------------
    def add_documents(self, docs: list[Document], progress: bool = False) -> IngestReport:
        """Add new documents, replace changed ones, skip identical ones (no re-embedding)."""
        return self._add(docs, None, progress)

    def add_embedded(
        self, docs: list[Document], chunks: list[Chunk], vectors: np.ndarray
    ) -> IngestReport:
        """Add documents whose chunks were split and embedded elsewhere (Ray workers)."""
        return self._add(docs, (chunks, np.asarray(vectors, dtype=np.float32)), False)

    def _add(
        self,
        docs: list[Document],
        embedded: tuple[list[Chunk], np.ndarray] | None,
        progress: bool,
    ) -> IngestReport:
        plan = self.prepare(docs)
        if embedded is None:
            chunks = self.chunker.split_all(plan.todo)
            vectors = None
        else:
            wanted = {d.doc_id for d in plan.todo}
            keep = [i for i, c in enumerate(embedded[0]) if c.doc_id in wanted]
            chunks = [embedded[0][i] for i in keep]
            vectors = embedded[1][keep] if keep else np.zeros((0, self.encoder.dim), np.float32)
        for i in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[i : i + WRITE_BATCH]
            if vectors is None:
                vecs = self.encoder.encode_documents(
                    [embedding_text(c) for c in batch], progress=progress
                )
            else:
                vecs = vectors[i : i + WRITE_BATCH]
            self.write_chunks(batch, vecs)
        self.write_documents(plan.todo)
        return plan.report(len(chunks))

    def prepare(self, docs: list[Document]) -> IngestPlan:
        """Sort documents into added, replaced and unchanged, and remove the chunks of the
        replaced ones; the caller then writes the chunks of ``todo``, then its documents."""
        for doc in docs:
            if not doc.doc_id or len(doc.doc_id.encode()) > MAX_ID:
                raise InputError(f"document ids must be 1 to {MAX_ID} bytes long: {doc.doc_id!r}")
        # The last of several documents with one id wins, as in the FAISS backend.
        latest = {doc.doc_id: doc for doc in docs}
        old = self._hashes(latest)
        added, replaced, unchanged, todo = [], [], [], []
        for doc in latest.values():
            if old.get(doc.doc_id) == content_hash(doc):
                unchanged.append(doc.doc_id)
                continue
            (replaced if doc.doc_id in old else added).append(doc.doc_id)
            todo.append(doc)
        if not self.exists():
            self._write_manifest()
        removed = sum(self._remove(doc_id) for doc_id in replaced)
        return IngestPlan(tuple(added), tuple(replaced), tuple(unchanged), tuple(todo), removed)

    def write_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Upsert embedded chunks and their keyword terms (safe from several workers)."""
        texts = [embedding_text(c) for c in chunks]
        rows = [_chunk_row(c, t, v) for c, t, v in zip(chunks, texts, vectors, strict=True)]
        for i in range(0, len(rows), WRITE_BATCH):
            self.client.upsert(self.c_chunks, rows[i : i + WRITE_BATCH])
        terms = sorted(
            {t for text in texts for t in tokenize(text) if 0 < len(t.encode()) <= MAX_ID}
        )
        for j in range(0, len(terms), 1000):
            self.client.upsert(
                self.c_terms, [{"term": t, "slot": _SLOT} for t in terms[j : j + 1000]]
            )

    def write_documents(self, docs: Sequence[Document]) -> None:
        """Upsert documents; they go in after their chunks, so a listed document is searchable."""
        for doc in docs:
            self.client.upsert(self.c_docs, _doc_rows(doc))
        # Authors are metadata, not text: kept as marked terms so a question naming one is
        # known to be about the corpus (rag.search.answerability.gather_evidence's names).
        authors = sorted({AUTHOR_MARK + a for d in docs for a in d.authors if a})
        if authors:
            self.client.upsert(self.c_terms, [{"term": t, "slot": _SLOT} for t in authors])
        if docs:
            self._write_manifest()

    def delete_document(self, doc_id: str) -> int:
        """Remove a document and all its chunks; return how many chunks went."""
        self.document(doc_id)
        removed = self._remove(doc_id)
        self._write_manifest()
        return removed

    def _remove(self, doc_id: str) -> int:
        expr = f"doc_id == {_lit(doc_id)}"
        removed = self._count(self.c_chunks, expr)
        self.client.delete(self.c_docs, filter=expr)
        self.client.delete(self.c_chunks, filter=expr)
        return removed

    def save(self, folder: Path | None = None) -> None:
        """Every write is already durable in Milvus; nothing to do."""

    # What the engine asks of a store (rag.index.store.Index), for Milvus: it is read live,
    # so the published "snapshot" is the backend itself; Milvus compacts on its own.
    @property
    def snapshot(self) -> MilvusBackend:
        return self

    @property
    def log_records(self) -> int:
        return 0

    @property
    def format_version(self) -> int:
        # The engine upgrades stores older than the FAISS folder format; Milvus collections
        # carry their own format in the manifest, checked on open.
        from rag.index.store import FORMAT_VERSION as STORE_FORMAT

        return STORE_FORMAT

    def compact(self) -> None:
        """Milvus compacts its segments itself."""

    def close(self) -> None:
        self.client.close()


class _DocumentView(Mapping[str, Document]):
    """The documents in Milvus as a read-only mapping, fetched on access (never cached:
    another replica may replace a document, and citations must slice the current text)."""

    def __init__(self, backend: MilvusBackend) -> None:
        self._backend = backend

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._backend._fetch_document(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and bool(self._backend._hashes([doc_id]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._backend.doc_ids())

    def __len__(self) -> int:
        return self._backend._count(self._backend.c_docs, "part == 0")

    def values(self):  # one query per document, in id order
        return [self[d] for d in sorted(self)]


def connect(uri: str):
    """A MilvusClient for ``uri`` (a local path starts Milvus Lite in this process)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise IndexMismatchError(
            f"the milvus backend needs pymilvus and milvus-lite ({e}): pip install -e '.[scale]'"
        ) from e
    if not is_server_uri(uri):
        path = Path(uri)
        if (path / "manifest.json").exists():
            raise IndexMismatchError(
                f"{uri} is a FAISS index folder, not a Milvus Lite database: use "
                "--backend faiss, or point --milvus-uri elsewhere"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    return MilvusClient(str(uri))


def _keyword_text(text: str, terms: Sequence[str]) -> str:
    # Milvus analyses the query with the same jieba tokenizer as the chunks; the dictionary's
    # Chinese translations of an English question ride along, separated by spaces. The
    # analyser keeps punctuation as tokens, so the question's ？ or ' would match every chunk
    # that has one: it goes (the default keyword index tokenises no punctuation either).
    return " ".join([_PUNCTUATION.sub(" ", text).strip(), *terms]).strip()


# A decimal point (94.9) and a per cent sign stay: they are part of a number's token.
_PUNCTUATION = re.compile(r"[^\w\s.%]|(?<!\d)\.|\.(?!\d)")


def _vec(qvec: np.ndarray) -> list[float]:
    return np.asarray(qvec, dtype=np.float32).reshape(-1).tolist()


def _lit(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)


def _lit_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _doc_filter(doc_ids: Collection[str] | None) -> str:
    if doc_ids is None:
        return ""
    return f"doc_id in {_lit_list(sorted(doc_ids))}" if doc_ids else 'doc_id == ""'


def _chunk_row(chunk: Chunk, search_text: str, vector: np.ndarray) -> dict:
    for name, value in (("text", chunk.text), ("search_text", search_text)):
        if len(value.encode()) > MAX_VARCHAR:
            raise InputError(
                f"a chunk's {name} is longer than Milvus's {MAX_VARCHAR}-byte VARCHAR: "
                "lower RAG_CHUNK_SIZE"
            )
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title[:PART_CHARS],
        "text": chunk.text,
        "search_text": search_text,
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "start": chunk.start,
        "end": chunk.end,
        "line_first": chunk.lines[0],
        "line_last": chunk.lines[1],
        "authors": json.dumps(list(chunk.authors), ensure_ascii=False)[:PART_CHARS],
        "section": chunk.section[:PART_CHARS],
    }


def _chunk_from_row(row: Mapping) -> Chunk:
    return Chunk(
        chunk_id=row["chunk_id"],
        doc_id=row["doc_id"],
        title=row["title"],
        text=row["text"],
        start=int(row["start"]),
        end=int(row["end"]),
        authors=tuple(json.loads(row["authors"])),
        section=row["section"],
        lines=(int(row["line_first"]), int(row["line_last"])),
    )


def _doc_rows(doc: Document) -> list[dict]:
    payload = json.dumps(doc_to_json(doc), ensure_ascii=False)
    parts = [payload[i : i + PART_CHARS] for i in range(0, len(payload), PART_CHARS)] or [""]
    digest = content_hash(doc)
    return [
        {
            "part_id": f"{doc.doc_id}#{i}",
            "doc_id": doc.doc_id,
            "part": i,
            "parts": len(parts),
            "content_hash": digest,
            "payload": part,
            "slot": _SLOT,
        }
        for i, part in enumerate(parts)
    ]
