"""Regressions from a hostile review of pause, resume and limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentkit import Agent, RunState, UsageLimits, tool
from agentkit.errors import ModelError, ToolDefinitionError, UsageLimitExceeded
from agentkit.events import ToolCallEvent, ToolResultEvent
from agentkit.formats import StableLMFormat
from agentkit.guardrails import GuardrailContext, Verdict, guardrail
from agentkit.models import Model, ModelRequest, ModelResponse, ScriptedModel

RAN: list[str] = []


@tool(requires_approval=True)
def wipe(target: str) -> str:
    """Wipe something."""
    RAN.append(target)
    return "wiped"


@tool
def blob() -> bytes:
    """Binary data."""
    return b"\xff\x00bad\xfe"


@tool
def text() -> str:
    """A result with a lone surrogate."""
    return "bad\ud800result"


def calls(*items: tuple[str, dict[str, Any]]) -> str:
    return json.dumps(
        [{"id": f"c{i}", "name": n, "arguments": a} for i, (n, a) in enumerate(items)]
    )


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


@pytest.mark.parametrize("first", ["blob", "text"])
def test_a_pause_after_unusual_results_still_serialises(first: str) -> None:
    model = ScriptedModel([calls((first, {})), calls(("wipe", {"target": "a"})), "done"])
    agent = Agent(model, tools=[blob, text, wipe])
    paused = agent.run("go")
    assert paused.status == "paused"
    state = RunState.from_json(paused.state.to_json())  # type: ignore[union-attr]
    assert agent.resume(state, approve=["c0"]).output == "done"


def test_a_resumed_result_goes_with_its_turn_before_the_retry_message() -> None:
    reply = calls(("wipe", {"target": "a"})) + ' and [{"name": "wipe", "arguments": {'
    agent = Agent(ScriptedModel([reply, "done"]), tools=[wipe])
    paused = agent.run("go")
    done = agent.resume(paused.state, approve=["c0"])  # type: ignore[arg-type]
    roles = [(m.role, m.is_error) for m in done.messages]
    assert roles[:4] == [("user", False), ("assistant", False), ("tool", False), ("user", True)]


def test_calls_that_never_ran_are_not_counted_as_tool_calls() -> None:
    agent = Agent(ScriptedModel([calls(("wipe", {"target": "a"})), "done"]), tools=[wipe])
    done = agent.resume(agent.run("go").state, reject={"c0": "no"})  # type: ignore[arg-type]
    assert done.usage.tool_calls == 0 and RAN == []


def test_rejected_calls_do_not_count_as_repeats() -> None:
    same = calls(("wipe", {"target": "a"}))
    agent = Agent(ScriptedModel([same, same, same, "done"]), tools=[wipe])
    result = agent.run("go")
    for _ in range(2):
        result = agent.resume(result.state, reject={"c0": "no"})  # type: ignore[arg-type]
    assert result.status == "paused"  # the third request still asks the person


def test_wall_time_cuts_a_hanging_tool() -> None:
    @tool(timeout=30)
    async def hang() -> str:
        """Never answers."""
        await asyncio.sleep(30)
        return "late"

    agent = Agent(ScriptedModel([calls(("hang", {})), "done"]), tools=[hang])
    start = time.monotonic()
    with pytest.raises(UsageLimitExceeded, match="wall_time"):
        agent.run("go", usage_limits=UsageLimits(wall_time=0.2))
    assert time.monotonic() - start < 5


def test_the_wall_time_before_a_pause_counts_after_it() -> None:
    agent = Agent(ScriptedModel([calls(("wipe", {"target": "a"})), "done"]), tools=[wipe])
    paused = agent.run("go")
    paused.state.payload.elapsed = 5.0  # type: ignore[union-attr]  # as if the run took 5 s
    with pytest.raises(UsageLimitExceeded, match="wall_time"):
        agent.resume(paused.state, approve=["c0"], usage_limits=UsageLimits(wall_time=1))  # type: ignore[arg-type]


def test_a_parallel_redaction_respects_the_model_turn_limit() -> None:
    @guardrail
    async def redact(text_: str, context: GuardrailContext) -> Verdict:
        await asyncio.sleep(0.01)
        return Verdict.redact("[x]")

    agent = Agent(ScriptedModel(lambda r: "ok"), input_guardrails=[redact], run_in_parallel=True)
    with pytest.raises(UsageLimitExceeded):
        agent.run("secret", usage_limits=UsageLimits(model_turns=1))


class _Raises(Model):
    format = StableLMFormat()

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        raise TimeoutError("connect timed out")
        yield ModelResponse()  # pragma: no cover


def test_a_backends_own_timeout_is_not_reported_as_the_agents() -> None:
    with pytest.raises(ModelError, match="connect timed out"):
        Agent(_Raises()).run("hi")


def test_calls_announced_then_dropped_get_a_result_event() -> None:
    many = calls(("wipe", {"target": "a"}), ("wipe", {"target": "b"}))
    agent = Agent(ScriptedModel([many, "done"]), tools=[wipe], max_calls_per_turn=1)

    async def main() -> list[Any]:
        return [e async for e in agent.stream("go")]

    events = asyncio.run(main())
    announced = {e.call.id for e in events if isinstance(e, ToolCallEvent)}
    answered = {e.call_id for e in events if isinstance(e, ToolResultEvent)}
    assert "c1" in announced and "c1" in answered


def test_an_async_approval_predicate_is_refused_at_definition() -> None:
    async def check(args: Any, ctx: Any) -> bool:
        return True

    with pytest.raises(ToolDefinitionError, match="async"):

        @tool(requires_approval=check)
        def act() -> str:
            """Act."""
            return "ok"


def test_a_signed_state_read_back_keeps_its_signature_when_saved_again() -> None:
    agent = Agent(
        ScriptedModel([calls(("wipe", {"target": "a"})), "done"]), tools=[wipe], state_key="k"
    )
    text_ = agent.run("go").state.to_json()  # type: ignore[union-attr]
    again = RunState.from_json(text_).to_json()
    assert agent.resume(again, approve=["c0"]).output == "done"


def test_the_same_json_state_resumes_once_per_agent() -> None:
    from agentkit.errors import RunStateError

    agent = Agent(ScriptedModel([calls(("wipe", {"target": "a"})), "done"]), tools=[wipe])
    text_ = agent.run("go").state.to_json()  # type: ignore[union-attr]
    assert agent.resume(text_, approve=["c0"]).output == "done"
    with pytest.raises(RunStateError, match="already resumed"):
        agent.resume(text_, approve=["c0"])
    assert RAN == ["a"]


def test_a_paused_run_saves_its_conversation_to_the_session_once_resumed() -> None:
    from agentkit.sessions import InMemorySession

    session = InMemorySession("s")
    agent = Agent(ScriptedModel([calls(("wipe", {"target": "a"})), "done"]), tools=[wipe])
    paused = agent.run("go", session=session)
    assert asyncio.run(session.load()) == []  # nothing saved while the run waits
    agent.resume(paused.state, approve=["c0"], session=session)  # type: ignore[arg-type]
    stored = asyncio.run(session.load())
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
