"""Shared pieces of the benchmarks: questions, summaries, process memory, machine, tables."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "data" / "articles.txt"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"

# The 20 questions (12 Chinese, 8 English) every earlier run in docs/benchmarks.md used, by id
# in tests/data/questions.jsonl, so new figures stay comparable with the recorded ones.
DEFAULT_QUESTION_IDS = (
    "zh-01 zh-05 zh-03 zh-06 zh-07 zh-15 zh-16 zh-18 zh-25 zh-28 zh-31 zh-33 "
    "en-03 en-04 en-07 en-11 en-19 en-21 en-22 en-24"
).split()


def load_questions(which: str = "default") -> list[str]:
    """Question texts from ``tests/data/questions.jsonl``.

    Args:
        which: ``default`` (the 20 ids above, in that order), ``answerable`` or ``all``.
    """
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    if which == "all":
        return [r["question"] for r in rows]
    if which == "answerable":
        return [r["question"] for r in rows if r["answerable"]]
    if which != "default":
        raise ValueError(f"unknown question set {which!r}; use default, answerable or all")
    by_id = {r["id"]: r["question"] for r in rows}
    missing = [i for i in DEFAULT_QUESTION_IDS if i not in by_id]
    if missing:
        raise ValueError(f"{QUESTIONS} lacks the benchmark's questions {missing}")
    return [by_id[i] for i in DEFAULT_QUESTION_IDS]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), interpolated linearly between the two nearest
    values (numpy's default, which every benchmark uses); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summary(ms: list[float]) -> dict:
    """n, p50, p95, mean and max of a list of milliseconds."""
    a = np.asarray(ms, dtype=float)
    return {
        "n": len(a),
        "p50": round(percentile(a, 50), 2),
        "p95": round(percentile(a, 95), 2),
        "mean": round(float(a.mean()), 2),
        "max": round(float(a.max()), 2),
    }


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process in MB (Linux; empty elsewhere)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def ratio(new: float, base: float) -> float:
    """``new / base`` rounded, NaN when the baseline is zero."""
    return round(new / base, 2) if base else float("nan")


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    mem = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    import faiss

    return {
        "cpu": model,
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem, 1),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "commit": commit,
        "load_average_at_start": os.getloadavg(),
    }


class Table:
    """Prints tables as aligned text, or as GitHub Markdown (for docs/benchmarks.md)."""

    def __init__(self, markdown: bool = False) -> None:
        self.markdown = markdown

    def __call__(self, title: str, header: list[str], rows: list[list]) -> None:
        cells = [[_fmt(v) for v in r] for r in rows]
        print(f"\n## {title}")
        if self.markdown:
            print()
            for r in [header, ["---"] * len(header), *cells]:
                print("| " + " | ".join(r) + " |")
            return
        widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
        for r in [header, *cells]:
            print(
                "  ".join(
                    c.rjust(w) if i else c.ljust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
            )


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def cols(spec: str) -> list[str]:
    return spec.split("|")
