"""Batch ingest with Ray Data: read, parse and chunk in tasks, embed on a pool of actors.

``rag ingest --ray [--ray-address ADDR] PATH...``. The pipeline:

1. one Ray task per file (``flat_map``) reads, cleans and chunks it; a file that fails is
   reported (path and error) and the others go on;
2. the driver asks the backend which documents are new, changed or unchanged (by content
   hash, as the plain ingest does), so unchanged ones are never embedded;
3. ``map_batches`` over a pool of encoder actors embeds the chunks (one actor per GPU with
   ``num_gpus=1`` where the cluster has GPUs, CPU actors otherwise);
4. the vectors are written in batches: to a Milvus server straight from writer actors, the
   documents last (a listed document is searchable); for FAISS and a local Milvus Lite path
   (one process owns either), gathered and added on the driver.

Without ``--ray-address`` Ray starts locally, small: ``num_cpus`` workers and a 200 MB object
store by default.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from rag.chunking import Chunker, ChunkerSettings, embedding_text
from rag.embedding.base import Encoder
from rag.index.backend import chunk_from_json
from rag.index.records import doc_from_json, doc_to_json
from rag.index.store import IngestReport, content_hash
from rag.parsing.loaders import iter_source_files, load_path
from rag.types import Chunk, Document

logger = logging.getLogger(__name__)

OBJECT_STORE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class RayIngestReport:
    """What a Ray ingest changed, and the files it could not read."""

    ingest: IngestReport
    failures: tuple[tuple[str, str], ...] = ()
    files: int = 0
    chunks_embedded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class RayIngest:
    """Runs the pipeline above on a local or remote Ray cluster.

    Args:
        address: Ray cluster address (``ray://...`` or ``host:port``); None starts Ray locally.
        batch_size: Passages per embedding batch.
        num_cpus: CPUs of a locally started Ray (None: all).
        encoder_actors: Size of the CPU encoder pool (GPU clusters get one per GPU).
        encoder_factory: Builds the encoder inside each actor (default: the engine's model).
    """

    def __init__(
        self,
        address: str | None = None,
        batch_size: int = 64,
        num_cpus: int | None = None,
        encoder_actors: int = 1,
        object_store_bytes: int = OBJECT_STORE_BYTES,
        encoder_factory: Callable[[], Encoder] | None = None,
    ) -> None:
        self.address = address
        self.batch_size = batch_size
        self.num_cpus = num_cpus
        self.encoder_actors = encoder_actors
        self.object_store_bytes = object_store_bytes
        self.encoder_factory = encoder_factory

    def _init_ray(self):
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:
                ray.init(
                    num_cpus=self.num_cpus,
                    object_store_memory=self.object_store_bytes,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        return ray

    def run(self, engine, paths: Sequence[Path], rebuild: bool = False) -> RayIngestReport:
        """Ingest ``paths`` into ``engine``'s backend (starting it over with ``rebuild``)."""
        from rag.engine import make_encoder

        engine._check_writable()
        t0 = time.perf_counter()
        files = [str(f) for p in paths for f in iter_source_files(Path(p))]
        ray = self._init_ray()
        chunker = engine.config.chunker
        factory = self.encoder_factory or partial(make_encoder, engine.config)

        # 1. read, parse, chunk: one task per file.
        parsed = ray.data.from_items(
            [{"path": f, "file_no": i} for i, f in enumerate(files)],
            override_num_blocks=max(1, len(files)),
        )
        parsed = parsed.flat_map(_parse_file, fn_kwargs={"chunker": asdict(chunker)}).materialize()
        rows = parsed.filter(lambda r: r["kind"] != "chunk").take_all()
        failures = tuple((r["path"], r["error"]) for r in rows if r["kind"] == "error")
        for path, error in failures:
            logger.warning("%s: skipped (%s)", path, error)
        # Ray does not keep the order of rows; the plain ingest's order (file, then place in
        # the file) is restored, so both build the same index.
        rows.sort(key=lambda r: (r["file_no"], r["position"]))
        docs = [doc_from_json(json.loads(r["payload"])) for r in rows if r["kind"] == "doc"]
        t1 = time.perf_counter()

        # 2. what changes (the driver decides; unchanged documents are not embedded).
        if not rebuild and engine.has_index():
            engine.warm_up(build_if_missing=False)
        direct = _writes_from_workers(engine)
        backend = None
        if direct:
            from rag.index.milvus import MilvusBackend

            backend = MilvusBackend.open(
                engine.config.milvus_uri, engine.encoder, chunker, rebuild=rebuild
            )
            plan = backend.prepare(docs)
            todo = {d.doc_id for d in plan.todo}
        else:
            known = engine.index.documents if engine.index is not None and not rebuild else {}
            todo = _changed(known, docs)

        # 3. embed on the actor pool (which also drops the rows that are not chunks to
        # index: a separate filter stage would need a CPU of its own, and on a 2-CPU Ray
        # it waits forever behind the actors).
        num_gpus = int(ray.cluster_resources().get("GPU", 0))
        pool = num_gpus or self.encoder_actors
        embedded = parsed.map_batches(
            _EncoderActor,
            fn_constructor_kwargs={"factory": factory, "todo": frozenset(todo)},
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_gpus=1 if num_gpus else 0,
            num_cpus=0 if num_gpus else 1,
        )
        # 4. write.
        if backend is not None:
            written = embedded.map_batches(
                _MilvusWriter,
                fn_constructor_kwargs={"uri": engine.config.milvus_uri, "prefix": backend.prefix},
                batch_size=self.batch_size * 4,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=1),
                num_cpus=0,  # waits on Milvus, computes nothing
            )
            n_chunks = sum(int(r["written"]) for r in written.take_all())
            # Documents last: a listed document is searchable.
            backend.write_documents(plan.todo)
            backend.close()
            report = plan.report(n_chunks)
        else:
            chunks: list[Chunk] = []
            vectors: list[np.ndarray] = []
            for batch in embedded.iter_batches(batch_size=1024, batch_format="numpy"):
                chunks.extend(chunk_from_json(json.loads(c)) for c in batch["chunk"])
                vectors.extend(batch["vector"])
            n_chunks = len(chunks)
            matrix = (
                np.stack(vectors).astype(np.float32)
                if vectors
                else np.zeros((0, engine.encoder.dim), np.float32)
            )
            report = engine.ingest_embedded(docs, chunks, matrix, rebuild=rebuild)
        t2 = time.perf_counter()
        return RayIngestReport(
            report,
            failures,
            files=len(files),
            chunks_embedded=n_chunks,
            seconds={"parse": round(t1 - t0, 2), "embed_write": round(t2 - t1, 2)},
        )


def _writes_from_workers(engine) -> bool:
    """Milvus servers take writes from many clients; FAISS and a local Milvus Lite path belong
    to one process, so their writes go through the driver."""
    from rag.index.milvus import is_server_uri

    return engine.config.backend == "milvus" and is_server_uri(engine.config.milvus_uri)


def _changed(known: Mapping[str, Document], docs: list[Document]) -> set[str]:
    """Ids of the documents an ingest would (re)index: new or with another content hash."""
    out = set()
    for doc in docs:
        old = known.get(doc.doc_id)
        if old is None or content_hash(old) != content_hash(doc):
            out.add(doc.doc_id)
    return out


# ---- Ray tasks and actors (module level, so workers can import them) ----------------------
def _parse_file(row: dict, chunker: dict) -> list[dict]:
    path, file_no = row["path"], row["file_no"]
    try:
        docs = load_path(Path(path))
        split = Chunker(ChunkerSettings(**chunker))
        out: list[dict] = []
        for doc in docs:
            payload = json.dumps(doc_to_json(doc), ensure_ascii=False)
            out.append(_row("doc", path, file_no, len(out), doc.doc_id, payload))
            for chunk in split.split(doc):
                out.append(_row("chunk", path, file_no, len(out), doc.doc_id, "", chunk))
        return out
    except Exception as e:  # one bad file must not stop the others: report it instead
        return [_row("error", path, file_no, 0, "", "", error=f"{type(e).__name__}: {e}")]


def _row(
    kind: str,
    path: str,
    file_no: int,
    position: int,
    doc_id: str,
    payload: str,
    chunk: Chunk | None = None,
    error: str = "",
) -> dict:
    return {
        "kind": kind,
        "path": path,
        "file_no": file_no,
        "position": position,
        "doc_id": doc_id,
        "payload": payload,
        "chunk": json.dumps(asdict(chunk), ensure_ascii=False) if chunk else "",
        "text": embedding_text(chunk) if chunk else "",
        "error": error,
    }


class _EncoderActor:
    """Holds one loaded encoder; embeds batches of chunk rows."""

    def __init__(self, factory: Callable[[], Encoder], todo: frozenset[str]) -> None:
        self.encoder = factory()
        self.todo = todo
        if hasattr(self.encoder, "warm_up"):
            self.encoder.warm_up()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keep = [
            i
            for i, (kind, doc_id) in enumerate(zip(batch["kind"], batch["doc_id"], strict=True))
            if kind == "chunk" and doc_id in self.todo
        ]
        texts = [str(batch["text"][i]) for i in keep]
        if texts:
            vectors = np.asarray(self.encoder.encode_documents(texts), dtype=np.float32)
        else:
            vectors = np.zeros((0, self.encoder.dim), dtype=np.float32)
        return {
            "chunk": np.asarray([batch["chunk"][i] for i in keep], dtype=object),
            "doc_id": np.asarray([batch["doc_id"][i] for i in keep], dtype=object),
            "vector": vectors,
        }


class _MilvusWriter:
    """Writes embedded chunks straight to a Milvus server from a worker."""

    def __init__(self, uri: str, prefix: str) -> None:
        from rag.index.milvus import MilvusBackend

        # Writing chunks needs no model: the vectors come with the rows.
        self.backend = MilvusBackend(uri, encoder=None, prefix=prefix)  # type: ignore[arg-type]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunks = [chunk_from_json(json.loads(c)) for c in batch["chunk"]]
        self.backend.write_chunks(chunks, np.asarray(batch["vector"], dtype=np.float32))
        return {"written": np.array([len(chunks)])}
