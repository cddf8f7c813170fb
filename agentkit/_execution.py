"""Tool execution for one run: checking calls, the repeat guard, running calls, their outcomes.

Each call ends in one `CallOutcome`, from which the run's `ToolCallRecord`, the
`ToolResultEvent` and the transcript's tool message are all made.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import to_jsonable_python

import agentkit._trace as _trace
from agentkit.errors import ArgumentsError
from agentkit.events import ToolResultEvent
from agentkit.messages import CallError, Message, ToolCall, ToolCallRecord
from agentkit.tools import RunContext, Tool, Toolbox

__all__ = ["Blocked", "CallOutcome", "CheckedCall", "Executor", "RepeatGuard"]

logger = logging.getLogger("agentkit.run")

ToolStage = Literal["tool_call", "tool_result"]


@dataclass(frozen=True, slots=True)
class Blocked:
    """A tool-stage guardrail refused a call or withheld a result."""

    reason: str


Guard = Callable[[ToolStage, str, Tool], Awaitable[str | Blocked]]
"""Checks a call's arguments (as JSON) or a result's text: the text to use, or `Blocked`."""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What came of one call.

    Attributes:
        call: the call as the model made it (its name repaired where that was safe).
        content: the text the model sees as the call's result.
        value: the tool's return value (None unless it ran and returned).
        error: why the call failed, was refused or was blocked; None if it succeeded.
        refusal: the model's mistake, when the call was refused before running (unknown tool,
            invalid arguments, repeat): such a call makes its turn a failed one.
        ran: whether the tool was executed (counted in `Usage.tool_calls`).
    """

    call: ToolCall
    content: str
    value: Any = None
    error: str | None = None
    refusal: CallError | None = None
    ran: bool = True

    @classmethod
    def failed(
        cls, call: ToolCall, error: str, refusal: CallError | None = None, *, ran: bool = True
    ) -> CallOutcome:
        """A call that did not produce a result (`ran`: the tool was executed and failed)."""
        return cls(call, f"Error: {error}", None, error, refusal, ran and refusal is None)

    def record(self) -> ToolCallRecord:
        """The run's record of the call."""
        call = self.call
        return ToolCallRecord(
            call.id, call.name, call.arguments, self.value, self.error, self.content
        )

    def event(self, step: int) -> ToolResultEvent:
        """The event announcing the result."""
        call = self.call
        return ToolResultEvent(call.id, call.name, self.value, self.content, self.error, step)

    def message(self) -> Message:
        """The tool message that carries the result in the transcript."""
        return Message.tool(
            self.content, call_id=self.call.id, name=self.call.name, is_error=self.error is not None
        )


@dataclass(slots=True)
class CheckedCall:
    """A call after lookup, validation and the repeat guard: runnable, or refused."""

    call: ToolCall
    tool: Tool | None = None
    kwargs: dict[str, Any] | None = None
    key: str = ""
    refusal: CallError | None = None


class RepeatGuard:
    """Refuses a call identical (tool and validated arguments) to one already run `limit` times.

    It remembers the last outcome of each distinct call, result or error, to remind the model.
    """

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._runs: Counter[str] = Counter()
        self._last: dict[str, str] = {}

    @staticmethod
    def key(tool: Tool, kwargs: dict[str, Any]) -> str:
        """The identity of a call: its tool and its validated arguments (`"3"` and `3` agree)."""
        plain = to_jsonable_python(kwargs, fallback=repr)
        return f"{tool.name}:{json.dumps(plain, sort_keys=True, ensure_ascii=True)}"

    def refuse(self, tool: Tool, key: str) -> CallError | None:
        """Count one more run of `key`, or refuse it if it already ran `limit` times."""
        runs = self._runs[key]
        if runs < self.limit:
            self._runs[key] = runs + 1
            return None
        last = self._last.get(key, "(no result yet)")
        return CallError(
            "repeated_call",
            f"{tool.name} was already called {runs} times with these same arguments (last "
            f"result: {last[:200]}); do not repeat it: use that result, call something else, "
            "or give your final answer",
            tool.name,
        )

    def remember(self, key: str, content: str) -> None:
        """Keep the outcome of a call (its result text, or its error)."""
        self._last[key] = content

    def forget(self, key: str) -> None:
        """Uncount one run of `key` (a call held for approval has not run yet)."""
        if self._runs[key] > 0:
            self._runs[key] -= 1

    def dump(self) -> tuple[dict[str, int], dict[str, str]]:
        """The guard's memory: runs per call, and each call's last outcome."""
        return dict(self._runs), dict(self._last)

    def load(self, runs: dict[str, int], last: dict[str, str]) -> None:
        """Restore a memory from `dump`."""
        self._runs.update(runs)
        self._last.update(last)


