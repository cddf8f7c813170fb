#!/usr/bin/env bash
# Set up (if needed) and check everything: format, lint, types, tests and doctests (real-model
# tests included), and the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q -m "" "$@"  # every test: real-model and slow ones included
