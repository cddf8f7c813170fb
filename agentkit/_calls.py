"""Running tool functions and turning their results into text for the model.

What a tool may raise: any `Exception` is the call's failure, as it is. So is every other
`BaseException` the tool raises itself (`SystemExit`, `KeyboardInterrupt`, `GeneratorExit`, a
`CancelledError` the run did not ask for, ...) and `StopIteration` / `StopAsyncIteration`
(which a future cannot carry): each is wrapped in `ToolCrashed`, an ordinary exception carrying
the original, so that `sys.exit()` inside a tool never ends a service. Only a real cancellation
of the awaiting task (its timeout, the run being cancelled) propagates as `CancelledError`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json, to_jsonable_python

import agentkit._workers as _workers
from agentkit.errors import ToolCrashed

__all__ = [
    "DEFAULT_MAX_RESULT_CHARS",
    "ToolCrashed",
    "await_contained",
    "call_contained",
    "in_thread",
    "is_async_callable",
    "serialize_result",
    "small_result",
]

logger = logging.getLogger("agentkit.tools")

DEFAULT_MAX_RESULT_CHARS = 20_000
_SURROGATES = re.compile("[\ud800-\udfff]")
_LOG10_2 = math.log10(2)


def _contained(exc: BaseException, name: str) -> BaseException:
    """What the caller sees for an exception a tool raised (see the module docstring)."""
    if isinstance(exc, Exception) and not isinstance(exc, StopIteration | StopAsyncIteration):
        return exc
    return ToolCrashed(name, exc)


def call_contained(fn: Callable[[], Any], name: str) -> Any:
    """Call a sync tool function here, wrapping what it must not raise in `ToolCrashed`."""
    try:
        return fn()
    except Exception as exc:
        if isinstance(exc, StopIteration | StopAsyncIteration):
            raise ToolCrashed(name, exc) from exc
        raise
    except BaseException as exc:  # a CancelledError raised in sync code is the tool's own
        raise ToolCrashed(name, exc) from exc


async def await_contained(awaitable: Awaitable[Any], name: str) -> Any:
    """Await a tool's awaitable, wrapping what it must not raise in `ToolCrashed`.

    A `CancelledError` propagates only when this task is really being cancelled.
    """
    import asyncio

    try:
        return await awaitable
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise ToolCrashed(name, exc) from exc
    except Exception as exc:
        if isinstance(exc, StopIteration | StopAsyncIteration):
            raise ToolCrashed(name, exc) from exc
        raise
    except BaseException as exc:
        raise ToolCrashed(name, exc) from exc


async def in_thread(fn: Callable[[], Any], name: str, *, refuse_when_stuck: bool = True) -> Any:
    """Run a sync function on a worker thread and await its result.

    If the awaiting task is cancelled (a timeout), a queued call never starts and a running
    one is abandoned to finish alone (see `agentkit._workers`).

    Args:
        fn: the function, run in a copy of the current context.
        name: the tool's name, for errors and logs.
        refuse_when_stuck: fail fast when too many threads are stuck in timed-out calls (tool
            calls); False for short jobs that cannot get stuck (result formatting).

    Raises:
        WorkersExhausted: no worker thread can take the call.
        ToolCrashed: `fn` raised a `BaseException` or `StopIteration`.
    """
    import asyncio  # here, not at module level: keeps `import agentkit` light

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def job() -> None:
        try:
            outcome = (True, context.run(fn))
        except BaseException as exc:  # handed to the awaiting side, contained
            outcome = (False, _contained(exc, name))
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: the run gave up on this call (timeout)
            logger.debug("tool %s finished after its run ended", name)

    pool = _workers.POOL
    submitted = pool.submit(job, label=name, refuse_when_stuck=refuse_when_stuck)
    try:
        return await future
    except asyncio.CancelledError:
        pool.abandon(submitted)
        raise


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling `fn` gives a coroutine (partials and async `__call__` included)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def serialize_result(value: Any, *, max_chars: int = DEFAULT_MAX_RESULT_CHARS) -> str:
    """Turn a tool's return value into the text the model sees; never raises.

    Strings pass through; Pydantic models, dataclasses, dicts and lists become JSON; other
    objects become `str(value)`. Text longer than `max_chars` is cut, with a marker saying how
    much. What cannot be shown (a failing `__str__`, a circular or too deeply nested container,
    an integer too long to write) becomes `<unserialisable result: ...>`; lone surrogates become
    U+FFFD, so that the text is always valid UTF-8.

    Example:
        >>> serialize_result({"a": [1, 2]})
        '{"a":[1,2]}'
        >>> serialize_result("x" * 30, max_chars=4).splitlines()
        ['xxxx', '[... truncated: 26 more characters not shown]']
    """
    try:
        text = _to_text(value, max_chars)
    except Exception as exc:  # RecursionError, ValueError (circular, digit limit), __str__...
        text = f"<unserialisable result: {type(value).__name__}: {_safe_str(exc)}>"
    if len(text) > max_chars:
        cut = len(text) - max_chars
        text = f"{text[:max_chars]}\n[... truncated: {cut} more characters not shown]"
    return _SURROGATES.sub("\ufffd", text)


def _to_text(value: Any, max_chars: int) -> str:
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        digits = int(value.bit_length() * _LOG10_2) + 1
        if digits > max_chars:  # writing it costs time quadratic in its length
            return f"<integer of about {digits} digits: too long to show>"
        return bytes(to_json(value)).decode()
    if value is None or isinstance(value, BaseModel | dict | list | tuple | bool | float):
        return _json(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json(value)
    return str(value)


def _json(value: Any) -> str:
    """Compact JSON; the standard encoder refuses huge integers quickly (the digit limit)."""
    try:
        return json.dumps(value, default=_jsonable, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError):  # circular, an integer over the digit limit, odd keys
        return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return to_jsonable_python(value, fallback=str)


def _safe_str(value: object) -> str:
    try:
        return str(value)[:500]
    except Exception:
        return "(cannot be shown)"


def small_result(value: Any, max_chars: int) -> bool:
    """Whether a value is quick to write as text (else it is written on a worker thread).

    A scalar of modest size is, and so is a short flat list or dict of such scalars.
    """
    if _scalar(value, max_chars):
        return True
    if not isinstance(value, list | tuple | dict) or len(value) > 32:
        return False
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    return all(_scalar(k, 1000) and _scalar(v, 1000) for k, v in pairs)


def _scalar(value: Any, max_chars: int) -> bool:
    if value is None or isinstance(value, bool | float):
        return True
    if isinstance(value, int):
        return value.bit_length() < 4096
    return isinstance(value, str) and len(value) <= max_chars
