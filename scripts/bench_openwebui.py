"""Replay the recorded Open WebUI requests against the API and print status and latency.

    python scripts/bench_openwebui.py [--repeat 3]

Every request in tests/data/openwebui/*.jsonl is sent in-process (the real model, the
bundled page indexed in a temporary folder), ``--repeat`` times; the table gives, per kind
of request (chat, or the background task its prompt asks for), how many there were, their
HTTP statuses, how many got what Open WebUI can use (a task: JSON with the asked key; a
chat: one source event per citation) and the median latency.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "openwebui"


def kind_of(body: dict) -> str:
    if body.get("tools"):
        return "chat (stream)" if body.get("stream") else "chat"
    last = body["messages"][-1]["content"]
    m = re.search(r'JSON format:\s*\{\s*"(\w+)"', last)
    return f"task: {m.group(1)}" if m else "other"


def usable(kind: str, response) -> bool:
    """Whether Open WebUI can use the reply: the asked JSON, or one source event per citation."""
    if response.status_code != 200:
        return False
    if kind.startswith("task: "):
        try:
            reply = json.loads(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, TypeError):
            return False
        return isinstance(reply, dict) and kind[len("task: ") :] in reply
    chunks = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    events = [c for c in chunks if "event" in c]
    return bool(events) and len(events) == len(chunks[-1].get("citations", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from rag.engine import Engine

    settings = Settings().with_overrides(index_dir=Path(tempfile.mkdtemp()) / "index")
    engine = Engine(settings.engine_config())
    engine.warm_up()
    client = TestClient(create_app(settings, engine=engine))
    bodies = [
        json.loads(line)["json"]
        for path in sorted(RECORDED.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["path"] == "/v1/chat/completions"
    ]
    times: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, list[int]] = defaultdict(list)
    ok: dict[str, int] = defaultdict(int)
    for _ in range(args.repeat):
        for body in bodies:
            kind = kind_of(body)
            start = time.perf_counter()
            response = client.post("/v1/chat/completions", json=body)
            _ = response.text  # the whole streamed reply
            times[kind].append((time.perf_counter() - start) * 1000)
            statuses[kind].append(response.status_code)
            ok[kind] += usable(kind, response)
    print(f"{'request':<20} {'n':>3}  {'statuses':<14} {'usable':>7} {'median ms':>10}")
    for kind in sorted(times):
        counts = ",".join(f"{s}x{statuses[kind].count(s)}" for s in sorted(set(statuses[kind])))
        print(
            f"{kind:<20} {len(times[kind]) // args.repeat:>3}  {counts:<14} "
            f"{ok[kind] // args.repeat:>7} {statistics.median(times[kind]):>10.1f}"
        )


if __name__ == "__main__":
    main()
