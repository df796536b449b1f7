"""Load a BEIR-format dataset folder (corpus, queries and qrels).

Two layouts are understood:

* flat: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv``; with a split NAME,
  ``queries-NAME.jsonl`` and ``qrels-NAME.tsv`` (each falls back to the unsplit
  ``queries.jsonl`` when there is no per-split queries file);
* BEIR's own: ``corpus.jsonl``, ``queries.jsonl`` holding every split's queries, and
  ``qrels/NAME.tsv`` per split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import SourceError
from rag.evaluation.jsonl import read_lines, read_records

logger = logging.getLogger(__name__)

_HEADER_NAMES = {"query-id", "query_id", "qid"}


@dataclass(frozen=True)
class BeirDataset:
    """A loaded BEIR dataset.

    Attributes:
        corpus: ``doc_id -> (title, text)``.
        queries: ``query_id -> text``, only queries that have judgments.
        qrels: ``query_id -> {doc_id: grade}``, only for queries in ``queries``.
    """

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _field_id(path: Path, lineno: int, record: dict[str, Any]) -> str:
    # Some BEIR exports write numeric ids; qrels hold them as text, so compare as text.
    value = record.get("_id")
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise SourceError(f'{path}:{lineno}: missing or empty "_id"')
    return str(value).strip()


def _field_text(path: Path, lineno: int, record: dict[str, Any], name: str, required: bool) -> str:
    value = record.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SourceError(f'{path}:{lineno}: "{name}" must be a string, got {value!r:.60}')
    return value


def load_corpus(path: Path) -> dict[str, tuple[str, str]]:
    """Read ``corpus.jsonl`` into ``doc_id -> (title, text)``.

    Args:
        path: The JSONL file; each line has ``_id``, ``text`` and optionally ``title``.

    Returns:
        The corpus. A repeated ``_id`` keeps its first record (logged).

    Raises:
        SourceError: The file is missing or a line is malformed; names file and line.
    """
    corpus: dict[str, tuple[str, str]] = {}
    repeats = 0
    for lineno, record in read_records(path):
        doc_id = _field_id(path, lineno, record)
        title = _field_text(path, lineno, record, "title", required=False)
        text = _field_text(path, lineno, record, "text", required=True)
        if doc_id in corpus:
            repeats += 1
            continue
        corpus[doc_id] = (title, text)
    if repeats:
        logger.warning("%s: %d repeated document ids ignored (first kept)", path, repeats)
    return corpus


def load_queries(path: Path) -> dict[str, str]:
    """Read a queries JSONL into ``query_id -> text``.

    Args:
        path: The JSONL file; each line has ``_id`` and ``text``.

    Returns:
        The queries.

    Raises:
        SourceError: The file is missing, a line is malformed or an id repeats.
    """
    queries: dict[str, str] = {}
    for lineno, record in read_records(path):
        query_id = _field_id(path, lineno, record)
        text = _field_text(path, lineno, record, "text", required=True)
        if query_id in queries:
            # Unlike a repeated document, two texts for one query id make every
            # metric for it ambiguous, so refuse rather than guess.
            raise SourceError(f"{path}:{lineno}: query id {query_id!r} appears twice")
        queries[query_id] = text
    return queries


def _parse_grade(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a qrels TSV (``query-id``, ``corpus-id``, ``score``) with or without header.

    The first line is a header when its first column is a name such as
    ``query-id``; every other line must hold three tab-separated fields (runs of
    spaces are accepted too) with an integer score.

    Args:
        path: The TSV file.

    Returns:
        ``query_id -> {doc_id: grade}``; a repeated pair keeps its last grade.

    Raises:
        SourceError: The file is missing or a line is malformed; names file and line.
    """
    qrels: dict[str, dict[str, int]] = {}
    first = True
    for lineno, line in read_lines(path):
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 3:
            fields = line.split()
        if first:
            first = False
            if fields and fields[0].strip().lower() in _HEADER_NAMES:
                continue
        if len(fields) != 3:
            raise SourceError(
                f"{path}:{lineno}: expected 3 tab-separated fields "
                f"(query-id, corpus-id, score), got {len(fields)}: {line.strip()!r:.80}"
            )
        query_id, doc_id, raw = (f.strip() for f in fields)
        grade = _parse_grade(raw)
        if not query_id or not doc_id or grade is None:
            raise SourceError(
                f"{path}:{lineno}: need a query id, a corpus id and an integer score, "
                f"got {line.strip()!r:.80}"
            )
        qrels.setdefault(query_id, {})[doc_id] = grade
    return qrels


