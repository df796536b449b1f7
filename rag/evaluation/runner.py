"""Running retrieval over an evaluation set: the glue between the engine and the metrics.

A corpus is indexed into its own folder under ``.cache/eval/``, named by a fingerprint of the
corpus, the model and the chunker settings, so a second run with the same inputs loads it
instead of re-embedding. A corpus document longer than a chunk is split; its score is that
of its best chunk, so rankings stay keyed by the dataset's own ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from rag.engine import EngineConfig, make_encoder
from rag.errors import InputError
from rag.evaluation.answers import (
    AnswerRow,
    answers_path,
    folded_corpus,
    halves,
    load_answers,
    score_answer,
    summarise_answers,
)
from rag.evaluation.beir import load_beir, load_queries
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
from rag.types import Answer, Document

#: What the answer evaluation calls: the ask path over one index, question in, answer out.
AskFunction = Callable[[str], Answer]

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
        # The whole document, metadata too: a parser that now reads a page's author must not
        # be answered from a cached index of the documents without it.
        h.update(json.dumps(dataclasses.asdict(doc), ensure_ascii=False, default=str).encode())
        h.update(b"\x01")
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


#: The hybrid ranking followed by the list-expansion stage (what /search returns by default).
EXPANDED = "hybrid+expand"


def _with_expansion(modes: tuple[str, ...], expand: bool) -> tuple[str, ...]:
    """With ``--expand``, hybrid retrieval is reported with and without list expansion."""
    return modes + (EXPANDED,) if expand and "hybrid" in modes else modes


def _search(searcher: Searcher, query: str, top_k: int, mode: str):
    if mode == EXPANDED:
        from rag.search.enumeration import expand_result

        result = searcher.search(query, top_k=top_k, mode="hybrid")
        return expand_result(result, searcher.index.chunks_of)
    return searcher.search(query, top_k=top_k, mode=mode)


def rank_documents(searcher: Searcher, query: str, mode: str) -> tuple[list[str], list[float]]:
    """Document ids best first, each scored by its best chunk."""
    result = _search(searcher, query, CANDIDATES, mode)
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
    half: str | None = None, expand: bool = False, reworded: Path | None = None,
) -> tuple[dict, list[QueryRecord], dict]:  # fmt: skip
    data = load_beir(dataset, split)
    index = cached_index(dataset.name, beir_documents(data.corpus), config, cache)
    searcher = Searcher(index, config.search)
    queries = list(data.queries.items())
    if half:
        keep = set(halves([qid for qid, _ in queries], half))
        queries = [(qid, text) for qid, text in queries if qid in keep]
    if reworded is not None:
        queries = reword(queries, reworded)
    queries = queries[:limit] if limit else queries
    summary, records = {}, []
    for mode in _with_expansion(modes, expand):
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
    cache: Path = EVAL_CACHE, split: str | None = None, expand: bool = False,
) -> tuple[dict, list[QueryRecord], dict]:  # fmt: skip
    questions = load_questions(path, split)
    docs = load_documents(list(config.corpus))
    index = cached_index("questions", docs, config, cache)
    searcher = Searcher(index, config.search)
    summary, records = {}, []
    for mode in _with_expansion(modes, expand):
        runs = {}
        for q in questions:
            result = _search(searcher, q.question, max(ks), mode)
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


def default_ask(index: Index, config: EngineConfig, top_k: int = 5) -> AskFunction:
    """The ``/ask`` path over ``index`` (extractive answers; the LLM is not evaluated here)."""
    from rag.answering.pipeline import ask

    searcher = Searcher(index, config.search)
    return lambda question: ask(searcher, index.documents, question, top_k)[1]


def run_answers(
    cases: list[tuple[str, str, str, tuple[str, ...]]],
    ask: AskFunction,
    partial: bool = False,
    documents: Iterable[Document] = (),
) -> tuple[dict, list[AnswerRow]]:
    """Ask every ``(id, lang, question, golds)`` case and score the answers (given the
    corpus's ``documents``, also which gold texts any quoting answer could hold)."""
    corpus = folded_corpus(d.text for d in documents) if documents else None
    rows = []
    t0 = time.perf_counter()
    for qid, lang, text, golds in tqdm(
        cases, desc="answers", file=sys.stderr, disable=None if len(cases) >= 50 else True
    ):
        rows.append(score_answer(qid, lang, golds, ask(text), partial, corpus))
    summary = summarise_answers(rows)
    summary["ms_per_question"] = round((time.perf_counter() - t0) * 1000 / max(len(cases), 1), 1)
    return summary, rows


def beir_answer_cases(
    dataset: Path,
    split: str | None,
    limit: int | None = None,
    half: str | None = None,
    reworded: Path | None = None,
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The queries of a BEIR folder that have gold answers, as answer-evaluation cases (with
    ``reworded``, only the queries it holds, in its wording)."""
    data = load_beir(dataset, split)
    golds = load_answers(answers_path(dataset, split))
    ids = [qid for qid in data.queries if qid in golds]
    if half:
        ids = halves(ids, half)
    queries = [(qid, data.queries[qid]) for qid in ids]
    if reworded is not None:
        queries = reword(queries, reworded)
    queries = queries[:limit] if limit else queries
    return [(qid, "zh" if _has_han(text) else "en", text, golds[qid]) for qid, text in queries]


def reword(queries: list[tuple[str, str]], path: Path) -> list[tuple[str, str]]:
    """The queries that ``path`` rewords (a translation: BEIR query lines, same ``_id``), in
    its wording and in the dataset's order. The halves are cut on the dataset's own ids first,
    so a reworded tuning-half query stays in the tuning half.

    Raises:
        InputError: the file rewords no query of the selection (wrong dataset or split).
    """
    texts = load_queries(path)
    out = [(qid, texts[qid]) for qid, _ in queries if qid in texts]
    if not out:
        raise InputError(
            f"{path}: none of its {len(texts)} query ids is among the {len(queries)} selected "
            "queries; give the reworded queries of this dataset, split and half"
        )
    return out


def question_answer_cases(
    path: Path, split: str | None = None
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Every question of a quote-keyed set (unanswerable ones have no golds)."""
    return [(q.id, q.lang, q.question, q.quotes) for q in load_questions(path, split)]


def _has_han(text: str) -> bool:
    from rag.index.tokenize import has_han

    return has_han(text)


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
    if getattr(args, "queries", None) is not None and not args.dataset:
        raise InputError("--queries rewords a BEIR dataset's queries: use it with --dataset DIR")
    answers = getattr(args, "answers", False)
    half = getattr(args, "half", None)
    expand = getattr(args, "expand", False)
    if args.dataset:
        reworded = getattr(args, "queries", None)
        summary, records, meta = evaluate_beir(
            args.dataset, args.split, modes, ks, config, args.limit, args.cache_dir, half, expand,
            reworded,
        )  # fmt: skip
        if answers:
            data = load_beir(args.dataset, args.split)
            index = cached_index(args.dataset.name, beir_documents(data.corpus), config,
                                 args.cache_dir)  # fmt: skip
            cases = beir_answer_cases(args.dataset, args.split, args.limit, half, reworded)
            summary["answers"] = run_answers(
                cases, default_ask(index, config), documents=index.documents.values()
            )[0]
    else:
        summary, records, meta = evaluate_question_set(
            args.questions, modes, ks, config, args.cache_dir, args.split, expand
        )
        if answers:
            docs = load_documents(list(config.corpus))
            index = cached_index("questions", docs, config, args.cache_dir)
            cases = question_answer_cases(args.questions, args.split)
            summary["answers"] = run_answers(
                cases, default_ask(index, config), partial=True, documents=index.documents.values()
            )[0]
    if args.out:
        files = write_report(args.out, summary, records, meta=meta)
        print(f"report written to {files.summary_md.parent}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        retrieval = {mode: s for mode, s in summary.items() if mode != "answers"}
        print(format_table(retrieval))
        if "answers" in summary:
            print()
            print(format_answers(summary["answers"]))
    return 0


def format_answers(summary: dict) -> str:
    """The answer metrics as aligned ``name  value`` lines."""
    width = max(len(k) for k in summary)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in summary.items())
