"""Running retrieval over an evaluation set: the glue between the engine and the metrics.

A corpus is indexed into its own folder under ``.cache/eval/``, named by a fingerprint of the
corpus, the model and the chunker settings, so a second run with the same inputs loads it
instead of re-embedding. A corpus document longer than a chunk is split; its score is that
of its best chunk, so rankings stay keyed by the dataset's own ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rag.engine import EngineConfig, make_encoder
from rag.errors import InputError
from rag.evaluation.beir import load_beir
from rag.evaluation.metrics import QueryResult, first_relevant_rank, summarise
from rag.evaluation.questions import (
    QuestionRun,
    evaluate_questions,
    find_quote_rank,
    load_questions,
)
from rag.evaluation.report import QueryRecord, ScoredId, format_table, write_report
from rag.index.store import Index, read_manifest
from rag.parsing import load_documents
from rag.parsing.loaders import beir_document
from rag.search import MODES, Searcher
from rag.types import Document

logger = logging.getLogger(__name__)

EVAL_CACHE = Path(".cache/eval")
CANDIDATES = 100


def cached_index(
    name: str, docs: list[Document], config: EngineConfig, cache: Path = EVAL_CACHE
) -> Index:
    """Load the index of ``docs`` from the cache, or build and save it there."""
    encoder = make_encoder(config, progress=True)
    h = hashlib.sha256()
    for doc in docs:
        h.update(f"{doc.doc_id}\x00{doc.title}\x00{doc.text}\x01".encode())
    h.update(json.dumps([encoder.name, config.chunker.as_dict(), config.ann]).encode())
    folder = cache / f"{name}-{h.hexdigest()[:12]}"
    if read_manifest(folder) is not None:
        logger.info("loading cached evaluation index %s", folder)
        return Index.load(folder, encoder)
    from rag.chunking import Chunker

    index = Index(encoder, Chunker(config.chunker), config.ann)
    t0 = time.perf_counter()
    index.add_documents(docs, progress=True)
    logger.info("indexed %d chunks in %.1f s", len(index), time.perf_counter() - t0)
    index.save(folder)
    return index


def beir_documents(corpus: dict[str, tuple[str, str]]) -> list[Document]:
    return [beir_document(doc_id, title, text) for doc_id, (title, text) in corpus.items()]


def rank_documents(searcher: Searcher, query: str, mode: str) -> tuple[list[str], list[float]]:
    """Document ids best first, each scored by its best chunk."""
    result = searcher.search(query, top_k=CANDIDATES, mode=mode)
    ids, scores, seen = [], [], set()
    for hit in result.hits:
        if hit.chunk.doc_id not in seen:
            seen.add(hit.chunk.doc_id)
            ids.append(hit.chunk.doc_id)
            scores.append(hit.score)
    return ids, scores


def evaluate_beir(
    dataset: Path, split: str | None, modes: tuple[str, ...], ks: tuple[int, ...],
    config: EngineConfig, limit: int | None = None, cache: Path = EVAL_CACHE,
) -> tuple[dict, list[QueryRecord], dict]:  # fmt: skip
    data = load_beir(dataset, split)
    index = cached_index(dataset.name, beir_documents(data.corpus), config, cache)
    searcher = Searcher(index, config.search)
    queries = list(data.queries.items())[:limit] if limit else list(data.queries.items())
    summary, records = {}, []
    for mode in modes:
        results = []
        t0 = time.perf_counter()
        for qid, text in tqdm(
            queries, desc=mode, file=sys.stderr, disable=None if len(queries) >= 50 else True
        ):
            ids, scores = rank_documents(searcher, text, mode)
            qrels = data.qrels.get(qid, {})
            results.append(QueryResult(qid, tuple(ids), qrels))
            records.append(
                QueryRecord(qid, text, mode, first_relevant_rank(ids, qrels),
                            tuple(ScoredId(i, s) for i, s in zip(ids[:5], scores[:5], strict=True)))
            )  # fmt: skip
        summary[mode] = summarise(results, ks)
        summary[mode]["ms_per_query"] = round(
            (time.perf_counter() - t0) * 1000 / max(len(queries), 1), 1
        )
    meta = {"dataset": str(dataset), "split": split, "documents": len(data.corpus),
            "chunks": len(index), "model": index.encoder.name, "chunker": config.chunker.as_dict(),
            "fusion": config.search.fusion, "rrf_k": config.search.rrf_k,
            "dense_weight": config.search.dense_weight, "keyword_weight": config.search.keyword_weight}  # fmt: skip
    return summary, records, meta


def evaluate_question_set(
    path: Path, modes: tuple[str, ...], ks: tuple[int, ...], config: EngineConfig,
    cache: Path = EVAL_CACHE,
) -> tuple[dict, list[QueryRecord], dict]:  # fmt: skip
    questions = load_questions(path)
    docs = load_documents(list(config.corpus))
    index = cached_index("questions", docs, config, cache)
    searcher = Searcher(index, config.search)
    summary, records = {}, []
    for mode in modes:
        runs = {}
        for q in questions:
            result = searcher.search(q.question, top_k=max(ks), mode=mode)
            chunks = tuple(h.chunk.text for h in result.hits)
            runs[q.id] = QuestionRun(chunks, result.answerable)
            rank = find_quote_rank(chunks, q.quotes) if q.answerable else None
            records.append(
                QueryRecord(q.id, q.question, mode, rank,
                            tuple(ScoredId(h.chunk.chunk_id, h.score) for h in result.hits[:5]),
                            has_gold=q.answerable)
            )  # fmt: skip
        summary[mode] = evaluate_questions(questions, runs, ks).summary
    meta = {"questions": str(path), "corpus": [str(p) for p in config.corpus], "chunks": len(index),
            "model": index.encoder.name, "chunker": config.chunker.as_dict()}  # fmt: skip
    return summary, records, meta


def run_eval_cli(args, config: EngineConfig) -> int:
    """``rag eval``: evaluate, print a table (or JSON), optionally write a report."""
    try:
        ks = tuple(int(k) for k in str(args.k).split(",") if k.strip())
    except ValueError:
        raise InputError(
            f"--k must be comma-separated integers like 1,5,10, got {args.k!r}"
        ) from None
    modes = MODES if args.mode == "all" else (args.mode,)
    if bool(args.dataset) == bool(args.questions):
        raise InputError("give exactly one of --dataset DIR (BEIR) or --questions FILE")
    if args.dataset:
        summary, records, meta = evaluate_beir(
            args.dataset, args.split, modes, ks, config, args.limit, args.cache_dir
        )
    else:
        summary, records, meta = evaluate_question_set(
            args.questions, modes, ks, config, args.cache_dir
        )
    if args.out:
        files = write_report(args.out, summary, records, meta=meta)
        print(f"report written to {files.summary_md.parent}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(format_table(summary))
    return 0
