"""The agentkit commit a benchmark measured, for its results file."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def agentkit_revision() -> str:
    """The commit agentkit was measured at, marked when its files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = " (modified)" if git("status", "--porcelain", "agentkit") else ""
    return git("rev-parse", "--short", "HEAD") + dirty
