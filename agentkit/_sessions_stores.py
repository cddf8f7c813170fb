"""The storage under a session: in memory and SQLite, as plain blocking calls.

A store keeps one session's messages as serialised rows, append-only, and its lock as a lease
(a token and an expiry). It answers with outcomes rather than exceptions; `agentkit.sessions`
turns them into errors and runs blocking stores on worker threads.

Append and clear are fenced by the lock: a caller that holds no lock is refused while a live
lease exists (`BUSY`); a caller that holds one is refused once its lease was taken over or
released (`LOST`), so no write ever interleaves with another run's.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Protocol

__all__ = ["MemoryStore", "Outcome", "SQLiteStore", "Store"]


class Outcome(Enum):
    """How a fenced write went."""

    OK = "ok"
    BUSY = "busy"  # another run holds a live lease
    LOST = "lost"  # the caller's lease is gone: it expired and was taken, or was released


class Store(Protocol):
    """One session's rows and lock, behind blocking calls."""

    key: str
    """Identifies the session across objects in this process (wake-ups, held locks)."""
    failures: tuple[type[BaseException], ...]
    """The exceptions that mean the database or server failed."""
    blocking: bool
    """Whether calls block on I/O (they then run on worker threads)."""

    def read(self) -> list[str | bytes]:
        """Every row, oldest first."""
        ...

    def append(self, rows: Sequence[str], token: str | None) -> Outcome:
        """Add rows, all or none, if the lock allows it (`token`: the caller's lease, if any)."""
        ...

    def clear(self, token: str | None) -> Outcome:
        """Delete every row, if the lock allows it."""
        ...

    def acquire(self, token: str, lease: float) -> bool:
        """Take the lock for `lease` seconds unless a live lease is held by another token."""
        ...

    def renew(self, token: str, lease: float) -> bool:
        """Extend this token's lease; False if the lock is no longer this token's."""
        ...

    def release(self, token: str) -> None:
        """Drop the lock if this token still holds it."""
        ...


