#!/usr/bin/env bash
# Install the project with its test tools into .venv, Chromium for the browser tests,
# and run the whole test suite (slow tests included: they load the real model).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
if ! command -v chromium >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
