"""`UsageLimits`: bounds on what one run may spend."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from agentkit.errors import UsageError, UsageLimitExceeded
from agentkit.messages import Message, Usage

__all__ = ["UsageLimits"]


@dataclass(frozen=True)
class UsageLimits:
    """The most a run may use; None leaves a quantity unbounded.

    Each limit is checked before the model turn or the tool calls that would pass it, and the
    token limits as soon as the backend reports the tokens of a turn (local models report exact
    counts). Passing one raises `UsageLimitExceeded` with the usage so far and the transcript.

    Attributes:
        model_turns: model replies requested.
        tool_calls: tool executions.
        prompt_tokens: prompt tokens read by the model.
        completion_tokens: tokens generated.
        total_tokens: prompt plus completion tokens.
        wall_time: seconds from the start of the run (a model turn is also cut at this time).

    Example:
        >>> from agentkit import Agent
        >>> from agentkit.models import ScriptedModel
        >>> agent = Agent(ScriptedModel(['[{"name": "nope", "arguments": {}}]'] * 5))
        >>> agent.run("hi", usage_limits=UsageLimits(model_turns=2))
        Traceback (most recent call last):
        ...
        agentkit.errors.UsageLimitExceeded: the run would pass its limit of 2 model turns
    """

    model_turns: int | None = None
    tool_calls: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    wall_time: float | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"UsageLimits.{item.name} must be a number, got {value!r}")
            if math.isnan(value) or value < 0:
                raise UsageError(f"UsageLimits.{item.name} must be 0 or more, got {value!r}")

    def check_turn(self, usage: Usage, elapsed: float, messages: list[Message]) -> None:
        """Before a model turn: would it pass the turn or time limits (or are tokens past)?"""
        if self.model_turns is not None and usage.model_turns + 1 > self.model_turns:
            raise UsageLimitExceeded(
                f"the run would pass its limit of {self.model_turns} model turns", usage, messages
            )
        self._check_time(usage, elapsed, messages)
        self.check_tokens(usage, messages)

    def check_calls(
        self, usage: Usage, count: int, elapsed: float, messages: list[Message]
    ) -> None:
        """Before running `count` tool calls."""
        if self.tool_calls is not None and usage.tool_calls + count > self.tool_calls:
            raise UsageLimitExceeded(
                f"the run would pass its limit of {self.tool_calls} tool calls "
                f"({usage.tool_calls} made, {count} more asked for)",
                usage,
                messages,
            )
        self._check_time(usage, elapsed, messages)

    def check_tokens(self, usage: Usage, messages: list[Message]) -> None:
        """After a turn's tokens are known: are they past a token limit?"""
        for name, used in (
            ("prompt_tokens", usage.prompt_tokens),
            ("completion_tokens", usage.completion_tokens),
            ("total_tokens", usage.total_tokens),
        ):
            limit = getattr(self, name)
            if limit is not None and used > limit:
                words = name.replace("_", " ")
                raise UsageLimitExceeded(
                    f"the run used {used} {words}, past its limit of {limit}", usage, messages
                )

    def out_of_time(self, usage: Usage, messages: list[Message]) -> UsageLimitExceeded:
        """The error of a model turn cut at `wall_time`."""
        return UsageLimitExceeded(
            f"the run reached its wall_time limit of {self.wall_time:g} s during a model turn",
            usage,
            messages,
        )

    def remaining_time(self, elapsed: float) -> float | None:
        """Seconds left before `wall_time`, or None without that limit."""
        return None if self.wall_time is None else self.wall_time - elapsed

    def _check_time(self, usage: Usage, elapsed: float, messages: list[Message]) -> None:
        if self.wall_time is not None and elapsed >= self.wall_time:
            raise UsageLimitExceeded(
                f"the run reached its wall_time limit of {self.wall_time:g} s", usage, messages
            )
