"""Usage limits: checked before the turn or calls that would pass them, with the partial run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentkit import Agent, UsageLimits, tool
from agentkit.errors import AgentRunError, UsageError, UsageLimitExceeded
from agentkit.formats import StableLMFormat
from agentkit.models import Model, ModelRequest, ModelResponse, ScriptedModel

RAN: list[int] = []


@tool
def step(n: int) -> int:
    """Count."""
    RAN.append(n)
    return n


def call(*ns: int) -> str:
    return json.dumps([{"name": "step", "arguments": {"n": n}} for n in ns])


def test_model_turns_limit_stops_before_the_turn_that_would_pass_it() -> None:
    model = ScriptedModel([call(1), call(2), call(3), "done"])
    with pytest.raises(UsageLimitExceeded) as caught:
        Agent(model, tools=[step]).run("go", usage_limits=UsageLimits(model_turns=2))
    assert len(model.requests) == 2 and caught.value.usage.model_turns == 2
    assert [m.role for m in caught.value.messages][-1] == "tool"  # the partial transcript
    assert isinstance(caught.value, AgentRunError)


def test_tool_calls_limit_is_checked_before_the_calls_run() -> None:
    RAN.clear()
    agent = Agent(ScriptedModel([call(1), call(2, 3), "done"]), tools=[step])
    with pytest.raises(UsageLimitExceeded, match="tool calls"):
        agent.run("go", usage_limits=UsageLimits(tool_calls=2))
    assert RAN == [1]  # the second reply's two calls would pass the limit: neither ran


class _Counting(Model):
    def __init__(self, replies: list[str], tokens: int, delay: float = 0.0) -> None:
        self.format = StableLMFormat()
        self.replies, self.tokens, self.delay = list(replies), tokens, delay

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        await asyncio.sleep(self.delay)
        text = self.replies.pop(0)
        yield ModelResponse(
            text=text, prompt_tokens=self.tokens, completion_tokens=5, finish_reason="stop"
        )


def test_token_limits_apply_as_soon_as_the_backend_reports_them() -> None:
    RAN.clear()
    agent = Agent(_Counting([call(1), "done"], tokens=80), tools=[step])
    with pytest.raises(UsageLimitExceeded, match="prompt tokens"):
        agent.run("go", usage_limits=UsageLimits(prompt_tokens=50))
    assert RAN == []  # the reply that passed the limit was not acted on
    with pytest.raises(UsageLimitExceeded, match="total tokens"):
        Agent(_Counting(["hi"], tokens=10)).run("x", usage_limits=UsageLimits(total_tokens=12))


def test_wall_time_cuts_a_slow_model_turn() -> None:
    agent = Agent(_Counting(["late"], tokens=1, delay=5.0))
    with pytest.raises(UsageLimitExceeded, match="wall_time"):
        agent.run("x", usage_limits=UsageLimits(wall_time=0.05))


def test_agent_limits_apply_unless_a_run_gives_its_own() -> None:
    agent = Agent(
        ScriptedModel(lambda request: call(len(request.transcript))),
        tools=[step],
        usage_limits=UsageLimits(model_turns=1),
        max_steps=50,
    )
    with pytest.raises(UsageLimitExceeded):
        agent.run("go")
    with pytest.raises(UsageLimitExceeded) as caught:
        agent.run("go", usage_limits=UsageLimits(model_turns=3))
    assert caught.value.usage.model_turns == 3


@pytest.mark.parametrize(
    "bad", [{"model_turns": -1}, {"wall_time": float("nan")}, {"tool_calls": "3"}]
)
def test_bad_limits_are_usage_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        UsageLimits(**bad)
