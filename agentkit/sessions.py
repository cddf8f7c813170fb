"""Conversation sessions: a transcript kept between runs, in memory, in SQLite or on Redis.

A session stores each message as its own row, append-only: a run adds its new messages in one
atomic step, so a process killed during a run loses at most that run's turn. One run at a time
uses a session: `lock()` takes a lease in the store (held across processes, renewed while the
run goes on, expiring if its process dies), and writes are refused to anyone else meanwhile.

```
AgentkitError
└── SessionError              a session could not be used
    ├── SessionBusy           another run holds the session (after waiting `timeout`)
    │   └── SessionLockLost   this run's lease expired and another run took the session
    ├── SessionCorrupted      a stored message cannot be read back (carries `.index`)
    └── SessionStoreError     the database or the server failed
```

What a run does with a session:

```python
async with session.lock(timeout=10):
    history = await session.load()          # trimmed by the session's TrimPolicy
    ...                                     # the run, on history + the new user message
    await session.append(new_messages)      # the run's messages, all or none
```

Example:
    >>> import asyncio
    >>> from agentkit import Message
    >>> async def conversation() -> list[str]:
    ...     session = InMemorySession("chat-1")
    ...     async with session.lock():
    ...         await session.append([Message.user("Hi"), Message.assistant("Hello!")])
    ...     return [m.content for m in await session.load()]
    >>> asyncio.run(conversation())
    ['Hi', 'Hello!']
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agentkit._sessions_base import DEFAULT_LEASE, DEFAULT_LOCK_TIMEOUT, StoredSession
from agentkit._sessions_errors import (
    SessionBusy,
    SessionCorrupted,
    SessionError,
    SessionLockLost,
    SessionStoreError,
)
from agentkit._sessions_stores import MemoryStore, SQLiteStore
from agentkit._sessions_trim import TrimPolicy
from agentkit.errors import UsageError
from agentkit.messages import Message, encodable

if TYPE_CHECKING:
    import redis

__all__ = [
    "InMemorySession",
    "RedisSession",
    "SQLiteSession",
    "Session",
    "SessionBusy",
    "SessionCorrupted",
    "SessionError",
    "SessionLockLost",
    "SessionStoreError",
    "TrimPolicy",
]


@runtime_checkable
class Session(Protocol):
    """A conversation's transcript, kept between runs.

    Attributes:
        session_id: names the conversation in its store.
    """

    session_id: str

    async def load(self) -> list[Message]:
        """The stored transcript, oldest first, trimmed by the session's policy."""
        ...

    async def append(self, messages: Sequence[Message]) -> None:
        """Add a run's new messages: all of them or, on an error, none."""
        ...

    async def clear(self) -> None:
        """Delete the stored transcript."""
        ...

    def lock(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> AbstractAsyncContextManager[None]:
        """Exclusive use of the session for one run; raises `SessionBusy` after `timeout`."""
        ...


def _new_id(session_id: str | None) -> str:
    if session_id is None:
        return uuid.uuid4().hex
    if not isinstance(session_id, str) or not session_id or len(session_id) > 512:
        raise UsageError(
            f"session_id must be a non-empty string (at most 512 characters), not {session_id!r}"
        )
    if encodable(session_id) != session_id:
        raise UsageError("session_id must be valid Unicode text (it holds a lone surrogate)")
    return session_id


class InMemorySession(StoredSession):
    """A session kept in this process's memory: for tests, and single-process tools.

    Each instance is its own store; it shares nothing with another instance of the same id.

    Args:
        session_id: names the conversation (a random id by default).
        policy: how `load` trims a long transcript (None keeps everything).
        lease: seconds a lock lasts without renewal.
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        policy: TrimPolicy | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        session_id = _new_id(session_id)
        super().__init__(MemoryStore(session_id), session_id, policy, lease)


class SQLiteSession(StoredSession):
    """A session in an SQLite file (WAL mode): the embedded default.

    Safe for several processes on one machine: the lock is a lease row, every write a
    `BEGIN IMMEDIATE` transaction that checks it. The processes of this one machine share the
    file; for replicas on several machines, use `RedisSession`.

    Args:
        path: the database file (created, with its tables, on first use).
        session_id: names the conversation (a random id by default).
        policy: how `load` trims a long transcript (None keeps everything).
        lease: seconds a lock lasts without renewal.
        busy_timeout: seconds a statement waits for another process's write transaction.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        session_id: str | None = None,
        *,
        policy: TrimPolicy | None = None,
        lease: float = DEFAULT_LEASE,
        busy_timeout: float = 10.0,
    ) -> None:
        session_id = _new_id(session_id)
        super().__init__(SQLiteStore(path, session_id, busy_timeout), session_id, policy, lease)


class RedisSession(StoredSession):
    """A session on a Redis server, shared by the replicas of a service.

    Needs the `redis` package (`pip install 'agentkit[redis]'`). The messages are one Redis
    list, the lock a key set with `SET NX PX` and released by compare-and-delete.

    Args:
        client: a synchronous `redis.Redis` client (share one between sessions; its calls run
            on worker threads, so any event loop, and `Agent.run`, can use the session).
        session_id: names the conversation (a random id by default).
        prefix: the start of the session's keys.
        policy: how `load` trims a long transcript (None keeps everything).
        lease: seconds a lock lasts without renewal.
    """

    def __init__(
        self,
        client: redis.Redis,
        session_id: str | None = None,
        *,
        prefix: str = "agentkit:session:",
        policy: TrimPolicy | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        from agentkit._sessions_redis import RedisStore

        session_id = _new_id(session_id)
        super().__init__(RedisStore(client, session_id, prefix), session_id, policy, lease)
