#!/usr/bin/env bash
# Install the project with its test tools and the scale-out extra into .venv, Chromium for the browser tests,
# and run the whole test suite (slow tests included: they load the real model).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[test,scale]"
# Debian's Chromium drives the browser tests; a CJK font makes their screenshots legible.
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi wenquanyi; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium fonts-wqy-microhei
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
