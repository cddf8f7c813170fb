"""The run loop: model turn -> parse -> validate -> execute -> results back, until a final answer.

I/O-free steps (interpreting a reply, checking arguments, validating output) are plain methods
the async core calls; `Agent.run` and `Agent.run_async` consume the same event stream.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from agentkit._schema import compact_schema
from agentkit.errors import (
    InputGuardrailTripped,
    MaxStepsExceeded,
    ModelError,
    OutputGuardrailTripped,
    RetriesExhausted,
    UsageError,
)
from agentkit.events import Event, FinalEvent, RetryEvent, TextDelta, ToolCallEvent, ToolResultEvent
from agentkit.formats._base import RenderMemo
from agentkit.formats._parse import ParsedReply, decode_json_lenient, find_json_end
from agentkit.guardrails import GuardrailContext, apply_guardrails
from agentkit.messages import CallError, Message, ToolCall, ToolCallRecord, Usage
from agentkit.models import ModelRequest, ModelResponse
from agentkit.tools import ArgumentsError, RunContext, Tool

if TYPE_CHECKING:
    from agentkit.agent import Agent, RunResult

logger = logging.getLogger("agentkit.run")

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
MAX_REPEATS = 2


@dataclass
class _Turn:
    """What one model turn came to: a final result, or the errors that make it a failed turn."""

    errors: list[CallError] = field(default_factory=list)
    result: RunResult[Any] | None = None
    announced: list[ToolCall] = field(default_factory=list)  # calls announced while streaming


@dataclass
class _Checked:
    """A call after lookup and validation: runnable (`tool` and `kwargs`) or refused (`error`)."""

    call: ToolCall
    tool: Tool | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: CallError | None = None


def to_messages(prompt: str | Sequence[Message]) -> list[Message]:
    """A prompt as a transcript: a string is one user message."""
    if isinstance(prompt, str):
        return [Message.user(prompt)]
    messages = [m if isinstance(m, Message) else Message.model_validate(m) for m in prompt]
    if not messages:
        raise UsageError("the prompt is an empty list of messages")
    return messages


class Run:
    """The state of one run; an `Agent` creates one per call and keeps nothing itself."""

    def __init__(self, agent: Agent[Any], prompt: str | Sequence[Message], deps: Any) -> None:
        self.agent = agent
        self.run_id = uuid.uuid4().hex
        self.messages = to_messages(prompt)
        if agent.system_prompt and self.messages[0].role != "system":
            self.messages.insert(0, Message.system(agent.system_prompt))
        self.usage = Usage()
        self.records: list[ToolCallRecord] = []
        self.executed: Counter[str] = Counter()
        self.last_content: dict[str, str] = {}
        self._pending_keys: dict[str, str] = {}  # call id -> repeat key, until the call returns
        self._last_parse: tuple[str, ParsedReply] | None = None
        self._render_memo: RenderMemo = {}
        self.failures: list[CallError] = []
        self.failed_in_row = 0
        self.context: RunContext[Any] = RunContext(
            deps=deps, messages=self.messages, usage=self.usage, run_id=self.run_id
        )
        self.output_adapter: TypeAdapter[Any] | None = (
            None if agent.output_type is str else TypeAdapter(agent.output_type)
        )
        self.output_schema = (
            compact_schema(self.output_adapter.json_schema()) if self.output_adapter else None
        )

    # -- the loop --------------------------------------------------------------------------------
    async def events(self) -> AsyncGenerator[Event, None]:
        """Run to the end, yielding events; the last one is `FinalEvent`."""
        await self._check_input()
        for step in range(self.agent.max_steps):
            response: ModelResponse | None = None
            turn = _Turn()
            streamed = ""
            async for part in self._model_turn(step):
                if isinstance(part, ModelResponse):
                    response = part
                    continue
                yield TextDelta(part, step)
                streamed += part
                if "}" in part:  # a call may have just closed: announce it now
                    for call in self._complete_calls(streamed, len(turn.announced)):
                        turn.announced.append(call)
                        yield ToolCallEvent(call, step)
            assert response is not None
            self._account(response)
            async for event in self._act(response, step, turn):
                yield event
            if turn.result is not None:
                yield FinalEvent(turn.result)
                return
            if turn.errors:
                yield self._failed_turn(turn.errors, step)
            else:
                self.failed_in_row = 0
                self.failures.clear()
        raise MaxStepsExceeded(self.agent.max_steps)

    async def _act(self, response: ModelResponse, step: int, turn: _Turn) -> AsyncIterator[Event]:
        """Act on one reply: run its calls, or report its errors, or accept its final answer."""
        fmt = self.agent.model.format
        calls, text, parse_errors = self._interpret(response)
        turn.errors.extend(CallError("parse", p) for p in parse_errors)
        if not calls and not parse_errors:
            final = await self._final(text)
            if isinstance(final, CallError):
                turn.errors.append(final)
            else:
                turn.result = final
            return
        calls = _reuse_ids(calls, turn.announced)
        self.messages.append(
            Message(role="assistant", content=text if calls else response.text, tool_calls=calls)
        )
        if calls:
            checked = [self._check_call(call) for call in calls]
            announced = {call.id for call in turn.announced}
            for item in checked:
                if item.call.id not in announced:
                    yield ToolCallEvent(item.call, step)
            async for event in self._execute(checked, step):
                yield event
            turn.errors.extend(c.error for c in checked if c.error is not None)
        if parse_errors:
            self._tell(fmt.error_prompt(parse_errors, show_syntax=True))

    async def _model_turn(self, step: int) -> AsyncIterator[str | ModelResponse]:
        agent = self.agent
        fmt = agent.model.format
        output_schema = self.output_schema
        request = ModelRequest(
            transcript=self.messages,
            memo=self._render_memo,
            tools=agent.tools,
            format=fmt,
            tool_choice=self._tool_choice(),
            output_schema=output_schema,
            run_id=self.run_id,
            step=step,
            retry=self.failed_in_row,
        )
        self.usage.model_turns += 1
        import asyncio  # here, not at module level: keeps `import agentkit` light

        got: ModelResponse | None = None
        try:
            async with asyncio.timeout(agent.model_timeout):
                async for part in agent.model.stream(request):
                    if isinstance(part, ModelResponse):
                        got = part
                    yield part
        except TimeoutError:
            raise ModelError(f"the model gave no reply within {agent.model_timeout} s") from None
        if got is None:
            raise ModelError("the model's stream ended without a response")

    def _tool_choice(self) -> str:
        """The agent's tool_choice until a call has succeeded since the user spoke, then `"auto"`.

        A forced choice (`"required"`, a tool name) would otherwise force calls forever; once
        the model has a result it must be free to answer.
        """
        choice = self.agent.tool_choice
        if choice in ("auto", "none"):
            return choice
        for msg in reversed(self.messages):
            if msg.role == "user" and not msg.is_error:
                return choice
            if msg.role == "tool" and not msg.is_error:
                return "auto"
        return choice

    def _parse(self, text: str) -> ParsedReply:
        """Parse a reply (the last result is kept: a streamed reply is parsed once when done)."""
        if self._last_parse is not None and self._last_parse[0] == text:
            return self._last_parse[1]
        parsed = self.agent.model.format.parse(text, tool_names=self.agent.toolbox.names)
        parsed.calls = _unique_ids(parsed.calls)
        self._last_parse = (text, parsed)
        return parsed

    def _complete_calls(self, text: str, known: int) -> list[ToolCall]:
        """Calls already complete in a reply still being generated, after the first `known`."""
        return self._parse(text).calls[known:]

    def _account(self, response: ModelResponse) -> None:
        usage = self.usage
        usage.prompt_tokens += response.prompt_tokens or 0
        usage.completion_tokens += response.completion_tokens or 0
        prefilled = response.prefilled_tokens
        usage.prefilled_tokens += (
            prefilled if prefilled is not None else (response.prompt_tokens or 0)
        )
        logger.debug("turn %d: %r", usage.model_turns, response.text)

    def _interpret(self, response: ModelResponse) -> tuple[list[ToolCall], str, list[str]]:
        if response.calls is not None:  # native tool calling: nothing to parse
            return _unique_ids(response.calls), response.text, []
        parsed = self._parse(response.text)
        if parsed.calls and self.agent.tool_choice == "none":
            return [], response.text, ["calling functions is not allowed here: answer in text"]
        return parsed.calls, parsed.text, parsed.errors

    # -- calls -----------------------------------------------------------------------------------
    def _check_call(self, call: ToolCall) -> _Checked:
        """Look the tool up (repairing safe name slips), validate arguments, refuse repeats."""
        box = self.agent.toolbox
        found = box.resolve(call.name)
        if found is None:
            names = ", ".join(box.names) or "(none)"
            return _Checked(call, error=CallError(
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
            return _Checked(call, found, error=CallError(
                "invalid_arguments", f"invalid arguments for {found.name}: {listed}", found.name
            ))  # fmt: skip
        key = f"{found.name}:{json.dumps(call.arguments, sort_keys=True, default=str)}"
        if self.executed[key] >= MAX_REPEATS:
            seen = self.last_content.get(key, "")
            return _Checked(call, found, error=CallError(
                "repeated_call",
                f"{found.name} was already called {self.executed[key]} times with these same "
                f"arguments (result: {seen[:200]}); do not repeat it: use that result, call "
                "something else, or give your final answer",
                found.name,
            ))  # fmt: skip
        self.executed[key] += 1
        self._pending_keys[call.id] = key
        return _Checked(call, found, kwargs)

    async def _execute(self, checked: list[_Checked], step: int) -> AsyncIterator[Event]:
        """Run the valid calls concurrently; results go into the transcript in call order."""
        import asyncio

        results: dict[str, tuple[Any, str, str | None]] = {}
        runnable = [item for item in checked if item.error is None]
        if len(runnable) == 1:  # the common case: no tasks needed
            call_id, value, content, error = await self._invoke(runnable[0])
            results[call_id] = (value, content, error)
            yield ToolResultEvent(call_id, runnable[0].call.name, value, content, error, step)
            runnable = []
        tasks = {asyncio.ensure_future(self._invoke(item)): item for item in runnable}
        try:
            for next_done in asyncio.as_completed(tasks) if tasks else ():
                call_id, value, content, error = await next_done
                results[call_id] = (value, content, error)
                item = next(i for i in checked if i.call.id == call_id)
                yield ToolResultEvent(call_id, item.call.name, value, content, error, step)
        finally:
            for task in tasks:
                task.cancel()
        for item in checked:
            if item.error is not None:
                value, content, error = None, f"Error: {item.error.message}", item.error.message
                yield ToolResultEvent(item.call.id, item.call.name, None, content, error, step)
            else:
                value, content, error = results[item.call.id]
                self.usage.tool_calls += 1
            self.records.append(
                ToolCallRecord(
                    item.call.id, item.call.name, item.call.arguments, value, error, content
                )
            )
            self.messages.append(
                Message(
                    role="tool",
                    content=content,
                    tool_call_id=item.call.id,
                    name=item.call.name,
                    is_error=error is not None,
                )
            )

    async def _invoke(self, item: _Checked) -> tuple[str, Any, str, str | None]:
        import asyncio

        tool = item.tool
        assert tool is not None
        timeout = tool.timeout if tool.timeout is not None else self.agent.tool_timeout
        context = RunContext(
            self.context.deps, self.messages, self.usage, self.run_id, item.call.id
        )
        logger.debug("call %s(%r)", tool.name, item.kwargs)
        try:
            if tool.runs_inline:  # nothing could interrupt it: a timeout scope would only cost
                value = await tool.invoke(item.kwargs, context)
            else:
                async with asyncio.timeout(timeout):
                    value = await tool.invoke(item.kwargs, context)
        except TimeoutError:
            error = f"{tool.name} timed out after {timeout:g} s"
            logger.info("tool %s timed out after %s s", tool.name, timeout)
            return item.call.id, None, f"Error: {error}", error
        except Exception as exc:  # a tool's failure is the call's result, for the model to see
            error = f"{tool.name} raised {type(exc).__name__}: {exc}"
            logger.info("tool %s raised %s", tool.name, type(exc).__name__)
            return item.call.id, None, f"Error: {error}", error
        content = tool.format_result(value)
        logger.debug("result %s: %s", tool.name, content)
        key = self._pending_keys.pop(item.call.id, "")
        self.last_content[key] = content
        return item.call.id, value, content, None

    # -- failed turns, final answers -------------------------------------------------------------
    def _tell(self, text: str) -> None:
        self.messages.append(Message(role="user", content=text, is_error=True))

    def _failed_turn(self, errors: list[CallError], step: int) -> RetryEvent:
        self.usage.failed_turns += 1
        self.failed_in_row += 1
        self.failures.extend(errors)
        for err in errors:
            logger.info("failed turn %d: %s", self.failed_in_row, err.message)
        if self.failed_in_row > self.agent.max_retries:
            raise RetriesExhausted(self.failures, self.agent.max_retries)
        return RetryEvent(list(errors), self.failed_in_row, step)

    async def _final(self, text: str) -> RunResult[Any] | CallError:
        self.messages.append(Message(role="assistant", content=text))
        output: Any = text
        if self.output_adapter is not None:
            parsed = self._parse_output(text)
            if isinstance(parsed, CallError):
                self._tell(self.agent.model.format.error_prompt([parsed.message]))
                return parsed
            output = parsed
        context = GuardrailContext("output", list(self.messages), run_id=self.run_id)
        checked, verdict = await apply_guardrails(self.agent.output_guardrails, text, context)
        if verdict is not None:
            raise OutputGuardrailTripped(verdict)
        if checked != text:
            self.messages[-1] = Message.assistant(checked)
            output = checked
            if self.output_adapter is not None:
                reparsed = self._parse_output(checked)
                if isinstance(reparsed, CallError):
                    raise OutputGuardrailTripped(_redaction_broke_output(reparsed.message))
                output = reparsed
        from agentkit.agent import RunResult

        return RunResult(output, self.messages, self.records, self.usage, self.run_id)

    def _parse_output(self, text: str) -> Any:
        assert self.output_adapter is not None
        candidate = _json_candidate(text)
        schema = json.dumps(self.output_schema)
        if candidate is None:
            return CallError(
                "invalid_output", f"the final answer must be a JSON object matching {schema}"
            )
        try:
            value = decode_json_lenient(candidate)
        except ValueError as exc:
            return CallError("invalid_output", f"the final answer is not valid JSON ({exc})")
        try:
            return self.output_adapter.validate_python(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"`{'.'.join(map(str, e['loc'])) or '(root)'}`: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return CallError(
                "invalid_output",
                f"the final answer does not match the schema: {problems}; schema: {schema}",
            )

    async def _check_input(self) -> None:
        rails = self.agent.input_guardrails
        index = next(
            (i for i in range(len(self.messages) - 1, -1, -1) if self.messages[i].role == "user"),
            None,
        )
        if not rails or index is None:
            return
        context = GuardrailContext("input", list(self.messages), run_id=self.run_id)
        text = self.messages[index].content
        checked, verdict = await apply_guardrails(rails, text, context)
        if verdict is not None:
            raise InputGuardrailTripped(verdict)
        if checked != text:
            self.messages[index] = self.messages[index].model_copy(update={"content": checked})


def _reuse_ids(calls: list[ToolCall], announced: list[ToolCall]) -> list[ToolCall]:
    """Give the parsed calls the ids of the same calls announced while streaming."""
    out = list(calls)
    for i, (call, early) in enumerate(zip(calls, announced, strict=False)):
        if call.name == early.name and call.arguments == early.arguments:
            out[i] = early
    return out


def _unique_ids(calls: list[ToolCall]) -> list[ToolCall]:
    """Calls with distinct ids (a model may reuse one; results are matched by id)."""
    seen: set[str] = set()
    out = []
    for call in calls:
        if call.id in seen:
            call = ToolCall(name=call.name, arguments=call.arguments)
        seen.add(call.id)
        out.append(call)
    return out


def _json_candidate(text: str) -> str | None:
    """The JSON part of a structured answer: the whole text, a code fence, or the first object."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        return stripped
    fence = _FENCE.search(text)
    if fence:
        return fence.group(1).strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    end = find_json_end(text, start)
    return text[start:end] if end else text[start:]


def _redaction_broke_output(message: str) -> Any:
    from agentkit.guardrails import Verdict

    return Verdict.block(f"the redacted answer is no longer valid structured output: {message}")
