"""Running guardrails in a chain: records, latency, composition with `all_of`.

The agent loop calls `run_guardrails` at each stage (input, output, tool call, tool result).
Each guardrail sees the text as the previous one left it (redactions chain); the first block
wins and ends the chain.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from agentkit.errors import AgentkitError, UsageError
from agentkit.guardrails._base import (
    INPUT_CONTEXT,
    Action,
    BaseGuardrail,
    Guardrail,
    GuardrailContext,
    Stage,
    Verdict,
    guardrail_name,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "AllOf",
    "GuardrailOutcome",
    "Guardrails",
    "VerdictRecord",
    "all_of",
    "run_guardrails",
]

logger = logging.getLogger("agentkit.guardrails")

DEFAULT_TIMEOUT = 60.0
"""Seconds one guardrail may take before the runner gives up on it."""

Guardrails: TypeAlias = Sequence["Guardrail | Guardrails"]
"""Guardrails in order; nested lists are flattened (a plain list is an `all_of`)."""


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """One verdict that was not `allow`, for the run's records and traces.

    Attributes:
        stage: where the guardrail looked.
        guardrail: its name (`group/member` inside an `all_of`).
        action: `"redact"` or `"block"`.
        reason: the verdict's reason.
        category: the verdict's category.
        score: the verdict's score.
        latency: seconds the check took.
    """

    stage: Stage
    guardrail: str
    action: Action
    reason: str
    category: str | None
    score: float | None
    latency: float


@dataclass(slots=True)
class GuardrailOutcome:
    """What a chain of guardrails made of a text.

    Attributes:
        text: the text after every redaction (the input text when nothing was redacted).
        blocked: the blocking verdict, or None.
        records: one record per verdict that was not `allow`, in order.
        latency: seconds the whole chain took.
    """

    text: str
    blocked: Verdict | None = None
    records: list[VerdictRecord] = field(default_factory=list)
    latency: float = 0.0

    @property
    def redacted(self) -> bool:
        """Whether a guardrail redacted the text."""
        return any(record.action == "redact" for record in self.records)


class AllOf(BaseGuardrail):
    """Several guardrails as one: chained, each sees the previous one's redacted text.

    The first block wins. A redaction by any member makes the group's verdict a redaction
    of the final text. The runner flattens a group, so each member keeps its own record
    (named `group/member`) and a slow member still runs in a worker thread.

    Args:
        guardrails: the members, in order (nested lists are flattened).
        name: the group's name; by default `all_of(member, ...)`.

    Raises:
        UsageError: no member.
    """

    def __init__(self, guardrails: Guardrails, *, name: str | None = None) -> None:
        members = [rail for _, rail in _flatten(guardrails, "")]
        if not members:
            raise UsageError("all_of needs at least one guardrail")
        self.guardrails = tuple(guardrails)
        super().__init__(name=name or f"all_of({', '.join(map(guardrail_name, members))})")

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Run the members synchronously (each must have a sync `check`; else use `acheck`)."""
        context = context or INPUT_CONTEXT
        current, changes = text, list[tuple[str, str | None, float | None]]()
        for label, rail in _flatten(self.guardrails, ""):
            verdict = rail.check(current, context)
            if inspect.isawaitable(verdict):
                if inspect.iscoroutine(verdict):
                    verdict.close()
                raise UsageError(f"{label} is async: use `await {self.name}.acheck(text)`")
            verdict = _checked(verdict, label)
            if verdict.action == "block":
                return verdict
            if verdict.action == "redact" and verdict.text is not None:
                current = verdict.text
                changes.append((verdict.reason, verdict.category, verdict.score))
        return _combined(current, changes)

    async def acheck(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Run the members with the runner (worker threads for slow ones)."""
        outcome = await run_guardrails(self.guardrails, text, context)
        if outcome.blocked is not None:
            return outcome.blocked
        changes = [(r.reason, r.category, r.score) for r in outcome.records]
        return _combined(outcome.text, changes)


def all_of(*guardrails: Guardrail | Guardrails, name: str | None = None) -> AllOf:
    """Chain guardrails into one: each sees the previous one's redacted text; first block wins.

    Example:
        >>> from agentkit.guardrails import DenyList, PIIGuardrail
        >>> rail = all_of(PIIGuardrail(), DenyList(["crème brûlée"]), name="support")
        >>> rail.check("Mail ada@example.com").text
        'Mail <EMAIL>'
        >>> rail.check("I want creme brulee").action
        'block'
    """
    return AllOf(guardrails, name=name)


def _combined(text: str, changes: list[tuple[str, str | None, float | None]]) -> Verdict:
    """One redaction standing for the members' redactions (reason, category, score each)."""
    if not changes:
        return Verdict.allow()
    reasons = "; ".join(reason for reason, _, _ in changes if reason)
    categories = ",".join(dict.fromkeys(category for _, category, _ in changes if category))
    scores = [score for _, _, score in changes if score is not None]
    return Verdict.redact(
        text, reasons, category=categories or None, score=max(scores) if scores else None
    )


def _flatten(guardrails: Guardrail | Guardrails, prefix: str) -> Iterator[tuple[str, Guardrail]]:
    """(label, guardrail) pairs in order, groups and nested lists opened."""
    if isinstance(guardrails, AllOf):
        group = f"{prefix}{guardrails.name}/"
        yield from _flatten(guardrails.guardrails, group)
    elif isinstance(guardrails, Sequence) and not isinstance(guardrails, str):
        for item in guardrails:
            yield from _flatten(item, prefix)
    elif isinstance(guardrails, Guardrail):
        yield f"{prefix}{guardrail_name(guardrails)}", guardrails
    else:
        raise UsageError(
            f"{guardrails!r} is not a guardrail: it needs a check(text, context) method"
        )


def _checked(verdict: object, label: str) -> Verdict:
    if not isinstance(verdict, Verdict):
        raise UsageError(f"guardrail {label!r} returned {type(verdict).__name__}, not a Verdict")
    return verdict


async def _verdict(rail: Guardrail, label: str, text: str, context: GuardrailContext) -> Verdict:
    acheck = getattr(rail, "acheck", None)
    if acheck is not None and inspect.iscoroutinefunction(acheck):
        result: object = await acheck(text, context)
    else:
        result = rail.check(text, context)
        if inspect.isawaitable(result):
            result = await result
    return _checked(result, label)


async def _check_one(
    rail: Guardrail, label: str, text: str, context: GuardrailContext, timeout: float
) -> Verdict:
    import asyncio  # here, not at the top: `import agentkit` stays without it

    try:
        async with asyncio.timeout(timeout):
            return await _verdict(rail, label, text, context)
    except TimeoutError as exc:
        raise UsageError(f"guardrail {label!r} gave no verdict within {timeout} s") from exc
    except AgentkitError:
        raise
    except Exception as exc:
        # The exception's message may quote the text: only its type goes in ours.
        raise UsageError(f"guardrail {label!r} failed with {type(exc).__name__}") from exc


async def run_guardrails(
    guardrails: Guardrails,
    text: str,
    context: GuardrailContext | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> GuardrailOutcome:
    """Run guardrails in order on `text` and record every verdict that is not `allow`.

    Built-in guardrails run through their `acheck` (model-based ones in a worker thread); any
    other guardrail's `check` is called and awaited if it returns an awaitable.

    Args:
        guardrails: the guardrails; nested lists and `all_of` groups are flattened.
        text: the text to check.
        context: the stage and transcript (the input stage by default).
        timeout: seconds each guardrail may take.

    Returns:
        The outcome: the redacted text, the blocking verdict or None, the records, the latency.

    Raises:
        UsageError: a guardrail raised, timed out, or returned something other than a
            `Verdict` (the message names it); errors of agentkit itself pass through.
    """
    context = context or INPUT_CONTEXT
    outcome = GuardrailOutcome(text)
    start = time.perf_counter()
    for label, rail in list(_flatten(guardrails, "")):
        began = time.perf_counter()
        verdict = await _check_one(rail, label, outcome.text, context, timeout)
        latency = time.perf_counter() - began
        if verdict.action == "allow":
            continue
        outcome.records.append(
            VerdictRecord(
                stage=context.stage,
                guardrail=label,
                action=verdict.action,
                reason=verdict.reason,
                category=verdict.category,
                score=verdict.score,
                latency=latency,
            )
        )
        logger.info(
            "%s guardrail %s: %s (%s)", context.stage, label, verdict.action, verdict.reason
        )
        if verdict.action == "block":
            outcome.blocked = verdict
            break
        if verdict.text is not None:
            outcome.text = verdict.text
    outcome.latency = time.perf_counter() - start
    return outcome
