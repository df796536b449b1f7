"""Start-up: launch ``rag serve`` on an existing index until the first answered ``/ask``,
per runtime, and an in-process breakdown of where that time goes (a fresh worker)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from benchmarks.common import cols, load_questions, ratio
from benchmarks.harness import Context, Server, run_worker, worker_main

NAME = "startup"
TARGETS = {"startup_s": 4.0}
QUICK = {"startup_runs": (1, 3)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--startup-runs", type=int, help="server launches per runtime (default 3)")


def worker(params: dict) -> dict:
    """What ``rag serve`` does before it answers, phase by phase, in one process: the modules
    it imports, the model and index it loads, its warm-up search and the first questions."""
    phases: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases[name] = round(now - t, 3)
        t = now

    import api.app  # noqa: F401 - fastapi, pydantic, the rag package
    from api.settings import get_settings
    from rag.engine import Engine, make_encoder

    lap("import_api")
    config = replace(get_settings().engine_config(), index_dir=Path(params["index_dir"]))
    encoder = make_encoder(config)
    lap("make_encoder")
    encoder.warm_up()
    lap("load_model")
    engine = Engine(config, encoder=encoder)
    engine.warm_up()  # loads the index, then one warm-up search (jieba, BM25)
    lap("load_index_and_warm_search")
    questions = load_questions()
    engine.ask(questions[1])
    lap("first_ask")
    engine.ask(questions[2])
    lap("second_ask")
    heavy = sorted(
        m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules
    )
    return {"phases_s": phases, "encoder": encoder.runtime, "heavy_modules_imported": heavy}


def run(ctx: Context) -> dict:
    index_dir = ctx.index_copy("startup-index")
    question = load_questions()[0]
    out: dict = {"baseline": ctx.baseline, "runtimes": {}}
    for runtime in ctx.runtimes:
        print(f"  startup: runtime {runtime}", flush=True)
        runs = []
        for i in range(ctx.args.startup_runs):
            server = Server(index_dir, ctx.tmp / f"startup-{runtime}-{i}.log", runtime)
            server.start()
            try:
                ready = server.wait_ready()
                with httpx.Client(timeout=60.0) as client:
                    t = time.perf_counter()
                    r = client.post(server.url + "/ask", json={"question": question})
                    r.raise_for_status()
                    first = time.perf_counter() - t
                runs.append(
                    {
                        "ready_s": round(ready, 2),
                        "first_ask_ms": round(first * 1000, 1),
                        "total_s": round(time.perf_counter() - server.started, 2),
                        "rss_mb": round(server.rss().get("VmRSS", 0), 0),
                    }
                )
            finally:
                server.stop()
        out["runtimes"][runtime] = {
            "runs": runs,
            "median_total_s": round(statistics.median(r["total_s"] for r in runs), 2),
            "median_ready_s": round(statistics.median(r["ready_s"] for r in runs), 2),
            "profile": run_worker("startup", {"index_dir": str(index_dir)}, runtime),
        }
    return out


def targets(results: dict) -> list[dict]:
    new = list(results["runtimes"])[-1]
    return [
        {
            "target": f"restart to first answered /ask s ({new}, median)",
            "limit": TARGETS["startup_s"],
            "value": results["runtimes"][new]["median_total_s"],
        }
    ]


def report(results: dict, table) -> None:
    base = results["runtimes"][results["baseline"]]["median_total_s"]
    keys = ["ready_s", "first_ask_ms", "total_s", "rss_mb"]
    rows = [
        [rt, i + 1, *[run[k] for k in keys], f"{ratio(base, r['median_total_s']):.2f}x"]
        for rt, r in results["runtimes"].items()
        for i, run in enumerate(r["runs"])
    ]
    table(
        f"Start-up: launch -> first answered /ask (speed-up = {results['baseline']} median / median)",
        cols("runtime|run|ready s|first /ask ms|total s|RSS MB|speed-up"),
        rows,
    )
    for rt, r in results["runtimes"].items():
        phases = r["profile"]["phases_s"]
        table(
            f"Start-up, in-process breakdown (s), {rt}; heavy modules imported: "
            f"{', '.join(r['profile'].get('heavy_modules_imported', [])) or 'none'}",
            list(phases),
            [list(phases.values())],
        )


if __name__ == "__main__":
    worker_main(worker)
