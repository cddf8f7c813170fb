"""`StoredSession`: a session over a store, and its lock, written once for every store."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TypeVar

from pydantic import ValidationError

from agentkit import _sessions_lock as locks
from agentkit._sessions_errors import (
    SessionBusy,
    SessionCorrupted,
    SessionLockLost,
    SessionStoreError,
)
from agentkit._sessions_stores import Outcome, Store
from agentkit._sessions_trim import TrimPolicy
from agentkit.errors import UsageError
from agentkit.messages import Message

__all__ = ["DEFAULT_LEASE", "DEFAULT_LOCK_TIMEOUT", "StoredSession"]

logger = logging.getLogger("agentkit.sessions")

T = TypeVar("T")

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_LEASE = 30.0


def _reason(exc: ValidationError) -> str:
    # Never the stored text itself: it may hold what a user said.
    problems = exc.errors(include_input=False, include_url=False)
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'message'}: {problem['msg']}"
        for problem in problems[:3]
    )


class StoredSession:
    """A session over a `Store`: serialisation, trimming, fencing and locking, written once."""

    def __init__(
        self, store: Store, session_id: str, policy: TrimPolicy | None, lease: float
    ) -> None:
        if not isinstance(lease, int | float) or isinstance(lease, bool) or not lease > 0:
            raise UsageError(f"lease must be a positive number of seconds, not {lease!r}")
        if policy is not None and not isinstance(policy, TrimPolicy):
            raise UsageError(f"policy must be a TrimPolicy or None, not {type(policy).__name__}")
        self.session_id = session_id
        self.policy = policy
        self.lease = float(lease)
        self._store = store

    def __repr__(self) -> str:
        return f"{type(self).__name__}(session_id={self.session_id!r})"

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        """Run a store call (on a worker thread if it blocks), its failures made typed."""
        try:
            if self._store.blocking:
                return await asyncio.to_thread(fn, *args)
            return fn(*args)
        except self._store.failures as exc:
            raise SessionStoreError(
                f"session {self.session_id!r}: the store failed: {type(exc).__name__}: {exc}",
                self.session_id,
            ) from exc

    def _decode(self) -> list[Message]:
        messages = []
        for index, row in enumerate(self._store.read()):
            try:
                messages.append(Message.model_validate_json(row))
            except ValidationError as exc:
                raise SessionCorrupted(self.session_id, index, _reason(exc)) from None
        return messages

    async def load(self) -> list[Message]:
        """The stored transcript, oldest first, trimmed by the session's policy.

        Raises:
            SessionCorrupted: a stored row is not a valid message.
            SessionStoreError: the store failed.
        """
        messages = await self._call(self._decode)
        return messages if self.policy is None else self.policy.apply(messages)

    def _fenced(self, outcome: Outcome, action: str) -> None:
        if outcome is Outcome.BUSY:
            raise SessionBusy(
                f"session {self.session_id!r} is locked by another run: {action} refused "
                "(hold `session.lock()` while writing)",
                self.session_id,
            )
        if outcome is Outcome.LOST:
            raise SessionLockLost(
                f"session {self.session_id!r}: this run's lock expired and was taken over "
                f"(or released): {action} refused",
                self.session_id,
            )

    async def append(self, messages: Sequence[Message]) -> None:
        """Add messages at the end of the transcript: all of them, or none on an error.

        Allowed to the run holding `lock()`, or to anyone while no run holds it.

        Raises:
            UsageError: an item is not a `Message`.
            SessionBusy: another run holds the session.
            SessionLockLost: this run's lock was taken over; nothing was written.
            SessionStoreError: the store failed; nothing was written.
        """
        rows = []
        for i, message in enumerate(messages):
            if not isinstance(message, Message):
                raise UsageError(f"message {i} is a {type(message).__name__}, not a Message")
            rows.append(message.model_dump_json(exclude_defaults=True))
        if rows:
            token = locks.held_token(self._store.key)
            self._fenced(await self._call(self._store.append, rows, token), "append")

    async def clear(self) -> None:
        """Delete the stored transcript (the same rules as `append` apply)."""
        token = locks.held_token(self._store.key)
        self._fenced(await self._call(self._store.clear, token), "clear")

    def lock(self, timeout: float = DEFAULT_LOCK_TIMEOUT) -> AbstractAsyncContextManager[None]:
        """Exclusive use of the session for one run, across tasks, threads and processes.

        The lease lasts `lease` seconds and is renewed every third of that while the block
        runs; if the process dies, it expires and the next run proceeds. Not reentrant.

        Args:
            timeout: seconds to wait for another run to finish.

        Raises:
            SessionBusy: the session stayed locked for `timeout` seconds (also when this task
                holds the lock already: it is not reentrant).
            UsageError: `timeout` is negative.
        """
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout < 0:
            raise UsageError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        return _SessionLock(self, self._store, float(timeout))


_pending: set[asyncio.Task[None]] = set()


class _SessionLock:
    """The lease on one session, held for the duration of an `async with` block."""

    def __init__(self, session: StoredSession, store: Store, timeout: float) -> None:
        self._session = session
        self._store = store
        self._timeout = timeout
        self.token = ""  # the lease's token while held
        self._renewer: asyncio.Task[None] | None = None

    async def _try(self, token: str) -> bool:
        attempt = asyncio.ensure_future(
            self._session._call(self._store.acquire, token, self._lease)
        )
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # The store may grant the lease after we stopped waiting: give it back then.
            attempt.add_done_callback(lambda done: self._give_back(done, token))
            raise

    def _give_back(self, attempt: asyncio.Future[bool], token: str) -> None:
        if not attempt.cancelled() and attempt.exception() is None and attempt.result():
            task = attempt.get_loop().create_task(self._release(token))
            _pending.add(task)  # keeps the task alive until it is done
            task.add_done_callback(_pending.discard)

    @property
    def _lease(self) -> float:
        return self._session.lease

    async def __aenter__(self) -> None:
        key = self._store.key
        # Held in this context: a nested lock (it waits out its timeout: not reentrant), or an
        # abandoned stream whose lock is released as soon as the loop finalises it.
        nested = locks.held_token(key) is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        token = uuid.uuid4().hex
        delay = 0.005
        while not await self._try(token):
            remaining = deadline - loop.time()
            if remaining <= 0:
                hint = "; this task holds it already: the lock is not reentrant" if nested else ""
                raise SessionBusy(
                    f"session {self._session.session_id!r} is in use by another run "
                    f"(waited {self._timeout:g} s{hint})",
                    self._session.session_id,
                )
            # Released here: woken at once; released by another process: seen at the next poll.
            await locks.wait(key, min(delay, remaining))
            delay = min(delay * 2, 0.05)
        self.token = token
        locks.set_held(key, self)
        self._renewer = asyncio.create_task(self._renew(token))

    async def _renew(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                renewed = await self._session._call(self._store.renew, token, self._lease)
            except SessionStoreError as exc:
                logger.warning("%s; will retry", exc)
                continue
            if not renewed:
                logger.warning(
                    "session %r: the lock expired and was taken over; writes will be refused",
                    self._session.session_id,
                )
                return

    async def _release(self, token: str) -> None:
        try:
            await self._session._call(self._store.release, token)
        except SessionStoreError as exc:
            logger.warning("%s; the lock will expire in at most %g s", exc, self._lease)
        finally:
            locks.notify(self._store.key)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self.token = self.token, ""
        locks.set_held(self._store.key, None)
        try:
            if self._renewer is not None:
                self._renewer.cancel()
                try:
                    await self._renewer
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # this task is being cancelled, not only the renewer
        finally:
            # Shielded: a run cancelled now still gives the lease back (in the background).
            release = asyncio.ensure_future(self._release(token))
            _pending.add(release)
            release.add_done_callback(_pending.discard)
            await asyncio.shield(release)
