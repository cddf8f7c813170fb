#!/usr/bin/env bash
# Create bench/.venv with the anchor frameworks and agentkit (editable), then optionally run.
#   bench/setup.sh            # set up only
#   bench/setup.sh --run      # set up, then python bench/overhead.py
# PYTHON picks the interpreter (default python3; agentkit needs 3.11+).
# BENCH_TORCH=1 also installs torch==2.13.0 first: no anchor needs it, but smolagents is faster with
# it present (see README).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --quiet)
"${pip[@]}" --upgrade pip
if [ "${BENCH_TORCH:-0}" = "1" ]; then
    # Installed first so that nothing later pulls another build. For the CPU-only wheel from
    # PyTorch's own index, set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu.
    "${pip[@]}" torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
"${pip[@]}" -r "$here/requirements.txt"
"${pip[@]}" -e "$repo"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
for dist in ("agentkit", "smolagents", "pydantic-ai-slim", "openai-agents", "pydantic"):
    print(f"{dist} {md.version(dist)}")
PY
if [ "${1:-}" = "--run" ]; then
    cd "$repo"
    exec "$venv/bin/python" bench/overhead.py "${@:2}"
fi
