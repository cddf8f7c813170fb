"""Running tool functions and turning their results into text for the model."""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

__all__ = ["DEFAULT_MAX_RESULT_CHARS", "in_thread", "is_async_callable", "serialize_result"]

logger = logging.getLogger("agentkit.tools")

DEFAULT_MAX_RESULT_CHARS = 20_000


class _Workers:
    """Daemon threads for sync tools, reused across calls (starting a thread per call is slow).

    Daemons, not the loop's default executor: a timed-out call cannot be killed, and
    `asyncio.run` would wait for it at shutdown. Threads idle for `idle_seconds` retire.
    """

    def __init__(self, idle_seconds: float = 60.0) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()
        self._idle_seconds = idle_seconds

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                threading.Thread(target=self._work, name="agentkit-tool", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # more idle workers than queued jobs: retire
                        self._idle -= 1
                        return
                continue
            job()
            with self._lock:
                self._idle += 1


_WORKERS = _Workers()


async def in_thread(fn: Callable[[], Any], name: str) -> Any:
    """Run a sync function on a worker thread and await its result."""
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
        except BaseException as exc:  # handed to the awaiting side
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: the run gave up on this call (timeout)
            logger.debug("tool %s finished after its run ended", name)

    _WORKERS.submit(job)
    return await future


def is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def serialize_result(value: Any, *, max_chars: int = DEFAULT_MAX_RESULT_CHARS) -> str:
    """Turn a tool's return value into the text the model sees.

    Strings pass through; Pydantic models, dataclasses, dicts and lists become JSON; other objects
    become `str(value)`. Text longer than `max_chars` is cut, with a marker saying how much.
    """
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, BaseModel | dict | list | tuple | bool | int | float):
        text = bytes(to_json(value, fallback=str)).decode()
    elif hasattr(value, "__dataclass_fields__"):
        text = bytes(to_json(value, fallback=str)).decode()
    else:
        text = str(value)
    if len(text) > max_chars:
        cut = len(text) - max_chars
        text = f"{text[:max_chars]}\n[... truncated: {cut} more characters not shown]"
    return text
