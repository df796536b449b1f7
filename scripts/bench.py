"""Benchmark the service: query embedding, latency, ingest, FAISS at scale, start-up, load.

Usage::

    .venv/bin/python scripts/bench.py                       # every section (~25 min on 2 cores)
    .venv/bin/python scripts/bench.py latency startup       # some sections
    .venv/bin/python scripts/bench.py --quick               # smoke run
    .venv/bin/python scripts/bench.py --runtimes torch,default --out artifacts/bench.json
    .venv/bin/python scripts/bench.py --from-json artifacts/bench.json --markdown

Each section is a module of ``scripts/benchmarks/``; the sections that embed text run once per
runtime in ``--runtimes`` (default ``torch,default``: the torch fp32 path as the baseline, then
the service's default) and print ratios against the first. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import embedding, ingest, latency, load, scale, startup
from benchmarks.common import ROOT, Table, cols, machine
from benchmarks.harness import Context

SECTIONS = {m.NAME: m for m in (embedding, latency, ingest, scale, startup, load)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", nargs="*", help=f"sections (default all): {' '.join(SECTIONS)}")
    p.add_argument("--only", help="sections, comma separated (same as the positional names)")
    p.add_argument("--quick", action="store_true", help="a fast smoke run")
    p.add_argument(
        "--runtimes",
        default="torch,default",
        help="encoder runtimes to compare, baseline first: torch, onnx, default (RAG_RUNTIME unset)",
    )
    p.add_argument(
        "--out", type=Path, default=ROOT / "artifacts" / "bench.json", help="JSON results"
    )
    p.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    p.add_argument("--from-json", type=Path, help="print the tables of a saved run; run nothing")
    for module in SECTIONS.values():
        module.add_arguments(p)
    args = p.parse_args(argv)
    for module in SECTIONS.values():
        for key, (quick, full) in getattr(module, "QUICK", {}).items():
            if getattr(args, key) is None:
                setattr(args, key, quick if args.quick else full)
    names = list(args.which) + (args.only.split(",") if args.only else [])
    names = [n.strip() for n in names if n.strip()]
    unknown = set(names) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {' '.join(SECTIONS)}")
    args.sections = [n for n in SECTIONS if n in names] if names else list(SECTIONS)
    args.runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    return args


def targets(results: dict) -> list[dict]:
    out = []
    for name, module in SECTIONS.items():
        if name in results and hasattr(module, "targets"):
            out += module.targets(results[name])
    for t in out:
        ok = t["value"] >= t["limit"] if t.get("higher_is_better") else t["value"] <= t["limit"]
        t["result"] = "PASS" if ok else "MISS"
    return out


def report(results: dict, table: Table) -> None:
    """Print the tables (the JSON holds more)."""
    for name, module in SECTIONS.items():
        if name in results:
            module.report(results[name], table)
    if results.get("targets"):
        table(
            "Targets",
            cols("target|limit|measured|result"),
            [[t["target"], t["limit"], t["value"], t["result"]] for t in results["targets"]],
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    table = Table(markdown=args.markdown)
    if args.from_json:
        report(json.loads(args.from_json.read_text()), table)
        return 0
    results: dict = {
        "machine": machine(),
        "quick": args.quick,
        "sections": args.sections,
        "runtimes": args.runtimes,
    }
    print(f"machine: {results['machine']}")
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        ctx = Context(args, Path(tmp))
        for name in args.sections:
            print(f"\n[{name}] running...", flush=True)
            t = time.perf_counter()
            results[name] = SECTIONS[name].run(ctx)
            results[name]["section_s"] = round(time.perf_counter() - t, 1)
            results[name]["load_average_after"] = os.getloadavg()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    results["targets"] = targets(results)
    report(results, table)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
