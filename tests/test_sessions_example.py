"""`examples/sessions.py` runs as documented, and its conversation survives the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(*args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", "examples.sessions", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_second_run_remembers_the_first() -> None:
    out = run_example()
    assert "run 1: Nice to meet you, Ada!" in out
    assert "run 2: Your name is Ada." in out
    assert "stored: 7 messages in sessions.db" in out
    assert "  assistant greet({'name': 'Ada'})" in out
    assert "  tool      Nice to meet you, Ada!" in out


def test_the_conversation_outlives_the_process(tmp_path: Path) -> None:
    db = tmp_path / "guests.db"
    run_example("--db", str(db))
    out = run_example("--db", str(db))  # a new process: the history comes from the file
    assert "stored: 13 messages in guests.db" in out  # one system message, three turns more
    assert out.count("  user      Hello, my name is Ada.") == 2
