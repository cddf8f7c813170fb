"""The guardrail protocol: small objects that allow, redact or block a text."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agentkit.messages import Message

__all__ = [
    "Action",
    "FunctionGuardrail",
    "Guardrail",
    "GuardrailContext",
    "Stage",
    "Verdict",
    "apply_guardrails",
    "guardrail",
]

Action = Literal["allow", "redact", "block"]
Stage = Literal["input", "output", "tool_call", "tool_result"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guardrail's decision.

    Attributes:
        action: `"allow"`, `"redact"` (use `text` instead) or `"block"`.
        reason: why, for people and logs.
        category: a label such as `"pii"` or `"injection"`.
        score: a classifier's score, if any.
        text: the replacement text, for `"redact"`.
    """

    action: Action
    reason: str = ""
    category: str | None = None
    score: float | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ("allow", "redact", "block"):
            raise ValueError(f"action must be 'allow', 'redact' or 'block', got {self.action!r}")
        if self.action == "redact" and self.text is None:
            raise ValueError("a 'redact' verdict needs the replacement text")

    @classmethod
    def allow(cls) -> Verdict:
        """Let the text through."""
        return cls("allow")

    @classmethod
    def block(
        cls, reason: str = "", *, category: str | None = None, score: float | None = None
    ) -> Verdict:
        """Stop the run."""
        return cls("block", reason, category, score)

    @classmethod
    def redact(cls, text: str, reason: str = "", *, category: str | None = None) -> Verdict:
        """Replace the text."""
        return cls("redact", reason, category, None, text)


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    """Where a guardrail is looking.

    Attributes:
        stage: `"input"`, `"output"`, `"tool_call"` or `"tool_result"`.
        messages: the transcript so far.
        tool_name: the tool concerned, at the tool stages.
        run_id: the run.
    """

    stage: Stage
    messages: Sequence[Message] = field(default_factory=list)
    tool_name: str | None = None
    run_id: str = ""


@runtime_checkable
class Guardrail(Protocol):
    """Anything with `check(text, context)` returning a `Verdict` (or an awaitable of one)."""

    def check(self, text: str, context: GuardrailContext) -> Verdict | Awaitable[Verdict]:
        """Judge `text`."""
        ...


class FunctionGuardrail:
    """A guardrail made from a function `(text, context) -> Verdict`, sync or async."""

    def __init__(
        self,
        fn: Callable[[str, GuardrailContext], Verdict | Awaitable[Verdict]],
        *,
        name: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def check(self, text: str, context: GuardrailContext) -> Verdict | Awaitable[Verdict]:
        """Call the function."""
        return self.fn(text, context)

    def __repr__(self) -> str:
        return f"FunctionGuardrail({self.name!r})"


def guardrail(
    fn: Callable[[str, GuardrailContext], Verdict | Awaitable[Verdict]],
) -> FunctionGuardrail:
    """Decorator: turn a function `(text, context) -> Verdict` into a guardrail.

    Example:
        >>> @guardrail
        ... def no_secrets(text, context):
        ...     return Verdict.block("secret") if "password" in text else Verdict.allow()
    """
    return FunctionGuardrail(fn)


async def apply_guardrails(
    guardrails: Sequence[Guardrail], text: str, context: GuardrailContext
) -> tuple[str, Verdict | None]:
    """Run guardrails in order.

    Returns:
        The text (redacted where a guardrail redacted it) and the blocking verdict, or None.
    """
    for rail in guardrails:
        verdict = rail.check(text, context)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not isinstance(verdict, Verdict):
            raise TypeError(f"{rail!r}.check returned {type(verdict).__name__}, not a Verdict")
        if verdict.action == "block":
            return text, verdict
        if verdict.action == "redact" and verdict.text is not None:
            text = verdict.text
    return text, None
