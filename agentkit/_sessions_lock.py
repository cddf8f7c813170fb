"""Plumbing of session locks: waking this process's waiters, and which locks a run holds.

A lock is a lease in the store, so waiters in other processes poll it; waiters in this process
are woken as soon as it is released here, whatever event loop or thread they run on.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Mapping
from typing import Protocol

__all__ = ["Holder", "held_token", "notify", "set_held", "wait"]


class Holder(Protocol):
    """A held lock: its lease token, or "" once released."""

    token: str


_mutex = threading.Lock()
_waiting: dict[str, set[asyncio.Future[None]]] = {}

# The locks the current task (and the tasks it starts) holds: session key -> the lock. A lock
# released in another context (an async generator closed by the garbage collector) leaves its
# entry here, so entries are trusted only while the lock says it is held.
_held: contextvars.ContextVar[Mapping[str, Holder] | None] = contextvars.ContextVar(
    "agentkit_session_locks", default=None
)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait(key: str, delay: float) -> None:
    """Sleep up to `delay` seconds, or until the lock `key` is released in this process."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    with _mutex:
        _waiting.setdefault(key, set()).add(future)
    timer = loop.call_later(delay, _settle, future)
    try:
        await future
    finally:
        timer.cancel()
        with _mutex:
            waiters = _waiting.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del _waiting[key]


def notify(key: str) -> None:
    """Wake this process's waiters for the lock `key` (each on its own event loop)."""
    with _mutex:
        waiters = list(_waiting.get(key, ()))
    for future in waiters:
        try:
            future.get_loop().call_soon_threadsafe(_settle, future)
        except RuntimeError:  # its loop is closed: nobody is waiting there any more
            pass


def held_token(key: str) -> str | None:
    """The token of the lock `key` if the current task holds it."""
    holder = (_held.get() or {}).get(key)
    return holder.token if holder is not None and holder.token else None


def set_held(key: str, holder: Holder | None) -> None:
    """Record (or, with None, forget) that the current task holds the lock `key`."""
    held = dict(_held.get() or {})
    if holder is None:
        held.pop(key, None)
    else:
        held[key] = holder
    _held.set(held)
