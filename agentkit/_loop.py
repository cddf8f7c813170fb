"""The run loop: model turn -> parse -> check -> execute -> results back, until a final answer.

`Run` owns the steps, the model turn, failed-turn accounting and the guardrails. Tool execution
lives in `_execution`, structured output in `_output`; `Agent.run`, `run_async` and `stream`
all consume the same event stream.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Generic

import agentkit._approval as approval
import agentkit._replies as replies
import agentkit._trace as _trace
from agentkit._execution import CallOutcome, CheckedCall, Executor
from agentkit._guarding import RunGuards
from agentkit._output import OutputParser
from agentkit._replies import Reply, TurnOutcome, TurnReader
from agentkit._transcript import prepare_transcript
from agentkit.errors import (
    MaxStepsExceeded,
    ModelError,
    OutputGuardrailTripped,
    RetriesExhausted,
)
from agentkit.events import (
    ApprovalRequestEvent,
    Event,
    FinalEvent,
    RetryEvent,
    ToolCallEvent,
)
from agentkit.formats._base import RenderMemo
from agentkit.guardrails import Verdict
from agentkit.limits import UsageLimits
from agentkit.messages import (
    CallError,
    Message,
    OutputT,
    RunResult,
    ToolCall,
    ToolCallRecord,
    Usage,
    last_user_message,
)
from agentkit.models import ModelRequest, ModelResponse
from agentkit.tools import RunContext

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = ["Run"]

logger = logging.getLogger("agentkit.run")


class Run(Generic[OutputT]):
    """The state of one run; an `Agent` creates one per call and keeps nothing itself."""

    def __init__(
        self,
        agent: Agent[OutputT, Any],
        prompt: str | Sequence[Message],
        deps: Any,
        *,
        streaming: bool = False,
        limits: UsageLimits | None = None,
        resume: approval.Resume | None = None,
        history: int = 0,
    ) -> None:
        self.agent = agent
        self.streaming = streaming
        self.limits = limits or UsageLimits()
        self.resume = resume
        self.started = time.monotonic()
        self.records: list[ToolCallRecord] = []
        self.failures: list[CallError] = []
        self.failed_in_row = 0
        self.first_step = 0
        if resume is None:
            self.run_id = uuid.uuid4().hex
            self.messages = prepare_transcript(prompt, agent.system_prompt)
            self.usage = Usage()
            given = 1 if isinstance(prompt, str) else len(prompt)
            # the stored part, and the system prompt put before it (stored with a first turn)
            self.history = history + len(self.messages) - given if history else 0
        else:
            approval.restore(self, resume.state)
        self.output = OutputParser(agent.output_type)
        self.context: RunContext[Any] = RunContext(deps, self.messages, self.usage, self.run_id)
        self.guards = RunGuards(agent, self.messages, self.run_id)
        self.executor = Executor(
            agent.toolbox,
            self.context,
            tool_timeout=agent.tool_timeout,
            guard=self.guards.tool_stage if self.guards.tools_guarded else None,
        )
        if resume is not None:
            payload = resume.state.payload
            self.executor.repeats.load(payload.repeats, payload.last_outcomes)
        self._render_memo: RenderMemo = {}
        self.trace: _trace.Span = _trace.NO_SPAN

    # -- the loop --------------------------------------------------------------------------------
    async def events(self) -> AsyncGenerator[Event[OutputT], None]:
        """Run to the end, yielding events; the last one is `FinalEvent`."""
        span = _trace.run_span(self.agent.name, self.agent.model_name, self.run_id)
        self.trace = self.executor.trace = span
        try:
            with span:
                try:
                    async with contextlib.aclosing(self._steps()) as steps:
                        async for event in steps:
                            yield event
                finally:
                    span.verdicts(self.guards.records)  # before the span ends
        finally:
            self._release()

    async def _steps(self) -> AsyncGenerator[Event[OutputT], None]:
        if self.resume is not None:
            async for event in approval.decide(self, self.resume):
                yield event
        else:
            await self.guards.check_input(self.guards.input_first)
        for step in range(self.first_step, self.agent.max_steps):
            async for event in self._step(step):
                yield event
                if isinstance(event, FinalEvent):
                    return
        raise MaxStepsExceeded(self.agent.max_steps)

    async def _step(self, step: int) -> AsyncIterator[Event[OutputT]]:
        """One step: a model turn and what comes of it; a `FinalEvent` ends the run."""
        self.limits.check_turn(self.usage, self.elapsed(), self.messages)
        reply: Reply | None = None
        async for part in self._turn(step):
            if isinstance(part, Reply):
                reply = part
            else:
                yield part
        assert reply is not None
        outcome: TurnOutcome[OutputT] | None = None
        async for item in self._act(reply, step):
            if isinstance(item, TurnOutcome):
                outcome = item
            else:
                yield item
        assert outcome is not None
        if outcome.result is not None:
            yield FinalEvent(outcome.result)
            return
        if outcome.errors:
            yield self._failed_turn(outcome.errors, step)
        else:
            self.failed_in_row = 0
            self.failures.clear()
        if outcome.pending:
            yield ApprovalRequestEvent(outcome.pending, step)
            yield FinalEvent(approval.paused_result(self, outcome.pending, step + 1))

    def _turn(self, step: int) -> AsyncIterator[Event[OutputT] | Reply]:
        """A model turn; the first one beside the parallel input guardrails, if any."""
        if step == 0 and self.resume is None and self.guards.input_beside:
            return self.guards.beside_input(self._model_turn(0), self._turn_again)
        return self._model_turn(step)

    def _turn_again(self) -> AsyncGenerator[Event[OutputT] | Reply, None]:
        """The first turn once more (a parallel input guardrail redacted its message)."""
        self.limits.check_turn(self.usage, self.elapsed(), self.messages)
        return self._model_turn(0)

    def elapsed(self) -> float:
        """Seconds the run has taken (its time before a pause included)."""
        return time.monotonic() - self.started

    async def _model_turn(self, step: int) -> AsyncGenerator[Event[OutputT] | Reply, None]:
        """One model turn: text deltas and calls as they complete, then the reply."""
        import asyncio  # here, not at module level: keeps `import agentkit` light

        agent = self.agent
        fmt = agent.model.format
        request = ModelRequest(
            transcript=self.messages,
            tools=agent.tools,
            format=fmt,
            tool_choice=self._tool_choice(),
            output_schema=self.output.schema,
            run_id=self.run_id,
            step=step,
            retry=self.failed_in_row,
            memo=self._render_memo,
        )
        self.usage.model_turns += 1
        reader = TurnReader(  # calls are announced early only to those who stream
            fmt.stream_scanner(agent.toolbox.names) if self.streaming else None,
            self.guards.output_buffer() if self.streaming else None,
            step,
        )
        response: ModelResponse | None = None
        budget = agent.model_timeout
        left = self.limits.remaining_time(self.elapsed())
        cut_by_limit = left is not None and left < budget
        turn = _trace.turn_span(self.trace, agent.model_name, step)
        scope = asyncio.timeout(min(budget, left) if left is not None else budget)
        try:
            with turn:
                turn.prompt(self.messages)
                async with scope:
                    async for part in agent.model.stream(request):
                        if isinstance(part, ModelResponse):
                            response = part
                            turn.usage(part.prompt_tokens, part.completion_tokens)
                            turn.reply(part.text)
                            continue
                        for event in await reader.read(part):
                            yield event
        except TimeoutError as exc:
            if not scope.expired():  # the backend's own TimeoutError
                raise ModelError(f"the model failed: TimeoutError: {exc}") from exc
            if cut_by_limit:
                raise self.limits.out_of_time(self.usage, self.messages) from None
            raise ModelError(f"the model gave no reply within {agent.model_timeout} s") from None
        if response is None:
            raise ModelError("the model's stream ended without a response")
        replies.account(self.usage, response)
        self.limits.check_tokens(self.usage, self.messages)
        rest, reply = await reader.end(response)
        if rest is not None:
            yield rest
        yield reply

    def _tool_choice(self) -> str:
        """The agent's tool_choice until a call has succeeded since the user spoke, then `"auto"`.

        A forced choice would otherwise force calls forever: with a result, the model may answer.
        """
        choice = self.agent.tool_choice
        if choice in ("auto", "none"):
            return choice
        return "auto" if last_user_message(self.messages)[1] else choice

    # -- acting on a reply -----------------------------------------------------------------------
    async def _act(
        self, reply: Reply, step: int
    ) -> AsyncIterator[Event[OutputT] | TurnOutcome[OutputT]]:
        """Act on one reply: run its calls, or accept its final answer; the outcome comes last."""
        response, announced = reply.response, reply.announced
        agent = self.agent
        calls, text, errors = await replies.interpret(
            response, agent.model.format, agent.toolbox.names, agent.tool_choice, reply.parsed
        )
        if response.truncated and (calls or errors or self.output.structured):
            self.messages.append(Message.assistant(response.text))
            for call in announced:
                yield replies.unanswered(
                    call, "not run: the reply was cut at the token limit", step
                )
            yield TurnOutcome(errors=[replies.TRUNCATED])
            return
        if not calls and not errors:
            if reply.stream_blocked is not None:  # the answer's streamed text was stopped
                raise OutputGuardrailTripped(reply.stream_blocked)
            final = await self._final(text, truncated=response.truncated)
            yield (
                TurnOutcome(errors=[final]) if isinstance(final, CallError) else TurnOutcome(final)
            )
            return
        async for item in self._act_on_calls(
            replies.reuse_ids(calls, announced), text, errors, reply
        ):
            yield item

    async def _act_on_calls(
        self, calls: list[ToolCall], text: str, errors: list[CallError], reply: Reply
    ) -> AsyncIterator[Event[OutputT] | TurnOutcome[OutputT]]:
        """Run a reply's calls (those that need approval wait); the outcome comes last."""
        step, limit = reply.step, self.agent.max_calls_per_turn
        if len(calls) > limit:  # the rest are dropped, and the model told to make them later
            errors.append(replies.too_many(len(calls), limit))
            for dropped in calls[limit:]:
                yield replies.unanswered(
                    dropped, f"not run: one reply may make at most {limit} calls", step
                )
            calls = calls[:limit]
        self.messages.append(Message.assistant(text if calls else reply.response.text, calls))
        checked = self.executor.check(calls)
        early = {call.id for call in reply.announced}
        for item in checked:
            if item.call.id not in early:
                yield ToolCallEvent(item.call, step)
        outcomes, pending, free = approval.split_for_approval(
            checked, self.context, self.executor.repeats
        )
        async for outcome in self.execute(free):
            outcomes[outcome.call.id] = outcome
            yield outcome.event(step)
        for item in checked:  # results go into the transcript in call order
            if item.call.id in outcomes:
                errors.extend(self.record(outcomes[item.call.id]))
        yield TurnOutcome(errors=errors, pending=[approval.pending_call(c) for c in pending])

    async def execute(self, checked: list[CheckedCall]) -> AsyncIterator[CallOutcome]:
        """Run checked calls (refused ones come back at once), within the usage limits."""
        import asyncio

        runnable = sum(1 for item in checked if item.refusal is None)
        if runnable:
            self.limits.check_calls(self.usage, runnable, self.elapsed(), self.messages)
        try:
            async with asyncio.timeout(self.limits.remaining_time(self.elapsed())):
                async for outcome in self.executor.run(checked):
                    yield outcome
        except TimeoutError:
            raise self.limits.out_of_time(self.usage, self.messages) from None

    def record(self, outcome: CallOutcome) -> list[CallError]:
        """Write a call's outcome into the records and the transcript; its refusal, if any."""
        self.records.append(outcome.record())
        self.messages.insert(self._results_at(), outcome.message())
        self.usage.tool_calls += outcome.ran
        return [] if outcome.refusal is None else [outcome.refusal]

    def _results_at(self) -> int:
        """Where a tool result goes: last, but before a retry message that followed its turn."""
        at = len(self.messages)
        while at and self.messages[at - 1].role == "user" and self.messages[at - 1].is_error:
            at -= 1
        return at

    # -- pausing and resuming ----------------------------------------------------------------------
    async def _final(self, text: str, *, truncated: bool) -> RunResult[OutputT] | CallError:
        """A final answer: validated, checked by the output guardrails, or why it is refused."""
        self.messages.append(Message.assistant(text))
        output = self.output.parse(text)
        if isinstance(output, CallError):
            return output
        checked = await self.guards.check_output(text)
        if checked != text:
            self.messages[-1] = Message.assistant(checked)
            output = self.output.parse(checked)
            if isinstance(output, CallError):
                broke = f"the redacted answer is no longer valid structured output: {output}"
                raise OutputGuardrailTripped(Verdict.block(broke))
        return RunResult(
            output,
            self.messages,
            self.records,
            self.usage,
            self.run_id,
            truncated=truncated,
            guardrail_verdicts=self.guards.records,
        )

    # -- failed turns: the one place that tells the model and counts ------------------------------
    def _failed_turn(self, errors: list[CallError], step: int) -> RetryEvent:
        """Tell the model what was wrong with its turn, and count the failed turn.

        Refused calls were already answered by their results; parse errors, invalid output and
        truncation are told in one retry message. `RetriesExhausted` past `max_retries` in a row.
        """
        untold = [e for e in errors if e.kind in replies.TOLD_IN_RETRY]
        if untold:
            syntax = any(e.kind == "parse" for e in untold)
            text = self.agent.model.format.error_prompt(
                [e.message for e in untold], show_syntax=syntax
            )
            self.messages.append(Message(role="user", content=text, is_error=True))
        self.usage.failed_turns += 1
        self.failed_in_row += 1
        self.trace.retry(self.failed_in_row, [e.kind for e in errors])
        self.failures.extend(errors)
        for err in errors:
            logger.info("failed turn %d: %s", self.failed_in_row, err.message)
        if self.failed_in_row > self.agent.max_retries:
            raise RetriesExhausted(self.failures, self.agent.max_retries)
        return RetryEvent(list(errors), self.failed_in_row, step)

    def _release(self) -> None:
        try:
            self.agent.model.release(self.run_id)
        except Exception:  # a backend's cleanup must not hide how the run ended
            logger.exception("the model failed to release run %s", self.run_id)
