"""What follow-up resolution costs: Engine.ask with and without earlier turns.

Usage::

    .venv/bin/python scripts/bench_conversation.py            # ~1 min on 2 cores
    .venv/bin/python scripts/bench_conversation.py --rounds 20

Builds the bundled page's index with the real default model in a temporary folder, then
times, in the same process and interleaved round by round:

- ``standalone``: the questions of a conversation asked alone (no history);
- ``follow-up``: the same questions asked in their conversation (history sent as /ask's
  clients send it: question, answer text and citations);
- ``resolve``: :func:`rag.conversation.resolve` alone on those follow-ups.

Prints p50/p95 in milliseconds. With ``--standalone QUERIES.jsonl`` (BEIR queries, e.g.
``../shared/bench/cmrc2018-zh-chunk/queries-tune.jsonl``) it also prints how many of those
questions, each asked right after the four-highlights turn, are read as follow-ups (they are
written to stand alone, so every follow-up reading there is a misreading or a question that
leans on its own passage, such as 它的启动口令是什么？).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import percentile

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = [
    [
        "职业伤害保障试点有哪四个亮点？",
        "第二个亮点具体指什么？",
        "最后一个呢？",
        "Tell me more about the second one",
    ],
    ["北京工会如何弘扬劳模精神？", "那天津市总工会呢？", "为什么？"],
    ["职业伤害保障试点是什么时候开始的？", "它覆盖了多少人？", "那作者呢？"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--standalone", type=Path, help="BEIR queries.jsonl of standalone questions"
    )
    args = parser.parse_args()

    from api.settings import Settings
    from rag.conversation import resolve
    from rag.embedding.encoder import default_encoder
    from rag.engine import Engine, EngineConfig
    from rag.types import Turn

    encoder = default_encoder(Settings.from_env().model_cache)
    encoder.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        config = EngineConfig(index_dir=Path(tmp) / "index", corpus=(ROOT / "data/articles.txt",))
        engine = Engine(config, encoder=encoder)
        engine.warm_up()
        documents = {d.doc_id: d for d in engine.documents()}
        # The histories, built once from the engine's own answers.
        cases: list[tuple[str, tuple[Turn, ...]]] = []
        for conversation in CONVERSATIONS:
            history: list[Turn] = []
            for question in conversation:
                if history:
                    cases.append((question, tuple(history)))
                answer = engine.ask(question, history=tuple(history))
                history.append(Turn(question, answer.text, answer.citations))
        times: dict[str, list[float]] = {"standalone": [], "follow-up": [], "resolve": []}
        for _ in range(args.rounds):
            for question, history in cases:
                t0 = time.perf_counter()
                engine.ask(question)
                t1 = time.perf_counter()
                engine.ask(question, history=history)
                t2 = time.perf_counter()
                resolve(question, history, documents)
                t3 = time.perf_counter()
                times["standalone"].append((t1 - t0) * 1000)
                times["follow-up"].append((t2 - t1) * 1000)
                times["resolve"].append((t3 - t2) * 1000)
        if args.standalone:
            misread(args.standalone, documents)
    print(f"{len(cases)} follow-ups x {args.rounds} rounds (bundled page, default model)")
    print(f"{'':12s} {'p50 ms':>8s} {'p95 ms':>8s} {'mean ms':>8s}")
    for name, values in times.items():
        print(
            f"{name:12s} {percentile(values, 50):8.2f} {percentile(values, 95):8.2f}"
            f" {statistics.fmean(values):8.2f}"
        )


def misread(path: Path, documents) -> None:
    import collections
    import json

    from rag.conversation import resolve
    from rag.types import Turn

    first = next(iter(CONVERSATIONS))[0]
    pilot = next(d for d in documents.values() if "其二" in d.text)
    lines = [s for s in pilot.text.split("\n") if s.startswith(("其一", "其二", "其三", "其四"))]
    answer = "\n".join(f"{i}. {line.split('。')[0]}。[{i}]" for i, line in enumerate(lines, 1))
    turn = Turn(first, answer)
    kinds: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            question = json.loads(line)["text"]
            reading = resolve(question, [turn], documents)
            kinds[reading.kind] += 1
            if reading.is_followup and len(examples[reading.kind]) < 3:
                examples[reading.kind].append(question)
    total = sum(kinds.values())
    print(f"{total} standalone questions after the four-highlights turn: {dict(kinds)}")
    print(
        f"read as follow-ups: {total - kinds['standalone']} ({1 - kinds['standalone'] / total:.1%})"
    )
    for kind, questions in examples.items():
        print(f"  {kind}: " + " / ".join(questions))


if __name__ == "__main__":
    main()
