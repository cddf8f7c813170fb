#!/usr/bin/env bash
# Set up (if needed) and run the main example: a real agent on the embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m examples.quickstart "$@"
