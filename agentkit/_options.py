"""The options of a tool: declared once here, checked once here.

`ToolOptions` is the one list of options: `@tool`, `Toolbox.tool`, `Tool.from_function`,
`Tool.from_schema` and `Tool(...)` all take them as `**options: Unpack[ToolOptions]`. Each option
is also an attribute of `Tool`, whose class attribute is its default. A new option is one key
here and one default there (plus, if it needs more than a type check, one entry in `_CHECKS`).
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias, TypedDict

from agentkit._context import RunContext
from agentkit.errors import ToolDefinitionError

if TYPE_CHECKING:
    from agentkit.guardrails import Guardrail

__all__ = ["ApprovalCheck", "ToolOptions", "check_options"]

ApprovalCheck: TypeAlias = Callable[[Mapping[str, Any], RunContext[Any]], bool]
"""Decides from a call's arguments and the run whether the call needs a person's approval."""

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


class ToolOptions(TypedDict, total=False):
    """How a tool is named, described and run. Every key is optional.

    Attributes:
        name: the name the model calls (default: the function's name, or the schema's).
        description: what the tool does, for the model (default: the docstring, or the
            schema's).
        timeout: seconds a call may take (positive, finite), or None for the agent's default.
        strict: validate arguments strictly (no "3" -> 3 coercion).
        inline: run a sync function on the event loop instead of a worker thread: for fast,
            non-blocking functions; such a call cannot be interrupted by its timeout.
        max_result_chars: the longest result text the model sees; longer text is cut.
        guardrails: guardrails run on this tool's calls and results, besides the agent's.
        requires_approval: whether a call needs a person's approval: a bool, or a function of
            the call's arguments and the `RunContext`.
        isolated: run the tool apart from the agent's process.
    """

    name: str | None
    description: str | None
    timeout: float | None
    strict: bool
    inline: bool
    max_result_chars: int
    guardrails: Sequence[Guardrail]
    requires_approval: bool | ApprovalCheck
    isolated: bool


OPTION_NAMES = frozenset(ToolOptions.__annotations__)


def check_options(options: Mapping[str, Any], defaults: object) -> dict[str, Any]:
    """Check options given to a tool and return them normalised (e.g. guardrails as a tuple).

    Args:
        options: the options given; `name` must be among them.
        defaults: an object whose attributes are the options' defaults (the `Tool` class).

    Raises:
        ToolDefinitionError: an unknown option, or a value that cannot work.
    """
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        known = ", ".join(sorted(OPTION_NAMES))
        raise ToolDefinitionError(f"unknown tool option {unknown[0]!r} (options: {known})")
    checked: dict[str, Any] = {}
    for key, value in {"name": None, **options}.items():  # a name is required
        check = _CHECKS.get(key)
        if check is not None:
            value = check(key, value)
        elif isinstance(getattr(defaults, key, None), bool) and not isinstance(value, bool):
            _fail(key, "must be True or False", value)
        checked[key] = value
    return checked


def _fail(key: str, rule: str, value: Any) -> NoReturn:
    raise ToolDefinitionError(f"tool option {key} {rule}, got {value!r}")


def _check_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        _fail(key, "must use letters, digits, '_', '.', '-' (at most 64)", value)
    name: str = value
    return name


def _check_description(key: str, value: Any) -> str:
    if value is not None and not isinstance(value, str):
        _fail(key, "must be a string", value)
    return value or ""


def _check_timeout(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(key, "must be a number of seconds or None", value)
    if not math.isfinite(value) or value <= 0:
        _fail(key, "must be positive and finite", value)
    return float(value)


def _check_max_chars(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(key, "must be a positive integer", value)
    chars: int = value
    return chars


def _check_guardrails(key: str, value: Any) -> tuple[Guardrail, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _fail(key, "must be a sequence of guardrails", value)
    for item in value:
        if not callable(getattr(item, "check", None)):
            _fail(key, "must hold guardrails (objects with check(text, context))", item)
    return tuple(value)


def _check_approval(key: str, value: Any) -> bool | ApprovalCheck:
    if not isinstance(value, bool) and not callable(value):
        _fail(key, "must be True, False or a function of (arguments, context)", value)
    if inspect.iscoroutinefunction(value) or inspect.iscoroutinefunction(
        getattr(value, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        _fail(key, "must be a plain (not async) function of (arguments, context)", value)
    check: bool | ApprovalCheck = value
    return check


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _check_name,
    "description": _check_description,
    "timeout": _check_timeout,
    "max_result_chars": _check_max_chars,
    "guardrails": _check_guardrails,
    "requires_approval": _check_approval,
}