class Executor:
    """Checks and runs the calls of one run.

    Args:
        toolbox: the agent's tools.
        context: the run's context; each call gets a copy with its own call id.
        tool_timeout: seconds a call may take unless its tool sets a timeout.
        guard: the tool-stage guardrails, as the run applies them (None: there are none).
    """

    def __init__(
        self,
        toolbox: Toolbox,
        context: RunContext[Any],
        *,
        tool_timeout: float,
        guard: Guard | None,
    ) -> None:
        self.toolbox = toolbox
        self.context = context
        self.tool_timeout = tool_timeout
        self.guard = guard
        self.repeats = RepeatGuard()
        self.trace: _trace.Span = _trace.NO_SPAN  # the run's span, parent of each call's

    def check(self, calls: Sequence[ToolCall], *, repeats: bool = True) -> list[CheckedCall]:
        """Look each tool up (repairing safe name slips), validate, and refuse repeats.

        Args:
            calls: the calls of one reply.
            repeats: count the calls against the repeat guard (not when approved calls,
                already counted when their run paused, are checked again).
        """
        return [self._check(call, repeats) for call in calls]

    def _check(self, call: ToolCall, repeats: bool) -> CheckedCall:
        box = self.toolbox
        found = box.resolve(call.name)
        if found is None:
            names = ", ".join(box.names) or "(none)"
            return CheckedCall(call, refusal=CallError(
                "unknown_tool",
                f"there is no function named {call.name!r}; the functions are: {names}",
                call.name,
            ))  # fmt: skip
        if found.name != call.name:
            logger.debug("repaired tool name %r -> %r", call.name, found.name)
            call = call.model_copy(update={"name": found.name})
        try:
            kwargs = found.validate(call.arguments)
        except ArgumentsError as exc:
            listed = "; ".join(exc.problems)
            return CheckedCall(call, found, refusal=CallError(
                "invalid_arguments", f"invalid arguments for {found.name}: {listed}", found.name
            ))  # fmt: skip
        key = RepeatGuard.key(found, kwargs)
        refusal = self.repeats.refuse(found, key) if repeats else None
        return CheckedCall(call, found, kwargs, key, refusal)

    async def run(self, checked: Sequence[CheckedCall]) -> AsyncIterator[CallOutcome]:
        """Run the runnable calls concurrently, yielding each outcome as it is ready.

        Refused calls are yielded first; the others as they finish.
        """
        import asyncio  # here, not at module level: keeps `import agentkit` light

        for item in checked:
            if item.refusal is not None:
                yield CallOutcome.failed(item.call, item.refusal.message, item.refusal)
        runnable = [item for item in checked if item.refusal is None]
        if len(runnable) == 1:  # the common case: no tasks needed
            yield await self._run_one(runnable[0])
            return
        tasks = [asyncio.ensure_future(self._run_one(item)) for item in runnable]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    async def _run_one(self, item: CheckedCall) -> CallOutcome:
        tool, kwargs = item.tool, item.kwargs
        assert tool is not None and kwargs is not None
        if self.guard is None:
            outcome = await self._invoke(item.call, tool, kwargs)
        else:
            outcome = await self._guarded(item.call, tool, kwargs, self.guard)
        self.repeats.remember(item.key, outcome.content)
        return outcome

    async def _guarded(
        self, call: ToolCall, tool: Tool, kwargs: dict[str, Any], guard: Guard
    ) -> CallOutcome:
        """Run a call between the tool-call and tool-result guardrails."""
        text = _arguments_text(kwargs)
        checked = await guard("tool_call", text, tool)
        if isinstance(checked, str) and checked != text:  # rewritten: must still be valid
            redacted = self._redacted_arguments(tool, checked)
            if isinstance(redacted, Blocked):
                checked = redacted
            else:
                kwargs = redacted
        if isinstance(checked, Blocked):
            return CallOutcome.failed(call, f"the call was blocked: {checked.reason}", ran=False)
        outcome = await self._invoke(call, tool, kwargs)
        if outcome.error is not None:
            return outcome
        result = await guard("tool_result", outcome.content, tool)
        if isinstance(result, Blocked):
            error = f"the result was withheld: {result.reason}"
            return CallOutcome(call, f"Error: {error}", outcome.value, error)
        return outcome if result == outcome.content else CallOutcome(call, result, outcome.value)

    @staticmethod
    def _redacted_arguments(tool: Tool, text: str) -> dict[str, Any] | Blocked:
        """Arguments a guardrail rewrote, validated again; anything else blocks the call."""
        try:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError("not an object")
            return tool.validate(value)
        except (ValueError, ArgumentsError, RecursionError):
            return Blocked("its arguments, once redacted, are no longer valid")

    async def _invoke(self, call: ToolCall, tool: Tool, kwargs: dict[str, Any]) -> CallOutcome:
        with _trace.tool_span(self.trace, tool.name, call.id, kwargs) as span:
            outcome = await self._call(call, tool, kwargs)
            if outcome.error is None:
                span.result(outcome.content)
            else:
                span.error(outcome.error)
        return outcome

    async def _call(self, call: ToolCall, tool: Tool, kwargs: dict[str, Any]) -> CallOutcome:
        import asyncio

        timeout = tool.timeout if tool.timeout is not None else self.tool_timeout
        ctx = self.context
        context = RunContext(ctx.deps, ctx.messages, ctx.usage, ctx.run_id, call.id)
        logger.debug("call %s(%r)", tool.name, kwargs)
        scope = None
        try:
            if tool.runs_inline:  # nothing could interrupt it: a timeout scope would only cost
                value, content = await tool.call(kwargs, context)
            else:
                async with asyncio.timeout(timeout) as scope:
                    value, content = await tool.call(kwargs, context)
        except TimeoutError as exc:
            if scope is None or not scope.expired():  # the tool's own TimeoutError
                return CallOutcome.failed(call, f"{tool.name} raised {_describe(exc)}")
            logger.info("tool %s timed out after %s s", tool.name, timeout)
            return CallOutcome.failed(call, f"{tool.name} timed out after {timeout:g} s")
        except Exception as exc:  # a tool's failure is the call's result, for the model to see
            logger.info("tool %s raised %s", tool.name, type(exc).__name__)
            return CallOutcome.failed(call, f"{tool.name} raised {_describe(exc)}")
        logger.debug("result %s: %.200s", tool.name, content)
        return CallOutcome(call, content, value)


def _arguments_text(kwargs: dict[str, Any]) -> str:
    return json.dumps(to_jsonable_python(kwargs, fallback=repr), ensure_ascii=False)


def _describe(exc: BaseException) -> str:
    cause = getattr(exc, "original", None)  # a tool's BaseException, wrapped to stay contained
    shown = cause if isinstance(cause, BaseException) else exc
    try:
        text = str(shown)
    except Exception:  # a tool's exception may fail even to print
        text = "(its message could not be read)"
    return f"{type(shown).__name__}: {text}"[:2000]
