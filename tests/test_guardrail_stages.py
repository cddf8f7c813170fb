"""Input guardrails beside the first turn, and streamed output held back by output guardrails."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.errors import InputGuardrailTripped, OutputGuardrailTripped
from agentkit.events import FinalEvent, TextDelta
from agentkit.formats import StableLMFormat
from agentkit.guardrails import GuardrailContext, PIIGuardrail, Verdict, guardrail
from agentkit.models import Model, ModelRequest, ModelResponse


class _Slow(Model):
    """Streams each reply in small pieces, waiting on `gate` before its first piece."""

    def __init__(self, replies: list[str], gate: asyncio.Event | None = None) -> None:
        self.format = StableLMFormat()
        self.replies = list(replies)
        self.gate = gate
        self.started = 0
        self.cancelled = 0
        self.seen: list[str] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        self.started += 1
        self.seen.append(request.transcript[-1].content)
        text = self.replies.pop(0)
        try:
            if self.gate is not None:
                await self.gate.wait()
            for i in range(0, len(text), 5):
                yield text[i : i + 5]
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        yield ModelResponse(text=text, finish_reason="stop")


ran: list[str] = []


@tool
def record(note: str) -> str:
    """Record a note."""
    ran.append(note)
    return "noted"


def _call(note: str) -> str:
    return json.dumps([{"name": "record", "arguments": {"note": note}}])


def test_a_parallel_input_block_cancels_the_turn_before_any_tool_runs() -> None:
    ran.clear()
    gate = asyncio.Event()

    @guardrail
    async def slow_block(text: str, context: GuardrailContext) -> Verdict:
        gate.set()  # the model turn is under way by now
        await asyncio.sleep(0.01)
        return Verdict.block("no", category="abuse")

    model = _Slow([_call("x"), "done"], gate)
    agent = Agent(model, tools=[record], input_guardrails=[slow_block], run_in_parallel=True)
    with pytest.raises(InputGuardrailTripped):
        agent.run("bad request")
    assert ran == [] and model.started == 1


def test_a_guardrail_can_ask_to_run_in_parallel_itself() -> None:
    events: list[str] = []

    class Beside:
        run_in_parallel = True

        async def check(self, text: str, context: GuardrailContext) -> Verdict:
            events.append("check")
            await asyncio.sleep(0.01)
            return Verdict.allow()

    model = _Slow(["fine"])
    result = Agent(model, input_guardrails=[Beside()]).run("hello")
    assert result.output == "fine" and events == ["check"] and model.started == 1


def test_a_parallel_redaction_restarts_the_turn_on_the_redacted_message() -> None:
    started = asyncio.Event()

    class Started(_Slow):
        async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
            started.set()
            async for part in super().stream(request):
                yield part

    @guardrail
    async def slow_pii(text: str, context: GuardrailContext) -> Verdict:
        await started.wait()  # the first turn is under way on the raw message
        return PIIGuardrail().check(text, context)

    model = Started(["first", "second"])
    agent = Agent(model, input_guardrails=[slow_pii], run_in_parallel=True)
    result = agent.run("mail ada@example.com")
    assert model.seen == ["mail ada@example.com", "mail <EMAIL>"]
    assert result.output == "second" and "ada@" not in result.messages[0].content


def test_parallel_input_guardrails_save_the_check_time() -> None:
    """Blocking mode waits for the check, then the model; parallel mode overlaps them."""

    @guardrail
    async def slow(text: str, context: GuardrailContext) -> Verdict:
        await asyncio.sleep(0.2)
        return Verdict.allow()

    class Delayed(_Slow):
        async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
            await asyncio.sleep(0.2)
            async for part in super().stream(request):
                yield part

    def timed(parallel: bool) -> float:
        agent = Agent(Delayed(["ok"]), input_guardrails=[slow], run_in_parallel=parallel)
        start = time.monotonic()
        agent.run("hi")
        return time.monotonic() - start

    assert timed(True) < timed(False) - 0.1


def _stream(agent: Agent[Any, Any], prompt: str) -> tuple[list[Any], BaseException | None]:
    events: list[Any] = []

    async def main() -> None:
        async for event in agent.stream(prompt):
            events.append(event)

    try:
        asyncio.run(main())
    except Exception as exc:
        return events, exc
    return events, None


def test_streamed_output_is_redacted_before_it_is_emitted() -> None:
    model = _Slow(["Write to ada@example.com today. Thanks!"])
    agent = Agent(model, output_guardrails=[PIIGuardrail()])
    events, error = _stream(agent, "contact?")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert error is None and "ada@" not in text and "<EMAIL>" in text
    assert isinstance(events[-1], FinalEvent) and "<EMAIL>" in events[-1].result.output


def test_a_streamed_block_stops_before_the_offending_text() -> None:
    @guardrail
    def no_secret(text: str, context: GuardrailContext) -> Verdict:
        return Verdict.block("secret") if "SECRET" in text else Verdict.allow()

    model = _Slow(["All is well. The code is SECRET-42. Bye."])
    agent = Agent(model, output_guardrails=[no_secret], output_chunks="sentence")
    events, error = _stream(agent, "code?")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert isinstance(error, OutputGuardrailTripped)
    assert text == "All is well. " and "SECRET" not in text


def test_a_call_turn_is_not_judged_as_output() -> None:
    @guardrail
    def no_notes(text: str, context: GuardrailContext) -> Verdict:
        return Verdict.block("note") if "note" in text else Verdict.allow()

    ran.clear()
    model = _Slow([_call("keep this"), "Done. All fine."])
    agent = Agent(model, tools=[record], output_guardrails=[no_notes])
    events, error = _stream(agent, "go")
    assert error is None and ran == ["keep this"]
    assert events[-1].result.output == "Done. All fine."
