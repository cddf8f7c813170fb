"""The serving examples run as documented (`python -m examples.<name>`) and print what they say."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_server_support import ROOT

pytest.importorskip("uvicorn")
pytest.importorskip("openai")


def run_example(name: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", f"examples.{name}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_embedded_service() -> None:
    out = run_example("embedded_service")
    assert "GET /: {'shop': 'open', 'assistant': '/agent/v1'}" in out
    assert "assistant: We have 3 in stock." in out


def test_openai_client() -> None:
    out = run_example("openai_client")
    assert "answer: That is 69.8 °F." in out
    assert "call: convert({'celsius': 21}) -> 69.8" in out
    assert "streamed: That is 69.8 °F." in out
    assert "finish_reason: approval_required" in out
    assert "waiting for approval: set_thermostat({'celsius': 19})" in out
    assert "after approval: Done: thermostat set to 19.0 °C." in out
