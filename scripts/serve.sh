#!/usr/bin/env bash
# Install the service into .venv (if needed) and serve the bundled articles on 127.0.0.1:8000.
# The first start converts the embedding model and builds the index (a minute or two).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/rag serve "$@"