class MemoryStore:
    """Rows and a lease in this process's memory."""

    failures: tuple[type[BaseException], ...] = ()
    blocking = False

    def __init__(self, session_id: str) -> None:
        self.key = f"memory:{id(self)}:{session_id}"
        self._rows: list[str] = []
        self._holder: tuple[str, float] | None = None  # token, expiry (monotonic)
        self._mutex = threading.Lock()

    def _check(self, token: str | None) -> Outcome:
        holder = self._holder
        if token is None:
            live = holder is not None and holder[1] > time.monotonic()
            return Outcome.BUSY if live else Outcome.OK
        return Outcome.OK if holder is not None and holder[0] == token else Outcome.LOST

    def read(self) -> list[str | bytes]:
        with self._mutex:
            return list(self._rows)

    def append(self, rows: Sequence[str], token: str | None) -> Outcome:
        with self._mutex:
            outcome = self._check(token)
            if outcome is Outcome.OK:
                self._rows.extend(rows)
            return outcome

    def clear(self, token: str | None) -> Outcome:
        with self._mutex:
            outcome = self._check(token)
            if outcome is Outcome.OK:
                self._rows.clear()
            return outcome

    def acquire(self, token: str, lease: float) -> bool:
        with self._mutex:
            now = time.monotonic()
            if self._holder is not None and self._holder[1] > now:
                return self._holder[0] == token
            self._holder = (token, now + lease)
            return True

    def renew(self, token: str, lease: float) -> bool:
        with self._mutex:
            if self._holder is None or self._holder[0] != token:
                return False
            self._holder = (token, time.monotonic() + lease)
            return True

    def release(self, token: str) -> None:
        with self._mutex:
            if self._holder is not None and self._holder[0] == token:
                self._holder = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentkit_session_messages (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agentkit_session_locks (
    session_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
"""


class _Database:
    """One connection to a database file, shared by this process's sessions on it."""

    def __init__(self, path: str, busy_timeout: float) -> None:
        self.path = path
        self.mutex = threading.Lock()
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        """The open connection (opened, in WAL mode with the tables made, on first use)."""
        if self._conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are begun explicitly
                check_same_thread=False,  # used from worker threads, one at a time
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
                conn.executescript(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            weakref.finalize(self, conn.close)
        return self._conn


_databases: weakref.WeakValueDictionary[tuple[int, str], _Database] = weakref.WeakValueDictionary()
_databases_mutex = threading.Lock()


def _database(path: str, busy_timeout: float) -> _Database:
    # Keyed by process too: a connection must not be used again in a forked child.
    key = (os.getpid(), path)
    with _databases_mutex:
        database = _databases.get(key)
        if database is None:
            database = _databases[key] = _Database(path, busy_timeout)
        return database


class SQLiteStore:
    """Rows and a lease row in an SQLite file, safe for several processes on one machine.

    Writes run in `BEGIN IMMEDIATE` transactions, so a lock check and the write it guards are one
    atomic step; lease expiry is wall-clock time, shared by the processes of one machine.
    """

    failures: tuple[type[BaseException], ...] = (sqlite3.Error,)
    blocking = True

    def __init__(self, path: str | os.PathLike[str], session_id: str, busy_timeout: float) -> None:
        resolved = str(path) if str(path) == ":memory:" else str(Path(path).resolve())
        self._db = _database(resolved, busy_timeout)
        self._id = session_id
        self.key = f"sqlite:{resolved}:{session_id}"

    def _fenced(self, conn: sqlite3.Connection, token: str | None) -> Outcome:
        row = conn.execute(
            "SELECT token, expires FROM agentkit_session_locks WHERE session_id = ?", (self._id,)
        ).fetchone()
        if token is None:
            return Outcome.BUSY if row is not None and row[1] > time.time() else Outcome.OK
        return Outcome.OK if row is not None and row[0] == token else Outcome.LOST

    def _write(self, token: str | None, action: Callable[[sqlite3.Connection], None]) -> Outcome:
        """Run `action` in one transaction with the lock check, if the lock allows it."""
        with self._db.mutex:
            conn = self._db.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcome = self._fenced(conn, token)
                if outcome is Outcome.OK:
                    action(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return outcome

    def _insert(self, conn: sqlite3.Connection, rows: Sequence[str]) -> None:
        (start,) = conn.execute(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM agentkit_session_messages WHERE session_id = ?",
            (self._id,),
        ).fetchone()
        conn.executemany(
            "INSERT INTO agentkit_session_messages VALUES (?, ?, ?)",
            [(self._id, start + i, row) for i, row in enumerate(rows)],
        )

    def _delete(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM agentkit_session_messages WHERE session_id = ?", (self._id,))

    def read(self) -> list[str | bytes]:
        with self._db.mutex:
            cursor = self._db.connection().execute(
                "SELECT CAST(message AS BLOB) FROM agentkit_session_messages "
                "WHERE session_id = ? ORDER BY seq",  # bytes: a bad row is SessionCorrupted
                (self._id,),
            )
            return [row[0] for row in cursor]

    def append(self, rows: Sequence[str], token: str | None) -> Outcome:
        return self._write(token, lambda conn: self._insert(conn, rows))

    def clear(self, token: str | None) -> Outcome:
        return self._write(token, self._delete)

    def acquire(self, token: str, lease: float) -> bool:
        with self._db.mutex:
            conn = self._db.connection()
            # One statement: insert, or take over an expired (or our own) lease.
            cursor = conn.execute(
                "INSERT INTO agentkit_session_locks VALUES (?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET token = excluded.token, "
                "expires = excluded.expires WHERE expires <= ? OR token = excluded.token",
                (self._id, token, time.time() + lease, time.time()),
            )
            return cursor.rowcount == 1

    def renew(self, token: str, lease: float) -> bool:
        with self._db.mutex:
            cursor = self._db.connection().execute(
                "UPDATE agentkit_session_locks SET expires = ? WHERE session_id = ? AND token = ?",
                (time.time() + lease, self._id, token),
            )
            return cursor.rowcount == 1

    def release(self, token: str) -> None:
        with self._db.mutex:
            self._db.connection().execute(
                "DELETE FROM agentkit_session_locks WHERE session_id = ? AND token = ?",
                (self._id, token),
            )
