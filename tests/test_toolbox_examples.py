"""The toolbox examples run as documented (`python -m examples.<name>`) and print what they show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_examples import run_example

ROOT = Path(__file__).resolve().parent.parent


def test_file_and_web_tools() -> None:
    pytest.importorskip("bs4")
    out = run_example("file_and_web_tools")
    assert "read_file: Summarise the release notes." in out
    assert '"title":"Release notes","text":"v2.0\\nFaster."' in out
    assert "write_file: wrote 15 bytes to summary.md" in out
    assert "'../secret.txt' is a path outside the root" in out
    assert "refused: 169.254.169.254 is a cloud metadata address" in out
    assert "default web tools: fetch_url raised ToolError: refused: 127.0.0.1" in out


def test_custom_toolbox() -> None:
    pytest.importorskip("pint")
    out = run_example("custom_toolbox")
    assert "tools: stock, order" in out
    assert "raised OutOfStock: only 0 desk in stock" in out
    assert "Input should be less than or equal to 10" in out
    assert "ordered 2 lamp (express)" in out and "-> 47.2440944882" in out
    assert "failed turns: 1" in out


def test_custom_toolbox_is_a_command_line_toolbox() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentkit", "schema", "examples/custom_toolbox.py"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [s["function"]["name"] for s in json.loads(done.stdout)] == ["stock", "order"]
