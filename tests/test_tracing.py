"""Tracing: the hook API the loop calls, driven as the loop drives it, into the SDK's memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agentkit import _trace, tracing
from agentkit.guardrails import VerdictRecord

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402


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


@pytest.fixture
def content_exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.enable(provider, record_content=True)
    try:
        yield memory
    finally:
        tracing.disable()


async def _tool(run: _trace.Span, name: str, call_id: str, fail: bool) -> str:
    """A tool call as `Executor._invoke` wraps it."""
    with _trace.tool_span(run, name, call_id, {"city": "Oslo"}) as span:
        await asyncio.sleep(0)
        if fail:
            span.error(f"{name} raised ValueError: no such city Oslo")
            return "Error"
        span.result("sunny in Oslo")
        return "sunny in Oslo"


async def _events() -> AsyncIterator[str]:
    """A run shaped like `Run.events`: a failed turn, a turn with parallel calls, an answer."""
    with _trace.run_span("weather-agent", "scripted", "run-1") as run:
        with _trace.turn_span(run, "scripted", 0) as turn:
            turn.usage(10, 3)
            yield "unparseable reply"
        run.retry(1, ["parse"])
        with _trace.turn_span(run, "scripted", 1) as turn:
            turn.usage(20, 7)
            yield "two calls"
        calls = [_tool(run, "weather", "c1", False), _tool(run, "forecast", "c2", True)]
        for done in asyncio.as_completed(calls):
            yield await done
        records = [VerdictRecord("tool_result", "pii", "redact", "an email", "pii", 0.9, 0.002)]
        run.verdicts(records)
        run.verdicts(records)  # recorded once
        with _trace.turn_span(run, "scripted", 2) as turn:
            turn.usage(30, 5)
            turn.reply("It is sunny.")
            yield "final"


async def _consume_until_final() -> list[str]:
    """As `run_async` does: stop at the final item and close the generator."""
    seen = []
    events = _events()
    async for item in events:
        seen.append(item)
        if item == "final":
            break
    await events.aclose()
    return seen


def _by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_span_tree_of_a_run_with_a_retry_parallel_calls_and_a_failed_tool(
    exporter: InMemorySpanExporter,
) -> None:
    asyncio.run(_consume_until_final())
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == [
        "chat scripted",
        "chat scripted",
        "chat scripted",
        "execute_tool forecast",
        "execute_tool weather",
        "invoke_agent weather-agent",
    ]
    named = _by_name(exporter)
    run = named["invoke_agent weather-agent"]
    assert run.parent is None
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == "weather-agent"
    assert run.attributes["gen_ai.request.model"] == "scripted"
    assert run.attributes["gen_ai.usage.input_tokens"] == 60  # the turns' totals
    assert run.attributes["gen_ai.usage.output_tokens"] == 15
    assert run.status.status_code == StatusCode.UNSET  # closing the generator is no failure
    for span in spans:
        if span is not run:
            assert span.parent.span_id == run.context.span_id
            assert span.context.trace_id == run.context.trace_id
    turns = sorted((s for s in spans if s.name == "chat scripted"), key=lambda s: s.start_time)
    assert [t.attributes["agentkit.step"] for t in turns] == [0, 1, 2]
    assert [t.attributes["gen_ai.usage.input_tokens"] for t in turns] == [10, 20, 30]
    assert all(t.attributes["gen_ai.operation.name"] == "chat" for t in turns)

    weather, forecast = named["execute_tool weather"], named["execute_tool forecast"]
    assert weather.attributes["gen_ai.operation.name"] == "execute_tool"
    assert weather.attributes["gen_ai.tool.name"] == "weather"
    assert weather.attributes["gen_ai.tool.call.id"] == "c1"
    assert weather.status.status_code == StatusCode.UNSET
    assert forecast.status.status_code == StatusCode.ERROR
    assert forecast.attributes["error.type"] == "tool_error"

    events = [(e.name, dict(e.attributes)) for e in run.events]
    assert events[0] == (
        "agentkit.retry",
        {"agentkit.retry.attempt": 1, "agentkit.retry.errors": ("parse",)},
    )
    assert [name for name, _ in events] == ["agentkit.retry", "agentkit.guardrail"]
    verdict = events[1][1]
    assert verdict["agentkit.guardrail.action"] == "redact"
    assert verdict["agentkit.guardrail.stage"] == "tool_result"
    assert verdict["agentkit.guardrail.category"] == "pii"


def test_no_content_is_recorded_by_default(exporter: InMemorySpanExporter) -> None:
    asyncio.run(_consume_until_final())
    dumped = json.dumps([json.loads(s.to_json()) for s in exporter.get_finished_spans()])
    assert "Oslo" not in dumped
    assert "sunny" not in dumped
    assert "an email" not in dumped
    forecast = _by_name(exporter)["execute_tool forecast"]
    assert forecast.status.description == "tool_error"


def test_record_content_records_arguments_results_replies_and_errors(
    content_exporter: InMemorySpanExporter,
) -> None:
    asyncio.run(_consume_until_final())
    named = _by_name(content_exporter)
    weather = named["execute_tool weather"]
    assert json.loads(weather.attributes["gen_ai.tool.call.arguments"]) == {"city": "Oslo"}
    assert weather.attributes["gen_ai.tool.call.result"] == "sunny in Oslo"
    assert "no such city" in named["execute_tool forecast"].status.description
    finals = [
        s for s in content_exporter.get_finished_spans() if s.attributes.get("agentkit.step") == 2
    ]
    output = json.loads(finals[0].attributes["gen_ai.output.messages"])
    assert output == [{"role": "assistant", "content": "It is sunny."}]


def test_an_exception_leaving_a_span_marks_it_failed(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError):
        with _trace.run_span("a", "m", "r") as run:
            with _trace.turn_span(run, "m", 0):
                raise RuntimeError("the model broke on secret text")
    spans = _by_name(exporter)
    for name in ("invoke_agent a", "chat m"):
        assert spans[name].status.status_code == StatusCode.ERROR
        assert spans[name].attributes["error.type"] == "RuntimeError"
        assert "secret" not in (spans[name].status.description or "")


def test_a_tool_span_is_current_while_the_tool_runs(exporter: InMemorySpanExporter) -> None:
    from opentelemetry import trace

    with _trace.run_span("a", "m", "r") as run:
        with _trace.tool_span(run, "fetch", "c1", {}):
            current = trace.get_current_span()
            assert current.get_span_context().is_valid
        assert not trace.get_current_span().get_span_context().is_valid
    tool = _by_name(exporter)["execute_tool fetch"]
    assert current.get_span_context().span_id == tool.context.span_id


def test_disabled_hooks_return_the_shared_no_op_span() -> None:
    tracing.disable()
    assert not tracing.is_enabled()
    run = _trace.run_span("a", "m", "r")
    assert run is _trace.NO_SPAN
    assert _trace.turn_span(run, "m", 0) is _trace.NO_SPAN
    assert _trace.tool_span(run, "t", "c", {"x": 1}) is _trace.NO_SPAN
    with run as span:  # every method is a no-op
        span.usage(1, 2)
        span.error("x")
        span.retry(1, ["parse"])
        span.verdicts([])


def test_disabled_hooks_cost_well_under_a_few_microseconds() -> None:
    tracing.disable()
    rounds = 20_000
    start = time.perf_counter()
    for i in range(rounds):
        with _trace.run_span("a", "m", "r") as run:
            with _trace.turn_span(run, "m", i) as turn:
                turn.usage(1, 2)
            with _trace.tool_span(run, "t", "c", {}) as tool:
                tool.result("x")
    per_round = (time.perf_counter() - start) / rounds
    assert per_round < 5e-6, f"{per_round * 1e9:.0f} ns for three disabled spans"


def test_import_agentkit_and_the_hooks_do_not_import_opentelemetry() -> None:
    code = (
        "import sys, agentkit, agentkit._trace, agentkit.tracing\n"
        "with agentkit._trace.run_span('a', 'm', 'r'): pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_enable_without_opentelemetry_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentkit.errors import UsageError

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(UsageError, match=r"agentkit\[otel\]"):
        tracing.enable()
    assert not tracing.is_enabled()
