"""Write an evaluation run to a folder, and format summaries for the terminal.

A report folder holds:

* ``per_query.jsonl``: one line per (query, mode) with the rank of the first gold hit
  and the top hits;
* ``summary.json``: the summaries by mode, plus caller metadata;
* ``summary.md``: a Markdown table of modes side by side (``mean [lo, hi]``) and the
  worst misses of each mode;
* ``summary.png``: a grouped bar chart of the modes across metrics.

Summaries are the dicts of :func:`rag.evaluation.metrics.summarise` or
:func:`rag.evaluation.questions.evaluate_questions`: values are ``{"mean", "lo",
"hi"}`` dicts, plain numbers, or ``None``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import InputError

logger = logging.getLogger(__name__)

PER_QUERY_FILE = "per_query.jsonl"
SUMMARY_JSON_FILE = "summary.json"
SUMMARY_MD_FILE = "summary.md"
CHART_FILE = "summary.png"
_MISSING = "n/a"


@dataclass(frozen=True)
class ScoredId:
    """A retrieved id with its score."""

    id: str
    score: float


@dataclass(frozen=True)
class QueryRecord:
    """One query's outcome under one mode.

    Attributes:
        query_id: The query's id.
        text: The query text.
        mode: The retrieval mode (e.g. ``"bm25"``, ``"dense"``, ``"hybrid"``).
        gold_rank: 1-based rank of the first relevant hit, ``None`` when missed.
        top_hits: The first few hits, best first.
        has_gold: ``False`` for a query with nothing to find (an unanswerable
            question); such a query is never listed as a miss.
    """

    query_id: str
    text: str
    mode: str
    gold_rank: int | None
    top_hits: tuple[ScoredId, ...] = ()
    has_gold: bool = True


@dataclass(frozen=True)
class ReportFiles:
    """Paths of the files a report wrote."""

    per_query: Path
    summary_json: Path
    summary_md: Path
    chart: Path


def _cell(value: Any) -> str:
    if isinstance(value, Mapping):
        mean, lo, hi = value.get("mean"), value.get("lo"), value.get("hi")
        if mean is None:
            return _MISSING
        if lo is None or hi is None:
            return f"{mean:.3f}"
        return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _metric_names(summary_by_mode: Mapping[str, Mapping[str, Any]]) -> list[str]:
    # Union in first-seen order, so modes evaluated with different ks still line up.
    names: dict[str, None] = {}
    for summary in summary_by_mode.values():
        names.update(dict.fromkeys(summary))
    return list(names)


def _table_rows(summary_by_mode: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    if not summary_by_mode:
        raise InputError("no summaries to format: summary_by_mode is empty")
    modes = list(summary_by_mode)
    rows = [["metric", *modes]]
    for name in _metric_names(summary_by_mode):
        rows.append([name, *(_cell(summary_by_mode[m].get(name)) for m in modes)])
    return rows


def format_table(summary_by_mode: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain-text table of metrics (rows) by mode (columns), for the terminal.

    Args:
        summary_by_mode: ``mode -> summary dict``.

    Returns:
        Aligned lines; interval metrics read ``mean [lo, hi]``.

    Raises:
        InputError: ``summary_by_mode`` is empty.
    """
    rows = _table_rows(summary_by_mode)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_escape(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def markdown_table(summary_by_mode: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of metrics (rows) by mode (columns), cells ``mean [lo, hi]``.

    Args:
        summary_by_mode: ``mode -> summary dict``.

    Returns:
        The table, without a trailing newline.

    Raises:
        InputError: ``summary_by_mode`` is empty.
    """
    rows = _table_rows(summary_by_mode)
    header, body = rows[0], rows[1:]
    lines = [
        "| " + " | ".join(_md_escape(c) for c in header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def worst_misses(records: Iterable[QueryRecord], n: int = 10) -> list[QueryRecord]:
    """The ``n`` worst records: gold never retrieved first, then the lowest gold ranks.

    Records whose first gold hit is at rank 1, and records without gold, are not misses.

    Args:
        records: Records of one mode.
        n: How many to keep.

    Returns:
        Worst first; ties keep input order.
    """
    misses = [r for r in records if r.has_gold and (r.gold_rank is None or r.gold_rank > 1)]
    misses.sort(key=lambda r: (r.gold_rank is not None, -(r.gold_rank or 0)))
    return misses[:n]


def _misses_markdown(records: Sequence[QueryRecord], modes: Sequence[str], n: int) -> str:
    lines = ["## Worst misses", ""]
    by_mode: dict[str, list[QueryRecord]] = {}
    for record in records:
        by_mode.setdefault(record.mode, []).append(record)
    ordered = [m for m in modes if m in by_mode] + [m for m in by_mode if m not in modes]
    if not ordered:
        lines.append("No per-query records.")
    for mode in ordered:
        misses = worst_misses(by_mode[mode], n)
        lines += [f"### {_md_escape(mode)}", ""]
        if not misses:
            lines += ["No misses: every query has a gold hit at rank 1.", ""]
            continue
        lines += ["| query id | query | gold rank | top hit |", "| --- | --- | ---: | --- |"]
        for r in misses:
            top = f"{r.top_hits[0].id} ({r.top_hits[0].score:.3f})" if r.top_hits else "(none)"
            rank = "missing" if r.gold_rank is None else str(r.gold_rank)
            lines.append(
                f"| {_md_escape(r.query_id)} | {_md_escape(r.text)} | {rank} | {_md_escape(top)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _chart_metrics(summary_by_mode: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Metrics worth a bar: interval means and plain rates, not counts."""
    names = []
    for name in _metric_names(summary_by_mode):
        for summary in summary_by_mode.values():
            value = summary.get(name)
            if (isinstance(value, Mapping) and value.get("mean") is not None) or (
                isinstance(value, float)
            ):
                names.append(name)
                break
    return names


def _write_chart(path: Path, summary_by_mode: Mapping[str, Mapping[str, Any]]) -> None:
    # Imported here so that format_table (used by the CLI for every run) does not
    # pay matplotlib's import time; Figure + FigureCanvasAgg renders off-screen
    # without touching pyplot's global backend, which the host app may have set.
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = _chart_metrics(summary_by_mode)
    modes = list(summary_by_mode)
    fig = Figure(figsize=(max(6.0, 0.9 * len(metrics) * max(1, len(modes)) / 2 + 3), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if not metrics:
        ax.text(0.5, 0.5, "no metrics to plot", ha="center", va="center")
        ax.set_axis_off()
    else:
        x = np.arange(len(metrics))
        width = 0.8 / len(modes)
        for i, mode in enumerate(modes):
            means, lows, highs = [], [], []
            for name in metrics:
                value = summary_by_mode[mode].get(name)
                if isinstance(value, Mapping) and value.get("mean") is not None:
                    mean = float(value["mean"])
                    lo = value.get("lo")
                    hi = value.get("hi")
                    lows.append(mean - float(lo) if lo is not None else 0.0)
                    highs.append(float(hi) - mean if hi is not None else 0.0)
                elif isinstance(value, float):
                    mean = value
                    lows.append(0.0)
                    highs.append(0.0)
                else:
                    mean = float("nan")
                    lows.append(0.0)
                    highs.append(0.0)
                means.append(mean)
            offset = (i - (len(modes) - 1) / 2) * width
            ax.bar(x + offset, means, width, label=mode, yerr=[lows, highs], capsize=2)
        ax.set_xticks(x, metrics, rotation=30, ha="right")
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("mean (95% interval)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)


def _replace_into(path: Path, write: Callable[[Path], object]) -> None:
    """Write via ``path.tmp`` then ``os.replace``, so a crash leaves no half file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _jsonable(value: Any) -> Any:
    # numpy scalars sneak in from callers' own computations; write them as numbers.
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_report(
    out_dir: str | Path,
    summary_by_mode: Mapping[str, Mapping[str, Any]],
    records: Iterable[QueryRecord] = (),
    *,
    worst: int = 10,
    meta: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write a run's per-query records, summaries, Markdown report and chart.

    Args:
        out_dir: The folder; created if needed, files in it are overwritten.
        summary_by_mode: ``mode -> summary dict``, in column order.
        records: Per-query records of every mode.
        worst: How many worst misses to list per mode.
        meta: Run details (dataset, split, index, ks...) recorded in
            ``summary.json`` and listed at the top of ``summary.md``.

    Returns:
        The paths written.

    Raises:
        InputError: ``summary_by_mode`` is empty, or ``out_dir`` cannot be written.
    """
    if not summary_by_mode:
        raise InputError("no summaries to report: summary_by_mode is empty")
    out = Path(out_dir)
    records = list(records)
    meta = dict(meta or {})
    files = ReportFiles(
        per_query=out / PER_QUERY_FILE,
        summary_json=out / SUMMARY_JSON_FILE,
        summary_md=out / SUMMARY_MD_FILE,
        chart=out / CHART_FILE,
    )

    per_query = "".join(
        json.dumps(
            {
                "query_id": r.query_id,
                "text": r.text,
                "mode": r.mode,
                "gold_rank": r.gold_rank,
                "top_hits": [{"id": h.id, "score": h.score} for h in r.top_hits],
            },
            ensure_ascii=False,
            default=_jsonable,
        )
        + "\n"
        for r in records
    )
    summary_json = json.dumps(
        {"meta": meta, "modes": summary_by_mode},
        ensure_ascii=False,
        indent=2,
        default=_jsonable,
    )
    md = ["# Evaluation summary", ""]
    md += [f"- **{_md_escape(str(k))}**: {_md_escape(str(v))}" for k, v in meta.items()]
    if meta:
        md.append("")
    md += [
        "Cells are `mean [lo, hi]`: the mean over queries and its 95% interval.",
        "",
        markdown_table(summary_by_mode),
        "",
        f"![metrics by mode]({CHART_FILE})",
        "",
        _misses_markdown(records, list(summary_by_mode), worst),
    ]

    try:
        out.mkdir(parents=True, exist_ok=True)
        _replace_into(files.per_query, lambda p: p.write_text(per_query, encoding="utf-8"))
        _replace_into(
            files.summary_json, lambda p: p.write_text(summary_json + "\n", encoding="utf-8")
        )
        _replace_into(files.summary_md, lambda p: p.write_text("\n".join(md), encoding="utf-8"))
        _replace_into(files.chart, lambda p: _write_chart(p, summary_by_mode))
    except OSError as e:
        raise InputError(f"cannot write the report to {out}: {e.strerror or e}") from e
    logger.info("wrote evaluation report for %d modes to %s", len(summary_by_mode), out)
    return files
