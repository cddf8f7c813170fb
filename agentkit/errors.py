"""Errors raised by agentkit.

Every exception agentkit raises derives from `AgentkitError`:

```
AgentkitError
├── ToolDefinitionError        a function cannot become a tool (bad signature, bad schema)
├── ArgumentsError             arguments do not fit a tool's schema (carries `.problems`)
├── ToolCrashed                a tool raised what must not escape its call (`SystemExit`...)
├── WorkersExhausted           the worker threads for sync tools are at their limit
├── MCPConnectionError         an MCP server cannot be reached, went away, or did not answer
├── MCPToolError               an MCP server reported that a tool call failed (`isError`)
├── ModelError                 a backend failed (server error, scripted replies used up)
│   └── ModelNotAvailableError a local model or its package is missing
├── UsageError                 the API was called the wrong way (e.g. `run` inside a running loop)
├── AgentRunError              a run ended without a final answer
│   ├── MaxStepsExceeded       `max_steps` model turns without a final answer
│   ├── RetriesExhausted       more failed turns in a row than `max_retries` (carries `.errors`)
│   └── UsageLimitExceeded     a `UsageLimits` bound would be passed (carries `.usage`)
├── RunStateError              a paused run's state cannot be resumed (tampered, another agent's,
│                              unknown call ids, already resumed)
└── GuardrailTripped           a guardrail blocked the run (carries `.verdict`)
    ├── InputGuardrailTripped  ... on the user's input
    ├── OutputGuardrailTripped ... on the final answer
    └── ToolGuardrailTripped   ... on a tool call or result (with `on_block="raise"`)
```

Mistakes of the model (unparseable replies, unknown tools, invalid arguments, tool exceptions)
are not exceptions here: they are data (`agentkit.CallError`) sent back to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentkit.guardrails import Verdict
    from agentkit.messages import CallError, Message, Usage

__all__ = [
    "AgentRunError",
    "AgentkitError",
    "ArgumentsError",
    "GuardrailTripped",
    "InputGuardrailTripped",
    "MCPConnectionError",
    "MCPToolError",
    "MaxStepsExceeded",
    "ModelError",
    "ModelNotAvailableError",
    "OutputGuardrailTripped",
    "RetriesExhausted",
    "RunStateError",
    "ToolCrashed",
    "ToolDefinitionError",
    "ToolGuardrailTripped",
    "UsageError",
    "UsageLimitExceeded",
    "WorkersExhausted",
]


class AgentkitError(Exception):
    """Root of every exception agentkit raises."""


class ToolDefinitionError(AgentkitError, TypeError):
    """A function or a JSON description cannot be turned into a tool."""


class ArgumentsError(AgentkitError, ValueError):
    """Arguments that do not fit a tool's schema.

    Attributes:
        tool: the tool's name.
        problems: one precise message per bad argument, addressed to the model.
    """

    def __init__(self, tool: str, problems: list[str]) -> None:
        super().__init__(f"invalid arguments for {tool}: " + "; ".join(problems))
        self.tool = tool
        self.problems = problems


class ToolCrashed(AgentkitError):
    """A tool ended with an exception that must not escape its call (`SystemExit`, ...).

    It is the call's error, which the model sees; the run goes on.

    Attributes:
        tool: the tool's name.
        original: what the tool raised.
    """

    def __init__(self, tool: str, original: BaseException) -> None:
        try:
            text = str(original)
        except Exception:  # an exception may fail even to print
            text = "(its message could not be read)"
        super().__init__(f"{type(original).__name__}: {text}")
        self.tool = tool
        self.original = original
        self.__cause__ = original


class WorkersExhausted(AgentkitError):
    """A sync tool call was refused: the worker threads or their queue are at their limit."""


class MCPConnectionError(AgentkitError):
    """An MCP server cannot be reached, went away, or did not answer in time."""


class MCPToolError(AgentkitError):
    """An MCP server reported that a tool call failed (an `isError` result or a refusal)."""


class ModelError(AgentkitError):
    """A model backend failed to produce a reply."""


class ModelNotAvailableError(ModelError):
    """A local model, or the package that ships it, is not installed."""


class UsageError(AgentkitError):
    """The API was used in a way that cannot work."""


class AgentRunError(AgentkitError):
    """A run ended without a final answer."""


class MaxStepsExceeded(AgentRunError):
    """The model took `max_steps` turns without giving a final answer."""

    def __init__(self, max_steps: int) -> None:
        super().__init__(f"no final answer after {max_steps} model turns (max_steps={max_steps})")
        self.max_steps = max_steps


class RetriesExhausted(AgentRunError):
    """More failed turns in a row than `max_retries` allows.

    Attributes:
        errors: the errors of the failed turns, oldest first.
    """

    def __init__(self, errors: Sequence[CallError], max_retries: int) -> None:
        last = errors[-1].message if errors else "unknown error"
        super().__init__(
            f"{len(errors)} failed turns in a row (max_retries={max_retries}); last error: {last}"
        )
        self.errors = list(errors)
        self.max_retries = max_retries


class UsageLimitExceeded(AgentRunError):
    """A run would pass one of its `UsageLimits`.

    Attributes:
        usage: what the run had used when it stopped.
        messages: the transcript so far.
    """

    def __init__(self, message: str, usage: Usage, messages: Sequence[Message]) -> None:
        super().__init__(message)
        self.usage = usage
        self.messages = list(messages)


class RunStateError(AgentkitError):
    """A paused run's state cannot be resumed.

    It is malformed, was altered, was made by an agent with other tools, was already resumed,
    or the decisions given do not match its pending calls.
    """


class GuardrailTripped(AgentkitError):
    """A guardrail blocked the run.

    Attributes:
        verdict: the blocking `Verdict`.
    """

    stage = "guardrail"

    def __init__(self, verdict: Verdict) -> None:
        reason = f": {verdict.reason}" if verdict.reason else ""
        super().__init__(f"{self.stage} blocked{reason}")
        self.verdict = verdict


class InputGuardrailTripped(GuardrailTripped):
    """An input guardrail blocked the user's message."""

    stage = "input guardrail"


class OutputGuardrailTripped(GuardrailTripped):
    """An output guardrail blocked the final answer."""

    stage = "output guardrail"


class ToolGuardrailTripped(GuardrailTripped):
    """A tool-stage guardrail blocked a call or its result (only with `on_block="raise"`)."""

    stage = "tool guardrail"
