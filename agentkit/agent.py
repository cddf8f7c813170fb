"""`Agent`: configuration for runs; `RunResult`: what a run returns."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from typing_extensions import TypeVar

from agentkit._loop import Run
from agentkit.errors import AgentkitError, UsageError
from agentkit.events import Event, FinalEvent
from agentkit.formats import ToolChoice
from agentkit.guardrails import Guardrail
from agentkit.messages import Message, ToolCallRecord, Usage, transcript_adapter
from agentkit.models import Model
from agentkit.tools import Tool, Toolbox

__all__ = ["Agent", "RunResult"]

OutputT = TypeVar("OutputT", default=str)


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
    """

    output: OutputT
    messages: list[Message]
    tool_calls: list[ToolCallRecord]
    usage: Usage
    run_id: str = ""

    def messages_json(self) -> str:
        """The transcript as JSON (read it back with `transcript_adapter().validate_json`)."""
        return transcript_adapter().dump_json(self.messages).decode()


class Agent(Generic[OutputT]):
    """A model, its tools and the rules of a run.

    Configuration only: one instance serves many concurrent runs; all run state lives in the run.

    Args:
        model: the backend (its `format` renders and parses).
        tools: tools, plain functions (wrapped with `@tool`) or a `Toolbox`.
        system_prompt: the user's own system prompt (the format adds the function list after it).
        max_steps: the most model turns in a run.
        max_retries: failed turns in a row allowed; the next one raises `RetriesExhausted`.
        input_guardrails: checks on the newest user message, before the model sees it.
        output_guardrails: checks on the final answer, before it is returned.
        output_type: `str`, or a Pydantic model (or any type Pydantic validates) for structured
            answers.
        tool_choice: `"auto"`, `"required"`, `"none"` or a tool name (constrains backends that
            can constrain decoding; `"none"` also refuses calls).
        tool_timeout: seconds a tool call may take unless the tool sets its own timeout.
        model_timeout: seconds a model turn may take.

    Example:
        >>> from agentkit.models import ScriptedModel
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> model = ScriptedModel(['[{"name": "add", "arguments": {"a": 2, "b": 3}}]', "5"])
        >>> Agent(model, tools=[add]).run("What is 2 + 3?").output
        '5'
    """

    def __init__(
        self,
        model: Model,
        *,
        tools: Iterable[Tool | Callable[..., Any]] | Toolbox = (),
        system_prompt: str | None = None,
        max_steps: int = 10,
        max_retries: int = 3,
        input_guardrails: Sequence[Guardrail] = (),
        output_guardrails: Sequence[Guardrail] = (),
        output_type: type[OutputT] = str,  # type: ignore[assignment]
        tool_choice: ToolChoice = "auto",
        tool_timeout: float = 60.0,
        model_timeout: float = 600.0,
    ) -> None:
        if max_steps < 1:
            raise UsageError(f"max_steps must be at least 1, got {max_steps}")
        if max_retries < 0:
            raise UsageError(f"max_retries must be 0 or more, got {max_retries}")
        if tool_timeout <= 0 or model_timeout <= 0:
            raise UsageError("tool_timeout and model_timeout must be positive")
        self.model = model
        self.toolbox = tools if isinstance(tools, Toolbox) else Toolbox(tools)
        if tool_choice not in ("auto", "required", "none") and tool_choice not in self.toolbox:
            raise UsageError(f"tool_choice names no tool: {tool_choice!r}")
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.max_retries = max_retries
        self.input_guardrails = tuple(input_guardrails)
        self.output_guardrails = tuple(output_guardrails)
        self.output_type = output_type
        self.tool_choice = tool_choice
        self.tool_timeout = tool_timeout
        self.model_timeout = model_timeout

    @property
    def tools(self) -> list[Tool]:
        """The tools, in order."""
        return list(self.toolbox)

    def __repr__(self) -> str:
        return f"Agent(model={self.model!r}, tools={self.toolbox.names!r})"

    async def stream(
        self, prompt: str | Sequence[Message], *, deps: Any = None
    ) -> AsyncIterator[Event]:
        """Run, yielding events as they happen; the last one is `FinalEvent`.

        Events: `TextDelta`, `ToolCallEvent`, `ToolResultEvent`, `RetryEvent`, `FinalEvent`.

        Args:
            prompt: a user message, or a transcript (e.g. an earlier `RunResult.messages` plus a
                new user message).
            deps: an object tools receive through a `RunContext` parameter.
        """
        events = Run(self, prompt, deps).events()
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def run_async(
        self, prompt: str | Sequence[Message], *, deps: Any = None
    ) -> RunResult[OutputT]:
        """Run to the final answer.

        Raises:
            MaxStepsExceeded: no final answer after `max_steps` model turns.
            RetriesExhausted: more than `max_retries` failed turns in a row.
            InputGuardrailTripped / OutputGuardrailTripped: a guardrail blocked.
            ModelError: the backend failed.
        """
        events = Run(self, prompt, deps).events()
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, FinalEvent):
                    result: RunResult[OutputT] = event.result
                    return result
        raise AgentkitError("the run ended without a final event")  # pragma: no cover

    def run(self, prompt: str | Sequence[Message], *, deps: Any = None) -> RunResult[OutputT]:
        """Run synchronously (see `run_async`).

        Inside a running event loop (a notebook, an async service), the run goes to a worker
        thread with its own loop; prefer `await agent.run_async(...)` there.
        """
        import asyncio  # here, not at module level: keeps `import agentkit` light
        import concurrent.futures

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run_async(prompt, deps=deps))
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="agentkit-run") as pool:
            future = pool.submit(asyncio.run, self.run_async(prompt, deps=deps))
            return future.result()
