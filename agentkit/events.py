"""Typed events that `Agent.stream` yields while a run unfolds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias

from agentkit.messages import CallError, OutputT, RunResult, ToolCall
from agentkit.state import PendingCall

__all__ = [
    "ApprovalRequestEvent",
    "Event",
    "FinalEvent",
    "RetryEvent",
    "TextDelta",
    "ToolCallEvent",
    "ToolResultEvent",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text as the model generates it (raw: call syntax included)."""

    text: str
    step: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asked for a call (emitted before it runs, or is refused)."""

    call: ToolCall
    step: int = 0

    @property
    def name(self) -> str:
        """The tool name."""
        return self.call.name

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments as the model gave them."""
        return self.call.arguments


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A call finished: its return value and the text the model will see, or its error."""

    call_id: str
    name: str
    result: Any
    content: str
    error: str | None = None
    step: int = 0


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A failed turn: what was wrong, told to the model, which will try again."""

    errors: list[CallError] = field(default_factory=list)
    attempt: int = 1
    step: int = 0

    @property
    def error(self) -> CallError:
        """The first error of the turn."""
        return self.errors[0]


@dataclass(frozen=True, slots=True)
class ApprovalRequestEvent:
    """The run pauses: these calls wait for a person's decision (`Agent.resume`)."""

    calls: list[PendingCall]
    step: int = 0


@dataclass(frozen=True, slots=True)
class FinalEvent(Generic[OutputT]):
    """The run is over; `.result` is the `RunResult`."""

    result: RunResult[OutputT]


Event: TypeAlias = (
    TextDelta
    | ToolCallEvent
    | ToolResultEvent
    | RetryEvent
    | ApprovalRequestEvent
    | FinalEvent[OutputT]
)
"""Any event of a run whose output type is `OutputT`."""
