"""The serving examples run as documented (`python -m examples.<name>`) and print what they say."""

from __future__ import annotations

import pytest

from tests.test_examples import run_example

pytest.importorskip("uvicorn")
pytest.importorskip("openai")


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
