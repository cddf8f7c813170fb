"""Every example runs as documented (`python -m examples.<name>`) and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_example(name: str, *args: str, timeout: float = 120) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", f"examples.{name}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_scripted_agent() -> None:
    out = run_example("scripted_agent")
    assert "result  calculate -> 391" in out
    assert "result  days_between -> 59" in out
    assert "retry   invalid arguments for calculate" in out
    assert "result  calculate -> 1024" in out
    assert "usage   4 turns, 1 failed" in out


def test_structured_output() -> None:
    out = run_example("structured_output")
    assert "'severity': 'high'" in out
    assert "retries: 1" in out


def test_guardrails() -> None:
    out = run_example("guardrails")
    assert "the model saw: I'm <EMAIL>, <PHONE>. When is the shop open?" in out
    assert "tool result the model saw: Error: the result was withheld" in out
    assert "attacker@" not in out.split("tool result the model saw:")[1].splitlines()[0]
    assert "verdict: tool_result PromptInjectionGuardrail block (injection)" in out
    assert "streamed before the cut: 'Sure. '; blocked:" in out


def test_approval_and_usage_limits() -> None:
    out = run_example("approval")
    assert "status: paused | waiting: [('refund', {'order': 'A-17', 'amount': 250})]" in out
    assert "status: completed | answer: The refund of 250 is done." in out
    assert "result the model saw: refunded 250 on A-17" in out
    assert "stopped: the run would pass its limit of 2 model turns | turns: 2" in out


def test_service() -> None:
    out = run_example("service")
    assert 'alice: You have ordered: ["book","lamp"].' in out
    assert 'bob: You have ordered: ["bike"].' in out
    assert "alice, later:" in out


def test_openai_server() -> None:
    out = run_example("openai_server")
    assert "call: get_weather({'city': 'Oslo'})" in out
    assert "answer:" in out


@pytest.mark.model
def test_quickstart_calls_a_tool_on_the_default_model() -> None:
    out = run_example("quickstart", timeout=600)
    assert "call: get_weather({'city': 'Paris'})" in out
    assert "answer: " in out


@pytest.mark.model
def test_quickstart_makes_one_call_per_city_for_two_cities() -> None:
    out = run_example("quickstart", "What's the weather in Paris and in London?", timeout=600)
    calls = [line for line in out.splitlines() if line.startswith("call: ")]
    assert calls[:2] == [
        "call: get_weather({'city': 'Paris'})",
        "call: get_weather({'city': 'London'})",
    ]


@pytest.mark.model
def test_local_service_serves_users_together_from_a_shared_prefix() -> None:
    out = run_example("local_service", timeout=600)
    assert "3 users served together" in out
    lines = [line.split() for line in out.splitlines() if line.strip().startswith("prompt ")]
    assert len(lines) == 3
    usage = [(int(words[1]), int(words[-1])) for words in lines]  # "prompt N tokens, prefilled M"
    assert all(prefilled <= prompt for prompt, prefilled in usage)
    assert sum(prefilled < prompt / 2 for prompt, prefilled in usage[:2]) == 2  # the weather ones
