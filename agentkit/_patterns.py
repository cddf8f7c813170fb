"""Regular-expression keywords of JSON Schema, validated within a time budget.

`jsonschema` matches `pattern` and `patternProperties` with `re`, which can backtrack for
minutes on a hostile pattern (`^(a+)+$` against 31 `a`s and a `!`), on the event loop. Here
they run on the `regex` package with a timeout: all the matching one validation does shares
`BUDGET_SECONDS`; a match that runs out of time counts as a failed check, with a message saying
so.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator, Mapping
from typing import Any

import regex  # type: ignore[import-untyped]
from jsonschema import ValidationError

__all__ = ["BUDGET_SECONDS", "KEYWORDS", "budget", "compile_pattern"]

BUDGET_SECONDS = 0.1
"""The matching time one validation of a call's arguments may spend."""

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "agentkit_pattern_deadline", default=None
)


class _OutOfTime(Exception):
    """A match did not finish within the budget."""


def compile_pattern(pattern: str) -> None:
    """Check that a pattern compiles (at definition).

    Raises:
        regex.error: it does not.
    """
    regex.compile(pattern)


@contextlib.contextmanager
def budget(seconds: float = BUDGET_SECONDS) -> Iterator[None]:
    """Give the matching done inside the block `seconds` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _search(pattern: str, text: str) -> bool:
    deadline = _deadline.get()
    left = BUDGET_SECONDS if deadline is None else deadline - time.monotonic()
    if left <= 0:
        raise _OutOfTime
    try:
        return regex.search(pattern, text, timeout=left) is not None
    except TimeoutError:
        raise _OutOfTime from None


def _timed_out(pattern: str, text: str) -> ValidationError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return ValidationError(
        f"{shown!r} could not be checked against the pattern {pattern!r} in time; "
        "send a shorter or simpler value"
    )


def pattern(validator: Any, patrn: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    """The `pattern` keyword, bounded."""
    if not validator.is_type(instance, "string"):
        return
    try:
        if not _search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")
    except _OutOfTime:
        yield _timed_out(patrn, instance)


def pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """The `patternProperties` keyword, bounded."""
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        for key, value in instance.items():
            try:
                matched = _search(patrn, key)
            except _OutOfTime:
                yield _timed_out(patrn, key)
                continue
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


def additional_properties(
    validator: Any, extra_schema: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """The `additionalProperties` keyword, with bounded matching of `patternProperties`."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = []
    for key in instance:
        if key in properties:
            continue
        try:
            if any(_search(p, key) for p in patterns):
                continue
        except _OutOfTime:
            yield _timed_out("|".join(patterns), key)
            continue
        extras.append(key)
    if validator.is_type(extra_schema, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra_schema, path=key)
    elif extra_schema is False and extras:
        listed = ", ".join(repr(key) for key in sorted(extras))
        verb = "was" if len(extras) == 1 else "were"
        yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


KEYWORDS = {
    "pattern": pattern,
    "patternProperties": pattern_properties,
    "additionalProperties": additional_properties,
}
"""Keyword implementations to extend a `jsonschema` validator class with."""