def _resolve(root: Path, split: str | None) -> tuple[Path, Path]:
    """Pick the queries and qrels files for ``split``, with errors that list what exists."""
    if split is None:
        qrels = root / "qrels.tsv"
        if not qrels.is_file() and (root / "qrels").is_dir():
            splits = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
            raise SourceError(
                f"{qrels}: file not found; {root} uses BEIR's qrels/ layout, "
                f"pass a split (one of: {', '.join(splits) or 'none found'})"
            )
        return root / "queries.jsonl", qrels
    if not split or "/" in split or "\\" in split or split.startswith("."):
        raise SourceError(f"invalid split name {split!r}; expected a name such as 'test'")
    queries = root / f"queries-{split}.jsonl"
    if not queries.is_file():
        queries = root / "queries.jsonl"
    candidates = (root / f"qrels-{split}.tsv", root / "qrels" / f"{split}.tsv")
    for qrels in candidates:
        if qrels.is_file():
            return queries, qrels
    raise SourceError(
        f"no qrels for split {split!r} in {root}: looked for {candidates[0].name} "
        f"and qrels/{candidates[1].name}"
    )


def load_beir(root: str | Path, split: str | None = None) -> BeirDataset:
    """Load a BEIR-format dataset folder.

    Queries without any judgment in the split's qrels are dropped (BEIR's shared
    ``queries.jsonl`` holds every split's queries) and the count is logged.
    Judgments for query ids absent from the queries file cannot be evaluated and
    are dropped with a warning.

    Args:
        root: The dataset folder.
        split: ``None`` for ``queries.jsonl`` + ``qrels.tsv``; a name such as
            ``"test"`` for ``queries-test.jsonl`` + ``qrels-test.tsv`` or
            ``queries.jsonl`` + ``qrels/test.tsv``.

    Returns:
        The dataset.

    Raises:
        SourceError: The folder or a file is missing, or a line is malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise SourceError(f"{root}: dataset folder not found")
    queries_path, qrels_path = _resolve(root, split)
    corpus = load_corpus(root / "corpus.jsonl")
    all_queries = load_queries(queries_path)
    all_qrels = load_qrels(qrels_path)

    queries = {qid: text for qid, text in all_queries.items() if qid in all_qrels}
    dropped = len(all_queries) - len(queries)
    if dropped:
        logger.info(
            "%s: %d of %d queries have no judgments in %s and are left out",
            queries_path,
            dropped,
            len(all_queries),
            qrels_path.name,
        )
    orphans = [qid for qid in all_qrels if qid not in all_queries]
    if orphans:
        logger.warning(
            "%s: judgments for %d query ids missing from %s are ignored (first: %s)",
            qrels_path,
            len(orphans),
            queries_path.name,
            orphans[0],
        )
    qrels = {qid: all_qrels[qid] for qid in queries}
    unknown_docs = sum(1 for judged in qrels.values() for doc in judged if doc not in corpus)
    if unknown_docs:
        # Kept on purpose: such a document can never be retrieved, and counting it
        # as relevant-but-missed is what BEIR's own evaluation does.
        logger.warning(
            "%s: %d judgments name documents not in the corpus", qrels_path, unknown_docs
        )
    logger.info(
        "loaded %s: %d documents, %d queries, %d judgments",
        root,
        len(corpus),
        len(queries),
        sum(len(j) for j in qrels.values()),
    )
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)
