"""A model reply read for the loop: its calls (parsed, or native and checked), prose and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic

from agentkit.events import TextDelta, ToolCallEvent, ToolResultEvent
from agentkit.formats import CallScanner, ParsedReply, ToolFormat
from agentkit.formats._json import MAX_ARGUMENT_DEPTH, check_json, clean_strings
from agentkit.guardrails import OutputBuffer, Verdict
from agentkit.messages import CallError, OutputT, RunResult, ToolCall, Usage
from agentkit.models import ModelResponse
from agentkit.state import PendingCall

__all__ = [
    "PARSE_OFF_LOOP_CHARS",
    "TOLD_IN_RETRY",
    "TRUNCATED",
    "Reply",
    "TurnOutcome",
    "TurnReader",
    "account",
    "interpret",
    "reuse_ids",
    "too_many",
    "unanswered",
    "unique_ids",
]


@dataclass
class Reply:
    """A model turn's response, and the calls announced while it streamed."""

    response: ModelResponse
    announced: list[ToolCall]
    step: int = 0
    stream_blocked: Verdict | None = None  # an output guardrail stopped the streamed text
    parsed: ParsedReply | None = None  # the reply as the stream scanner read it, if it all was


@dataclass
class TurnOutcome(Generic[OutputT]):
    """What one model turn came to: a final result, or the errors that make it a failed one."""

    result: RunResult[OutputT] | None = None
    errors: list[CallError] = field(default_factory=list)
    pending: list[PendingCall] = field(default_factory=list)  # calls waiting for approval


PARSE_OFF_LOOP_CHARS = 32_768
"""Replies (or pieces of one) longer than this are read on a worker thread, so other runs are
not held up."""


class TurnReader:
    """Reads one model turn as it streams: text to show, calls to announce, the reply at the end.

    Args:
        scanner: the format's scanner for this reply (None: calls are found at the end only).
        held: holds text back until the output guardrails passed it (None: shown at once).
        step: the turn's step.
    """

    def __init__(self, scanner: CallScanner | None, held: OutputBuffer | None, step: int) -> None:
        self.scanner = scanner
        self.held = held
        self.step = step
        self.announced: list[ToolCall] = []
        self._parts: list[str] = []
        self._seen: set[str] = set()

    async def read(self, part: str) -> list[TextDelta | ToolCallEvent]:
        """The events one piece of text brings: its text (once checked), the calls it closes."""
        import asyncio  # here, not at module level: keeps `import agentkit` light

        events: list[TextDelta | ToolCallEvent] = []
        shown = part if self.held is None else await self.held.feed(part)
        if shown:
            events.append(TextDelta(shown, self.step))
        if self.scanner is None:
            return events
        self._parts.append(part)
        if len(part) > PARSE_OFF_LOOP_CHARS:
            found = await asyncio.to_thread(self.scanner.feed, part)
        else:
            found = self.scanner.feed(part)
        for call in found:  # announced as soon as each is whole
            if call.id in self._seen:  # a model may reuse an id; results match by id
                call = ToolCall(name=call.name, arguments=call.arguments)
            self._seen.add(call.id)
            self.announced.append(call)
            events.append(ToolCallEvent(call, self.step))
        return events

    async def end(self, response: ModelResponse) -> tuple[TextDelta | None, Reply]:
        """The held-back text's last piece, and the reply (read by the scanner if it saw it all)."""
        import asyncio

        rest = await self.held.flush() if self.held is not None else ""
        parsed = None
        scanner = self.scanner
        if scanner is not None and response.calls is None and "".join(self._parts) == response.text:
            big = len(response.text) > PARSE_OFF_LOOP_CHARS
            parsed = await asyncio.to_thread(scanner.finish) if big else scanner.finish()
        blocked = self.held.blocked if self.held is not None else None
        reply = Reply(response, self.announced, self.step, blocked, parsed)
        return (TextDelta(rest, self.step) if rest else None), reply


async def interpret(
    response: ModelResponse,
    fmt: ToolFormat,
    tool_names: list[str],
    tool_choice: str,
    parsed: ParsedReply | None = None,
) -> tuple[list[ToolCall], str, list[CallError]]:
    """The calls, the prose and the parse errors of a reply (`parsed`: already read)."""
    import asyncio  # here, not at module level: keeps `import agentkit` light

    if response.calls is not None:  # native tool calling: nothing to parse, only to check
        calls, problems = _checked_native(response.calls)
        return calls, response.text, problems
    if parsed is None and len(response.text) > PARSE_OFF_LOOP_CHARS:
        parsed = await asyncio.to_thread(fmt.parse, response.text, tool_names=tool_names)
    elif parsed is None:
        parsed = fmt.parse(response.text, tool_names=tool_names)
    errors = [CallError("parse", p) for p in parsed.errors]
    if parsed.calls and tool_choice == "none":
        refusal = "calling functions is not allowed here: answer in text"
        return [], response.text, [CallError("parse", refusal)]
    return unique_ids(parsed.calls), parsed.text, errors


def unanswered(call: ToolCall, why: str, step: int) -> ToolResultEvent:
    """The result event of a call announced while streaming that will not run."""
    return ToolResultEvent(call.id, call.name, None, f"Error: {why}", why, step)


def account(usage: Usage, response: ModelResponse) -> None:
    """Add a turn's tokens to a run's usage (prompt tokens count as prefilled unless told)."""
    usage.prompt_tokens += response.prompt_tokens or 0
    usage.completion_tokens += response.completion_tokens or 0
    prefilled = response.prefilled_tokens
    usage.prefilled_tokens += prefilled if prefilled is not None else (response.prompt_tokens or 0)


def too_many(made: int, limit: int) -> CallError:
    """The error of a reply that made more calls than one reply may."""
    return CallError(
        "too_many_calls",
        f"your reply made {made} calls, but one reply may make at most {limit}: only the first "
        f"{limit} were considered; make the others in your next reply",
    )


TRUNCATED = CallError(
    "truncated",
    "your reply was cut off at the token limit before it was complete: write a shorter reply",
)


TOLD_IN_RETRY = ("parse", "invalid_output", "truncated", "too_many_calls")
"""Failed-turn errors told in a retry message (refused calls are told by their results)."""


def reuse_ids(calls: list[ToolCall], announced: list[ToolCall]) -> list[ToolCall]:
    """Give the parsed calls the ids of the same calls announced while streaming."""
    out = list(calls)
    for i, (call, early) in enumerate(zip(calls, announced, strict=False)):
        if call.name == early.name and call.arguments == early.arguments:
            out[i] = early
    return out


def _checked_native(calls: list[ToolCall]) -> tuple[list[ToolCall], list[CallError]]:
    """Native calls with distinct ids and encodable arguments; too deep ones become errors."""
    out, errors = [], []
    for call in unique_ids(calls):
        problem, surrogates = check_json(call.arguments, max_depth=MAX_ARGUMENT_DEPTH)
        if problem is not None:
            errors.append(CallError("parse", f"the arguments of {call.name!r}: {problem}"))
            continue
        if surrogates:
            call = call.model_copy(update={"arguments": clean_strings(call.arguments)})
        out.append(call)
    return out, errors


def unique_ids(calls: list[ToolCall]) -> list[ToolCall]:
    """Calls with distinct ids (a model may reuse one; results are matched by id)."""
    seen: set[str] = set()
    out = []
    for call in calls:
        if call.id in seen:
            call = ToolCall(name=call.name, arguments=call.arguments)
        seen.add(call.id)
        out.append(call)
    return out
