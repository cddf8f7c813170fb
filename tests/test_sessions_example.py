"""`examples/sessions.py` runs as documented, and its conversation survives the process."""

from __future__ import annotations

from pathlib import Path

from tests.test_examples import run_example as run_examples_module


def run_example(*args: str) -> str:
    return run_examples_module("sessions", *args)


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
