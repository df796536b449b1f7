#!/usr/bin/env bash
# Install the service into .venv (if needed) and serve the bundled articles on 127.0.0.1:8000.
# The first start converts the embedding model and builds the index (a minute or two).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build 2.13.0 in pyproject.toml.
.venv/bin/python -m pip install -q -e .
exec .venv/bin/rag serve "$@"
