"""The guardrail protocol: small objects that allow, redact or block a text."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agentkit.errors import UsageError
from agentkit.messages import Message

__all__ = [
    "Action",
    "BaseGuardrail",
    "FunctionGuardrail",
    "Guardrail",
    "GuardrailContext",
    "Stage",
    "Verdict",
    "guardrail",
    "guardrail_name",
]

Action = Literal["allow", "redact", "block"]
Stage = Literal["input", "output", "tool_call", "tool_result"]

_ACTIONS = ("allow", "redact", "block")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A guardrail's decision.

    Attributes:
        action: `"allow"`, `"redact"` (use `text` instead) or `"block"`.
        reason: why, for people and logs (never the offending text itself).
        category: a label such as `"pii"` or `"injection"`.
        score: a classifier's score, if any.
        text: the replacement text, for `"redact"`.

    Raises:
        UsageError: an unknown action, or a redaction without its text.
    """

    action: Action
    reason: str = ""
    category: str | None = None
    score: float | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise UsageError(f"action must be 'allow', 'redact' or 'block', got {self.action!r}")
        if self.action == "redact" and self.text is None:
            raise UsageError("a 'redact' verdict needs the replacement text")

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
    def redact(
        cls,
        text: str,
        reason: str = "",
        *,
        category: str | None = None,
        score: float | None = None,
    ) -> Verdict:
        """Replace the text."""
        return cls("redact", reason, category, score, text)


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    """Where a guardrail is looking.

    Attributes:
        stage: `"input"`, `"output"`, `"tool_call"` or `"tool_result"`.
        messages: the transcript so far.
        tool_name: the tool concerned, at the tool stages.
        run_id: the run.
    """

    stage: Stage = "input"
    messages: Sequence[Message] = field(default_factory=list)
    tool_name: str | None = None
    run_id: str = ""


INPUT_CONTEXT = GuardrailContext("input")
"""The context a built-in assumes when it is called without one."""


@runtime_checkable
class Guardrail(Protocol):
    """Anything with `check(text, context)` returning a `Verdict` (or an awaitable of one).

    A guardrail may also have a `name` (used in records and logs; the class name otherwise).
    """

    def check(self, text: str, context: GuardrailContext) -> Verdict | Awaitable[Verdict]:
        """Judge `text`."""
        ...


def guardrail_name(rail: object) -> str:
    """A guardrail's `name`, else its class name."""
    name = getattr(rail, "name", None)
    return name if isinstance(name, str) and name else type(rail).__name__


class BaseGuardrail:
    """What the built-in guardrails share: a name, a sync `check` and an async `acheck`.

    Subclasses implement `check(text, context=None)`; a check that takes long (a model) sets
    `in_thread = True` so that `acheck`, which the runner awaits, runs it in a worker thread
    and the event loop stays free. Cheap checks (regular expressions) run inline.

    Attributes:
        name: the guardrail's name in records and logs (the class name by default).
        in_thread: whether `acheck` runs `check` in a worker thread.
    """

    in_thread: bool = False

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or type(self).__name__

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Judge `text`; `context` defaults to the input stage."""
        raise NotImplementedError

    async def acheck(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Judge `text` without blocking the event loop."""
        import asyncio  # here, not at the top: `import agentkit` stays without it

        if self.in_thread:
            return await asyncio.to_thread(self.check, text, context)
        return self.check(text, context)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class FunctionGuardrail:
    """A guardrail made from a function `(text, context) -> Verdict`, sync or async.

    Attributes:
        fn: the function.
        name: the function's name, unless given.
    """

    def __init__(
        self,
        fn: Callable[[str, GuardrailContext], Verdict | Awaitable[Verdict]],
        *,
        name: str | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def check(
        self, text: str, context: GuardrailContext | None = None
    ) -> Verdict | Awaitable[Verdict]:
        """Call the function (with an input-stage context when none is given)."""
        return self.fn(text, context or INPUT_CONTEXT)

    async def acheck(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Call the function and await its verdict if it is async."""
        verdict = self.check(text, context)
        if inspect.isawaitable(verdict):
            return await verdict
        return verdict

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
        >>> no_secrets.name, no_secrets.check("my password").action
        ('no_secrets', 'block')
    """
    return FunctionGuardrail(fn)
