"""Provider-neutral, serialisable messages and the records a run keeps.

`Message` is what a transcript is made of: it round-trips through `model_dump_json` /
`model_validate_json`, so a run's messages can be stored and passed as the prompt of a later run.
`ChatMessage` is what a chat template receives after a `ToolFormat` rendered the transcript.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from typing_extensions import TypeVar

if TYPE_CHECKING:
    from agentkit.guardrails import VerdictRecord
    from agentkit.state import PendingCall, RunState

__all__ = [
    "CallError",
    "ChatMessage",
    "ErrorKind",
    "Message",
    "Role",
    "RunResult",
    "ToolCall",
    "ToolCallRecord",
    "Usage",
    "last_user_message",
    "transcript_adapter",
]

Role = Literal["system", "user", "assistant", "tool"]
ErrorKind = Literal[
    "parse",
    "unknown_tool",
    "invalid_arguments",
    "repeated_call",
    "too_many_calls",
    "invalid_output",
    "truncated",
    "tool_error",
]


# Validators are built on first use rather than at import: keeps `import agentkit` light.
_DEFERRED = ConfigDict(defer_build=True)
_SURROGATE = re.compile("[\ud800-\udfff]")
OutputT = TypeVar("OutputT", default=str)


def encodable(text: str) -> str:
    r"""`text` with lone surrogates (which no UTF-8 encoder accepts) replaced by U+FFFD.

    Example:
        >>> encodable("a\ud800b") == "a\ufffdb"
        True
    """
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def new_call_id() -> str:
    """Return a short unique id for a tool call."""
    return "call_" + os.urandom(6).hex()


class ToolCall(BaseModel):
    """One call the model asked for: a tool name and its (unvalidated) arguments."""

    model_config = _DEFERRED

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str = Field(default_factory=new_call_id)


class Message(BaseModel):
    """One message of a transcript.

    Attributes:
        role: `"system"`, `"user"`, `"assistant"` or `"tool"`.
        content: the text of the message (never None).
        tool_calls: the calls an assistant message carries.
        tool_call_id: the call a `"tool"` message answers.
        name: the tool's name, on `"tool"` messages.
        is_error: a `"tool"` message, or a `"user"` retry message, that reports an error.

    Example:
        >>> Message.user("What is 2 + 2?").role
        'user'
    """

    model_config = _DEFERRED

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @field_validator("content", "name", mode="after")
    @classmethod
    def _encodable(cls, value: str | None) -> str | None:
        return value if value is None else encodable(value)

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        """A user message."""
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: list[ToolCall] | None = None) -> Message:
        """An assistant message, with the calls it made."""
        return cls(role="assistant", content=content, tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, content: str, *, call_id: str, name: str, is_error: bool = False) -> Message:
        """The result of one tool call."""
        return cls(role="tool", content=content, tool_call_id=call_id, name=name, is_error=is_error)


def last_user_message(transcript: Sequence[Message]) -> tuple[Message | None, bool]:
    """The newest real user message, and whether a call has succeeded since it.

    Retry messages (user messages with `is_error`) do not count as the user speaking. This one
    rule decides when a forced `tool_choice` is lifted and when a router lets the model answer.

    Example:
        >>> transcript = [Message.user("Weather?"), Message.assistant(tool_calls=[ToolCall(
        ...     name="weather", id="c1")]), Message.tool("sunny", call_id="c1", name="weather")]
        >>> last_user_message(transcript)[0].content, last_user_message(transcript)[1]
        ('Weather?', True)
    """
    succeeded = False
    for msg in reversed(transcript):
        if msg.role == "tool" and not msg.is_error:
            succeeded = True
        elif msg.role == "user" and not msg.is_error:
            return msg, succeeded
    return None, succeeded


@functools.cache
def transcript_adapter() -> TypeAdapter[list[Message]]:
    """Serialises a whole transcript: `.dump_json(messages)` / `.validate_json(data)`.

    Built on first use.
    """
    return TypeAdapter(list[Message])


class ChatMessage(dict[str, str]):
    """A rendered chat message, as a chat template receives it: `{"role": ..., "content": ...}`.

    It is a plain `dict` (so it goes straight into `tokenizer.apply_chat_template`) whose keys can
    also be read as attributes. The role is any string: templates such as ChatML print it verbatim.
    """

    def __init__(self, role: str, content: str) -> None:
        super().__init__(role=role, content=content)

    @property
    def role(self) -> str:
        """The role, e.g. `"system"` or `"tool"`."""
        return self["role"]

    @property
    def content(self) -> str:
        """The text."""
        return self["content"]


@dataclass(frozen=True, slots=True)
class CallError:
    """Why a model turn could not be acted on; the message is what the model is told.

    Attributes:
        kind: `"parse"`, `"unknown_tool"`, `"invalid_arguments"`, `"repeated_call"`,
            `"too_many_calls"`, `"invalid_output"`, `"truncated"` (a reply cut at the token limit)
            or `"tool_error"`.
        message: a precise description, addressed to the model.
        tool: the tool concerned, if any.
    """

    kind: ErrorKind
    message: str
    tool: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(slots=True)
class ToolCallRecord:
    """A call the model made during a run, and what came of it.

    Attributes:
        id: the call id.
        name: the tool name, as the model wrote it (or as repaired).
        arguments: the arguments as the model gave them.
        result: the tool's return value (None if it failed or did not run).
        error: why the call failed, or None.
        content: the text the model saw as the result.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    result: Any = None
    error: str | None = None
    content: str = ""


@dataclass(slots=True)
class Usage:
    """What a run consumed.

    Attributes:
        model_turns: model replies requested.
        failed_turns: replies that could not be acted on (each one answered with a retry).
        tool_calls: tool executions.
        prompt_tokens: prompt tokens the model read, where the backend knows them.
        prefilled_tokens: prompt tokens actually computed (less than `prompt_tokens` when a
            backend reuses its KV cache).
        completion_tokens: tokens generated, where the backend knows them.
    """

    model_turns: int = 0
    failed_turns: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    completion_tokens: int = 0
    details: dict[str, int] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass
class RunResult(Generic[OutputT]):
    """What a run produced.

    Attributes:
        output: the final answer: a string, or an instance of the agent's `output_type`.
        messages: the whole transcript, tool results included; pass it (plus a new user message)
            as the prompt of a later run to continue the conversation.
        tool_calls: every call the model made, with arguments, result and error.
        usage: model turns, failed turns, tool calls and tokens where known.
        run_id: identifies the run.
        truncated: the final answer was cut at the model's token limit.
        status: `"completed"`, or `"paused"` when calls wait for approval (then `output` is
            None, and `pending_calls` and `state` say what waits and how to resume).
        pending_calls: the calls waiting for a decision.
        state: the paused run's state (`state.to_json()`; `agent.resume(state, ...)`).
        guardrail_verdicts: every guardrail verdict of the run that was not "allow" (stage,
            guardrail, action, reason, category, score, latency).
    """

    output: OutputT
    messages: list[Message]
    tool_calls: list[ToolCallRecord]
    usage: Usage
    run_id: str = ""
    truncated: bool = False
    guardrail_verdicts: list[VerdictRecord] = field(default_factory=list)
    status: Literal["completed", "paused"] = "completed"
    pending_calls: list[PendingCall] = field(default_factory=list)
    state: RunState | None = None

    def messages_json(self) -> str:
        """The transcript as JSON (read it back with `transcript_adapter().validate_json`)."""
        return transcript_adapter().dump_json(self.messages).decode()
