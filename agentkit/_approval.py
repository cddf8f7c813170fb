"""Calls that wait for a person: deciding which do, and turning decisions into outcomes."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit._execution import CallOutcome, CheckedCall
from agentkit.errors import RunStateError
from agentkit.messages import OutputT, RunResult
from agentkit.state import PendingCall, RunState, make_state
from agentkit.tools import RunContext

if TYPE_CHECKING:
    from agentkit._loop import Run

__all__ = [
    "Resume",
    "check_decisions",
    "hold_for_approval",
    "needs_approval",
    "paused_result",
    "pending_call",
    "rejected",
]

logger = logging.getLogger("agentkit.run")


@dataclass
class Resume:
    """A paused run's state and the decisions on its pending calls."""

    state: RunState
    approve: frozenset[str]
    reject: dict[str, str]


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
            held.append(item)
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
    from agentkit.messages import ToolCall

    why = f": {reason}" if reason else ""
    return CallOutcome.failed(
        ToolCall(id=call.id, name=call.name, arguments=call.arguments),
        f"the user refused this call{why}",
    )
