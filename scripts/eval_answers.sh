#!/usr/bin/env bash
# Every answer-quality figure of docs/answers.md in one run: the CMRC 2018 halves (Chinese and
# the hand-translated English questions), the bundled page's dev and test splits, and the three
# news-page question sets. Writes one JSON summary per set to OUT (default artifacts/answers).
# CMRC 2018 (CC BY-SA 4.0) is read from ../shared/bench, as `rag eval` does.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-artifacts/answers}
BENCH=${BENCH:-../shared/bench/cmrc2018-zh-chunk}
RAG=${RAG:-.venv/bin/rag}
mkdir -p "$OUT"
run() { local name=$1; shift; "$RAG" eval "$@" --answers --mode hybrid --json >"$OUT/$name.json"; echo "wrote $OUT/$name.json"; }
run cmrc-tune --dataset "$BENCH" --split tune --half tune --limit 400 --k 1,10
run cmrc-report --dataset "$BENCH" --split tune --half report --limit 200 --k 1,10
run en-tune --dataset "$BENCH" --split tune --half tune --queries tests/data/cmrc-en-tune.jsonl --k 1,5,10
run en-report --dataset "$BENCH" --split tune --half report --queries tests/data/cmrc-en-report.jsonl --k 1,5,10
run dev --questions tests/data/questions.jsonl --split dev --k 1,5
run test --questions tests/data/questions.jsonl --split test --k 1,5
for set in news-qa news-qa2 news-qa3; do
    RAG_CORPUS=tests/data/$set run "$set" --questions "tests/data/$set-questions.jsonl" --k 1,5
done
