#!/usr/bin/env bash
# Create .venv (if needed) and install the project into it; torch is pinned to the CPU build
# 2.13.0 in pyproject.toml. $1: extras to add, e.g. "[test]".
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${1:-}"
