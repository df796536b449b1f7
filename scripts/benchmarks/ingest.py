"""Ingest: chunks embedded per second in a fresh process, and the server's memory.

For each runtime: a worker process builds an index of the bundled page and of a synthetic
corpus (the bundled page ``--synthetic-copies`` times over, each copy rotated so it chunks and
embeds differently; ~38 chunks a copy), timing the embedding inside the build; then a server
on the bundled index reports its RSS at rest and while documents are POSTed one at a time.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx

from benchmarks.common import BUNDLED, cols, proc_status, ratio, summary
from benchmarks.harness import Context, run_worker, serving, worker_main

NAME = "ingest"
TARGETS = {"chunks_per_s": 30.0, "rss_at_rest_mb": 700.0, "peak_ingest_mb": 900.0}
QUICK = {"synthetic_copies": (2, 8)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--synthetic-copies", type=int, help="copies of the bundled page (default 8, ~300 chunks)"
    )
    p.add_argument(
        "--post-documents", type=int, help="documents POSTed to the server (default all)"
    )


def synthetic_documents(copies: int) -> list[dict]:
    """The bundled articles ``copies`` times over, each copy with its paragraphs rotated and a
    numbered title, so that every copy chunks and embeds differently."""
    from rag.parsing import load_documents

    docs = []
    for i in range(1, copies + 1):
        for doc in load_documents([BUNDLED]):
            paras = [p for p in doc.text.split("\n") if p.strip()]
            shift = i % len(paras)
            docs.append(
                {
                    "title": f"{doc.title}（第{i}版）",
                    "paragraphs": paras[shift:] + paras[:shift],
                    "authors": list(doc.authors),
                }
            )
    return docs


def worker(params: dict) -> dict:
    """Load the model, then build an index from ``paths``; time the embedding inside it."""
    t0 = time.perf_counter()
    import numpy as np

    from api.settings import get_settings
    from rag.engine import Engine, make_encoder

    config = replace(get_settings().engine_config(), index_dir=Path(params["index_dir"]))
    encoder = make_encoder(config)
    encoder.warm_up()
    t1 = time.perf_counter()
    rss_loaded = proc_status()
    embed = {"s": 0.0, "texts": 0}
    encode = encoder.encode_documents

    def timed(texts: list[str], progress: bool = False) -> np.ndarray:
        t = time.perf_counter()
        vectors = encode(texts, progress=progress)
        embed["s"] += time.perf_counter() - t
        embed["texts"] += len(texts)
        return vectors

    encoder.encode_documents = timed  # type: ignore[method-assign]
    engine = Engine(config, encoder=encoder)
    t2 = time.perf_counter()
    report = engine.ingest([Path(p) for p in params["paths"]], rebuild=True)
    build_s = time.perf_counter() - t2
    assert engine.index is not None
    return {
        "encoder": encoder.runtime,
        "documents": len(engine.index.documents),
        "chunks": report.chunks_added,
        "import_and_load_s": round(t1 - t0, 2),
        "build_s": round(build_s, 2),
        "embed_s": round(embed["s"], 2),
        "other_build_s": round(build_s - embed["s"], 2),
        "chunks_per_s_embed": round(embed["texts"] / embed["s"], 1),
        "chunks_per_s_build": round(report.chunks_added / build_s, 1),
        "rss_after_load_mb": round(rss_loaded.get("VmRSS", 0), 0),
        "peak_rss_mb": round(proc_status().get("VmHWM", 0), 0),
    }


def run(ctx: Context) -> dict:
    args = ctx.args
    docs = synthetic_documents(args.synthetic_copies)
    corpus = ctx.tmp / "synthetic" / "corpus.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    with open(corpus, "w", encoding="utf-8") as f:
        for n, d in enumerate(docs):
            row = {"_id": f"syn-{n}", "title": d["title"], "text": "\n".join(d["paragraphs"])}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    out: dict = {"baseline": ctx.baseline, "runtimes": {}}
    for runtime in ctx.runtimes:
        print(f"  ingest: runtime {runtime}", flush=True)
        r: dict = {}
        for label, path in (("bundled", BUNDLED), ("synthetic", corpus)):
            index_dir = ctx.tmp / f"ingest-{label}-{runtime}"
            r[label] = run_worker(
                "ingest", {"index_dir": str(index_dir), "paths": [str(path)]}, runtime
            )
        r["server"] = _server_memory(ctx, runtime, docs)
        out["runtimes"][runtime] = r
    out["base_build"] = ctx.base_build
    return out


def _server_memory(ctx: Context, runtime: str, docs: list[dict]) -> dict:
    """RSS at rest, then sampled while documents are POSTed one at a time."""
    index = ctx.index_copy(f"ingest-index-{runtime}")
    with serving(index, ctx.tmp / f"ingest-{runtime}.log", runtime) as server:
        time.sleep(1.0)
        rest = server.rss()
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(server.rss().get("VmRSS", 0.0))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        posted = ctx.args.post_documents or len(docs)
        chunks, ms = 0, []
        t = time.perf_counter()
        with httpx.Client(timeout=300.0) as client:
            for d in docs[:posted]:
                body = {
                    "title": d["title"],
                    "text": "\n\n".join(d["paragraphs"]),
                    "authors": d["authors"],
                    "source": "bench",
                }
                t1 = time.perf_counter()
                r = client.post(server.url + "/documents", json=body)
                r.raise_for_status()
                ms.append((time.perf_counter() - t1) * 1000)
                chunks += r.json()["chunks"]
            wall = time.perf_counter() - t
            total = client.get(server.url + "/health").json()["chunks"]
        stop.set()
        sampler.join()
        after = server.rss()
    return {
        "rss_at_rest_mb": round(rest.get("VmRSS", 0), 0),
        "hwm_before_ingest_mb": round(rest.get("VmHWM", 0), 0),
        "documents_posted": posted,
        "chunks_added": chunks,
        "chunks_in_index_after": total,
        "post_wall_s": round(wall, 2),
        "chunks_per_s": round(chunks / wall, 1),
        "post_ms": summary(ms),
        "peak_rss_sampled_mb": round(max(samples, default=0.0), 0),
        "rss_after_mb": round(after.get("VmRSS", 0), 0),
        "hwm_after_mb": round(after.get("VmHWM", 0), 0),
    }


def targets(results: dict) -> list[dict]:
    new = list(results["runtimes"])[-1]
    r = results["runtimes"][new]
    return [
        {
            "target": f"ingest chunks/s ({new}, synthetic corpus, whole build)",
            "limit": TARGETS["chunks_per_s"],
            "value": r["synthetic"]["chunks_per_s_build"],
            "higher_is_better": True,
        },
        {
            "target": f"server RSS at rest MB ({new})",
            "limit": TARGETS["rss_at_rest_mb"],
            "value": r["server"]["rss_at_rest_mb"],
        },
        {
            "target": f"peak RSS while ingesting MB ({new}, server POSTs and rag-ingest worker)",
            "limit": TARGETS["peak_ingest_mb"],
            "value": max(r["server"]["hwm_after_mb"], r["synthetic"]["peak_rss_mb"]),
        },
    ]


def report(results: dict, table) -> None:
    base = results["baseline"]
    keys = [
        "documents", "chunks", "embed_s", "chunks_per_s_embed", "build_s",
        "chunks_per_s_build", "import_and_load_s", "rss_after_load_mb", "peak_rss_mb",
    ]  # fmt: skip
    rows = []
    for rt, r in results["runtimes"].items():
        for label in ("bundled", "synthetic"):
            x = ratio(
                r[label]["chunks_per_s_build"],
                results["runtimes"][base][label]["chunks_per_s_build"],
            )
            rows.append([rt, label, *[r[label][k] for k in keys], f"{x:.2f}x"])
    table(
        "Ingest in a fresh process (build = parse + chunk + embed + BM25 + FAISS + save)",
        cols(
            "runtime|corpus|docs|chunks|embed s|chunks/s|build s|chunks/s build|load s|RSS MB|peak MB|build vs "
            + base
        ),
        rows,
    )
    keys = [
        "rss_at_rest_mb", "hwm_before_ingest_mb", "documents_posted", "chunks_added",
        "post_wall_s", "chunks_per_s", "peak_rss_sampled_mb", "rss_after_mb", "hwm_after_mb",
    ]  # fmt: skip
    table(
        "Server memory (MB) and POST /documents",
        cols("runtime|at rest|HWM before|docs|chunks|wall s|chunks/s|peak sampled|after|HWM after"),
        [[rt, *[r["server"][k] for k in keys]] for rt, r in results["runtimes"].items()],
    )


if __name__ == "__main__":
    worker_main(worker)
