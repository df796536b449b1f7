"""Benchmark the scale-out path: plain against Ray ingest, Milvus Lite against FAISS.

Usage::

    .venv/bin/python scripts/bench_scale.py                 # ~6 min on 2 shared cores
    .venv/bin/python scripts/bench_scale.py --copies 2 --only backends
    .venv/bin/python scripts/bench_scale.py --only ray --batch-sizes 16,64,256  # on a GPU box

Sections:

- ``ray``: ``rag ingest`` the plain way against ``rag ingest --ray`` (local Ray, one encoder
  actor per GPU or ``--actors`` CPU actors) into FAISS, on ``--copies`` renamed copies of the
  bundled page; wall time including Ray's start-up, and passages per second at each batch
  size. On a machine with a GPU (``--device cuda``) this is the "passages/s per GPU" figure.
- ``backends``: the bundled page in FAISS (the default searcher) and in Milvus Lite (the
  backend searcher: hybrid RRF inside Milvus), same real model; ingest time, and search
  latency (in process, ``Engine.search`` = what ``/search`` runs, without HTTP) over the
  project's question set, hybrid and dense, p50/p95; plus writes alone (precomputed vectors).

Everything is measured in this run; ratios are against the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rag.embedding import _omp  # noqa: F401, I001  (OpenMP threads sleep, before torch loads)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "data" / "articles.txt"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
SECTIONS = ("ray", "backends")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _encoder(args):
    from api.settings import Settings
    from rag.embedding.encoder import default_encoder

    enc = default_encoder(Settings.from_env().model_cache, device=args.device)
    enc.warm_up()
    return enc


def _corpus(folder: Path, copies: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        # Another file name is another set of document ids (ids come from the file name).
        shutil.copy(BUNDLED, folder / f"page-{i:03d}.txt")
    return folder


def bench_ray(args, work: Path) -> dict:
    from functools import partial

    import ray

    from api.settings import Settings
    from rag.embedding.encoder import default_encoder
    from rag.engine import Engine, EngineConfig
    from rag.ingest_ray import RayIngest

    corpus = _corpus(work / "corpus", args.copies)
    encoder = _encoder(args)
    out: dict = {"copies": args.copies}

    t = time.perf_counter()
    plain = Engine(EngineConfig(index_dir=work / "plain", device=args.device), encoder=encoder)
    report = plain.ingest([corpus], rebuild=True)
    out["plain_s"] = round(time.perf_counter() - t, 2)
    out["chunks"] = report.chunks_added
    out["plain_passages_per_s"] = round(report.chunks_added / out["plain_s"], 1)

    t = time.perf_counter()
    ray.init(
        address=args.ray_address,
        num_cpus=None if args.ray_address else args.ray_cpus,
        object_store_memory=None if args.ray_address else 200 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    out["ray_start_s"] = round(time.perf_counter() - t, 2)
    out["gpus"] = int(ray.cluster_resources().get("GPU", 0))
    factory = partial(default_encoder, Settings.from_env().model_cache, device=args.device)
    runs = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        engine = Engine(
            EngineConfig(index_dir=work / f"ray-{bs}", device=args.device), encoder=encoder
        )
        t = time.perf_counter()
        r = RayIngest(batch_size=bs, encoder_actors=args.actors, encoder_factory=factory).run(
            engine, [corpus], rebuild=True
        )
        wall = time.perf_counter() - t
        assert [c.chunk_id for c in engine.index.chunks] == [
            c.chunk_id for c in plain.index.chunks
        ], "Ray ingest built another index"
        runs.append(
            {
                "batch_size": bs,
                "wall_s": round(wall, 2),
                "passages_per_s": round(r.chunks_embedded / wall, 1),
                "parse_s": r.seconds["parse"],
                "embed_write_s": r.seconds["embed_write"],
            }
        )
    ray.shutdown()
    out["ray"] = runs
    return out


def bench_backends(args, work: Path) -> dict:
    import numpy as np

    from rag.chunking import Chunker, embedding_text
    from rag.engine import Engine, EngineConfig
    from rag.evaluation.questions import load_questions
    from rag.index.backend import FaissBackend
    from rag.index.milvus import MilvusBackend
    from rag.index.store import Index
    from rag.parsing import load_documents

    encoder = _encoder(args)
    corpus = _corpus(work / "corpus-b", args.copies)
    questions = [q.question for q in load_questions(QUESTIONS)]
    out: dict = {}
    for backend in ("faiss", "milvus"):
        config = EngineConfig(
            index_dir=work / f"{backend}-index",
            corpus=(corpus,),
            backend=backend,
            milvus_uri=str(work / "milvus.db"),
        )
        engine = Engine(config, encoder=encoder)
        t = time.perf_counter()
        engine.warm_up()  # builds from the corpus: embed + write
        build = time.perf_counter() - t
        row = {"build_s": round(build, 2), "chunks": len(engine.index)}
        for mode in ("hybrid", "dense"):
            engine.search(questions[0], mode=mode)
            times = []
            for q in questions:
                t = time.perf_counter()
                engine.search(q, top_k=5, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            row[f"{mode}_p50_ms"] = round(statistics.median(times), 1)
            row[f"{mode}_p95_ms"] = round(_pct(times, 0.95), 1)
        out[backend] = row
        if backend == "milvus":
            engine.index.close()

    # Writes alone: the same chunks and vectors, no embedding.
    docs = load_documents([corpus])
    chunks = Chunker().split_all(docs)
    vectors = encoder.encode_documents([embedding_text(c) for c in chunks])
    t = time.perf_counter()
    FaissBackend(Index(encoder)).add_embedded(docs, chunks, vectors)
    out["faiss"]["write_only_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    m = MilvusBackend.open(str(work / "milvus-w.db"), encoder)
    m.add_embedded(docs, chunks, np.asarray(vectors))
    out["milvus"]["write_only_s"] = round(time.perf_counter() - t, 3)
    m.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS))
    p.add_argument("--copies", type=int, default=4, help="renamed copies of the bundled page")
    p.add_argument("--batch-sizes", default="32,128")
    p.add_argument("--actors", type=int, default=1, help="CPU encoder actors (no GPU)")
    p.add_argument("--ray-cpus", type=int, default=2)
    p.add_argument("--ray-address")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    results: dict = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        for section in args.only.split(","):
            print(f"== {section}", flush=True)
            results[section] = {"ray": bench_ray, "backends": bench_backends}[section](args, work)
            print(json.dumps(results[section], indent=2, ensure_ascii=False), flush=True)
    if "ray" in results:
        r = results["ray"]
        print(f"\nplain ingest: {r['chunks']} passages in {r['plain_s']} s "
              f"({r['plain_passages_per_s']}/s); Ray start {r['ray_start_s']} s")  # fmt: skip
        for run in r["ray"]:
            print(f"Ray batch {run['batch_size']}: {run['wall_s']} s ({run['passages_per_s']}/s), "
                  f"{run['wall_s'] / r['plain_s']:.2f}x the plain time")  # fmt: skip
    if "backends" in results:
        b = results["backends"]
        print("\n| backend | build s | write only s | hybrid p50/p95 ms | dense p50/p95 ms |")
        print("|---|---|---|---|---|")
        for name in ("faiss", "milvus"):
            x = b[name]
            print(f"| {name} | {x['build_s']} | {x['write_only_s']} | {x['hybrid_p50_ms']} / "
                  f"{x['hybrid_p95_ms']} | {x['dense_p50_ms']} / {x['dense_p95_ms']} |")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
