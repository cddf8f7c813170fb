"""Tracing end to end: the span tree of real `Agent` runs on a scripted model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agentkit import Agent, tool, tracing
from agentkit.guardrails import Verdict, guardrail
from agentkit.models import ScriptedModel

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@tool
def forecast(city: str) -> str:
    """Tomorrow's weather in a city."""
    raise ValueError(f"no forecast for {city}")


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.enable(provider)
    try:
        yield memory
    finally:
        tracing.disable()


def _script() -> ScriptedModel:
    calls = [
        {"name": "weather", "arguments": {"city": "Oslo"}},
        {"name": "forecast", "arguments": {"city": "Oslo"}},
    ]
    return ScriptedModel(['[{"name": "weather", "argu', json.dumps(calls), "Sunny in Oslo."])


def _tree(exporter: InMemorySpanExporter) -> tuple[Any, list[Any]]:
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 1
    root = roots[0]
    children = sorted((s for s in spans if s is not root), key=lambda s: s.start_time)
    for child in children:
        assert child.parent.span_id == root.context.span_id
    return root, children


def test_a_run_with_a_retry_parallel_calls_and_a_failed_tool(
    exporter: InMemorySpanExporter,
) -> None:
    agent = Agent(_script(), tools=[weather, forecast], name="weather-agent")
    result = agent.run("Weather in Oslo today and tomorrow?")
    assert result.output == "Sunny in Oslo."
    root, children = _tree(exporter)
    assert root.name == "invoke_agent weather-agent"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["agentkit.run.id"] == result.run_id
    assert root.status.status_code == StatusCode.UNSET
    names = [c.name for c in children]
    assert names.count("execute_tool weather") == 1
    assert names.count("execute_tool forecast") == 1
    turns = [c for c in children if c.attributes["gen_ai.operation.name"] == "chat"]
    assert [t.attributes["agentkit.step"] for t in turns] == [0, 1, 2]
    tools = {c.attributes["gen_ai.tool.name"]: c for c in children if c not in turns}
    assert tools["weather"].status.status_code == StatusCode.UNSET
    assert tools["forecast"].status.status_code == StatusCode.ERROR
    ids = {c.attributes["gen_ai.tool.call.id"] for c in tools.values()}
    assert ids == {r.id for r in result.tool_calls}
    retries = [e for e in root.events if e.name == "agentkit.retry"]
    assert len(retries) == 1 and retries[0].attributes["agentkit.retry.errors"] == ("parse",)
    dumped = json.dumps([json.loads(s.to_json()) for s in exporter.get_finished_spans()])
    assert "Oslo" not in dumped  # no content without record_content


def test_a_failed_run_marks_its_span_failed(exporter: InMemorySpanExporter) -> None:
    from agentkit.errors import RetriesExhausted

    agent = Agent(ScriptedModel(["[{"] * 2), max_retries=1)
    with pytest.raises(RetriesExhausted):
        agent.run("Hi")
    root, _ = _tree(exporter)
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes["error.type"] == "RetriesExhausted"


@guardrail
def no_secrets(text: str, context: Any) -> Verdict:
    """Block a secret word."""
    return Verdict.block("a secret", category="secret") if "SECRET" in text else Verdict.allow()


def test_guardrail_verdicts_are_events_of_the_run_span(exporter: InMemorySpanExporter) -> None:
    from agentkit.errors import InputGuardrailTripped

    agent = Agent(ScriptedModel(["never"]), input_guardrails=[no_secrets])
    with pytest.raises(InputGuardrailTripped):
        agent.run("the SECRET word")
    root, _ = _tree(exporter)
    verdicts = [e for e in root.events if e.name == "agentkit.guardrail"]
    assert [v.attributes["agentkit.guardrail.action"] for v in verdicts] == ["block"]
