"""Calls that wait for a person: deciding which do, and turning decisions into outcomes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit._execution import CallOutcome, CheckedCall, RepeatGuard
from agentkit.errors import RunStateError
from agentkit.events import Event
from agentkit.messages import CallError, OutputT, RunResult, ToolCall, Usage
from agentkit.state import PendingCall, RunState, make_state
from agentkit.tools import RunContext

if TYPE_CHECKING:
    from agentkit._loop import Run

__all__ = [
    "Resume",
    "check_decisions",
    "decide",
    "hold_for_approval",
    "needs_approval",
    "paused_result",
    "pending_call",
    "rejected",
    "restore",
    "split_for_approval",
]

logger = logging.getLogger("agentkit.run")


@dataclass
class Resume:
    """A paused run's state and the decisions on its pending calls."""

    state: RunState
    approve: frozenset[str]
    reject: dict[str, str]


async def decide(run: Run[Any], resume: Resume) -> AsyncIterator[Event[Any]]:
    """Carry out the decisions on a paused run's calls; the run then goes on."""
    pending = resume.state.pending  # the decisions were checked against it (Agent.resume)
    approved = [p for p in pending if p.id in resume.approve]
    checked = run.executor.check(
        [ToolCall(id=p.id, name=p.name, arguments=p.arguments) for p in approved]
    )
    outcomes = {p.id: rejected(p, reason) for p in pending if (reason := resume.reject.get(p.id))
                is not None}  # fmt: skip
    for outcome in outcomes.values():
        yield outcome.event(run.first_step)
    async for outcome in run.execute(checked):
        outcomes[outcome.call.id] = outcome
        yield outcome.event(run.first_step)
    for call in pending:
        run.record(outcomes[call.id])


def restore(run: Run[Any], state: RunState) -> None:
    """Give a new run the state of the paused one it continues."""
    payload = state.payload
    run.run_id = payload.run_id
    run.messages = list(payload.messages)
    run.usage = Usage(**payload.usage)
    run.records = list(payload.records)
    run.failed_in_row = payload.failed_in_row
    run.failures = [CallError(**f) for f in payload.failures]
    run.first_step = payload.step
    run.history = payload.history
    run.started -= payload.elapsed  # wall_time counts the run's time before its pause


def split_for_approval(
    checked: Sequence[CheckedCall], context: RunContext[Any], repeats: RepeatGuard
) -> tuple[dict[str, CallOutcome], list[CheckedCall], list[CheckedCall]]:
    """Outcomes of calls whose approval check failed, the calls that wait, and the free ones.

    A waiting call is not counted against repeats until it is approved and runs.
    """
    outcomes, held = hold_for_approval(checked, context)
    for item in held:
        repeats.forget(item.key)
    waiting = {item.call.id for item in held}
    free = [c for c in checked if c.call.id not in outcomes and c.call.id not in waiting]
    return outcomes, held, free


def hold_for_approval(
    checked: Sequence[CheckedCall], context: RunContext[Any]
) -> tuple[dict[str, CallOutcome], list[CheckedCall]]:
    """The calls that wait for a person (held), and outcomes of those whose check failed."""
    outcomes: dict[str, CallOutcome] = {}
    held: list[CheckedCall] = []
    for item in checked:
        if item.refusal is not None:
            continue
        need = needs_approval(item, context)
        if isinstance(need, CallOutcome):
            outcomes[item.call.id] = need
        elif need:
            held.append(item)  # counted against repeats when approved and run, not now
    return outcomes, held


def paused_result(
    run: Run[OutputT], pending: list[PendingCall], next_step: int
) -> RunResult[OutputT]:
    """The result of a run that pauses before `next_step`, its state included."""
    state = make_state(
        toolbox=run.agent.toolbox,
        run_id=run.run_id,
        step=next_step,
        messages=run.messages,
        records=run.records,
        usage=run.usage,
        failed_in_row=run.failed_in_row,
        failures=run.failures,
        repeats=run.executor.repeats.dump(),
        pending=pending,
        history=run.history,
        elapsed=run.elapsed(),
        key=run.agent.state_key,
    )
    return RunResult(
        None,  # type: ignore[arg-type]  # no output yet: the run waits for decisions
        run.messages,
        run.records,
        run.usage,
        run.run_id,
        guardrail_verdicts=run.guards.records,
        status="paused",
        pending_calls=pending,
        state=state,
    )


def needs_approval(item: CheckedCall, context: RunContext[Any]) -> bool | CallOutcome:
    """Whether a valid call waits for approval, or its outcome if its tool's check failed.

    A check that raises fails closed: the call does not run, and its error says why.
    """
    tool, kwargs = item.tool, item.kwargs
    assert tool is not None and kwargs is not None
    rule = tool.requires_approval
    if not callable(rule):
        return bool(rule)
    try:
        return bool(rule(dict(kwargs), context))
    except Exception as exc:  # a failing check never lets the call through
        logger.warning("requires_approval of %s raised %s", tool.name, type(exc).__name__)
        return CallOutcome.failed(
            item.call,
            f"{tool.name} was not run: deciding whether it needs approval failed "
            f"({type(exc).__name__})",
            ran=False,
        )


def pending_call(item: CheckedCall) -> PendingCall:
    """The call as it waits for a decision."""
    return PendingCall(id=item.call.id, name=item.call.name, arguments=item.call.arguments)


def check_decisions(
    pending: Sequence[PendingCall], approve: Collection[str], reject: Mapping[str, str]
) -> None:
    """Decisions must name pending calls, each once, and decide every one.

    Raises:
        RunStateError: an unknown call id, a call both approved and rejected, or a pending
            call left without a decision.
    """
    ids = {call.id for call in pending}
    unknown = sorted((set(approve) | set(reject)) - ids)
    if unknown:
        raise RunStateError(f"no pending call has the id(s) {', '.join(unknown)}")
    both = sorted(set(approve) & set(reject))
    if both:
        raise RunStateError(f"call(s) both approved and rejected: {', '.join(both)}")
    undecided = sorted(ids - set(approve) - set(reject))
    if undecided:
        raise RunStateError(f"no decision for pending call(s): {', '.join(undecided)}")


def rejected(call: PendingCall, reason: str) -> CallOutcome:
    """The outcome of a call a person refused: an error the model sees, with the reason."""
    why = f": {reason}" if reason else ""
    return CallOutcome.failed(
        ToolCall(id=call.id, name=call.name, arguments=call.arguments),
        f"the user refused this call{why}",
        ran=False,
    )
