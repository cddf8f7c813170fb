"""A bounded pool of daemon threads for sync tools and for formatting large results.

Limits, all set with `configure_workers`:

- `max_threads` threads run jobs at once; further jobs wait in a queue of at most `max_queued`
  (beyond it, a submission fails at once with `WorkersExhausted`).
- A thread whose call was given up (timed out or cancelled) cannot be stopped: it is
  *abandoned*, no longer counts against `max_threads`, and a warning names the tool. At most
  `max_stuck` threads may be abandoned at once; at that limit new calls of sync tools fail at
  once with `WorkersExhausted` instead of starting more threads. An abandoned thread that
  finally returns rejoins the pool, or retires when the pool is full.

So the process never holds more than `max_threads + max_stuck` such threads. Daemons, not the
loop's default executor: `asyncio.run` would wait at shutdown for a call that never returns.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agentkit.errors import UsageError, WorkersExhausted

__all__ = ["POOL", "Job", "WorkerLimits", "WorkerPool", "WorkersExhausted", "configure_workers"]

logger = logging.getLogger("agentkit.tools")

JobState = Literal["queued", "running", "done", "cancelled"]


@dataclass(frozen=True)
class WorkerLimits:
    """The pool's limits (see `configure_workers`).

    Attributes:
        max_threads: threads running calls at once.
        max_stuck: threads left to calls that were given up but still run.
        max_queued: calls waiting for a thread (or for a process, for isolated tools).
        max_processes: worker processes running isolated tools' calls at once.
    """

    max_threads: int = 32
    max_stuck: int = 32
    max_queued: int = 1024
    max_processes: int = 4

    def __post_init__(self) -> None:
        for key in ("max_threads", "max_stuck", "max_queued", "max_processes"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{key} must be a positive integer, got {value!r}")


@dataclass(eq=False)
class Job:
    """One function waiting for, or running on, a worker thread."""

    run: Callable[[], None]
    label: str
    state: JobState = "queued"
    abandoned: bool = False


class WorkerPool:
    """Daemon threads that run jobs, within `WorkerLimits`; idle threads retire."""

    def __init__(self, limits: WorkerLimits | None = None, *, idle_seconds: float = 60.0) -> None:
        self.limits = limits or WorkerLimits()
        self._idle_seconds = idle_seconds
        self._cond = threading.Condition()
        self._queue: collections.deque[Job] = collections.deque()
        self._threads = 0  # threads of the pool, abandoned ones excluded
        self._idle = 0
        self._stuck = 0

    @property
    def stuck(self) -> int:
        """How many threads are abandoned to calls that were given up."""
        return self._stuck

    @property
    def threads(self) -> int:
        """How many threads serve the pool (abandoned ones excluded)."""
        return self._threads

    def submit(self, run: Callable[[], None], *, label: str, refuse_when_stuck: bool) -> Job:
        """Queue `run` (which must not raise) for a worker thread.

        Raises:
            WorkersExhausted: the queue is full, or `refuse_when_stuck` and `max_stuck` threads
                are abandoned.
        """
        with self._cond:
            limits = self.limits
            if refuse_when_stuck and self._stuck >= limits.max_stuck:
                raise WorkersExhausted(
                    f"{label} was not run: {self._stuck} worker threads are still held by calls "
                    f"that timed out (the limit is max_stuck={limits.max_stuck})"
                )
            if len(self._queue) >= limits.max_queued:
                raise WorkersExhausted(
                    f"{label} was not run: {len(self._queue)} calls already wait for a worker "
                    f"thread (the limit is max_queued={limits.max_queued})"
                )
            job = Job(run, label)
            self._queue.append(job)
            if not self._wake_or_start() and self._threads == 0:  # no thread would take it
                self._queue.pop()
                raise WorkersExhausted(f"{label} was not run: cannot start a worker thread")
            return job

    def abandon(self, job: Job) -> None:
        """Give up on a job: drop it if it waits, else leave its thread to finish alone."""
        with self._cond:
            if job.state == "queued":
                self._queue.remove(job)
                job.state = "cancelled"
                return
            if job.state != "running" or job.abandoned:
                return
            job.abandoned = True
            self._threads -= 1
            self._stuck += 1
            stuck = self._stuck
            if self._queue:  # a thread's place is free for a waiting job
                self._wake_or_start()
        logger.warning(
            "tool %s still runs after its call was given up; its worker thread is abandoned "
            "until the function returns (%d of at most %d abandoned threads)",
            job.label,
            stuck,
            self.limits.max_stuck,
        )

    def _wake_or_start(self) -> bool:
        """See that a thread will take the newest queued job (the lock is held).

        Returns False when a thread was needed but could not be started.
        """
        if len(self._queue) <= self._idle or self._threads >= self.limits.max_threads:
            self._cond.notify()
            return True
        thread = threading.Thread(target=self._work, name="agentkit-tool", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # the system refuses more threads
            logger.warning("cannot start a worker thread; calls wait for a busy one")
            return False
        self._threads += 1
        return True

    def _work(self) -> None:
        job = self._take(None)
        while job is not None:
            job.run()
            job = self._take(job)

    def _take(self, finished: Job | None) -> Job | None:
        """Account for a finished job; wait for the next one, or return None to retire."""
        with self._cond:
            if finished is not None:
                finished.state = "done"
                if finished.abandoned:
                    self._stuck -= 1
                    if self._threads >= self.limits.max_threads:
                        return None
                    self._threads += 1
            while not self._queue:
                self._idle += 1
                woken = self._cond.wait(self._idle_seconds)
                self._idle -= 1
                if not woken and not self._queue:
                    self._threads -= 1
                    return None
            job = self._queue.popleft()
            job.state = "running"
            return job


POOL = WorkerPool()


def configure_workers(
    *,
    max_threads: int | None = None,
    max_stuck: int | None = None,
    max_queued: int | None = None,
    max_processes: int | None = None,
) -> WorkerLimits:
    """Set the limits of the worker threads that run sync tools; return the previous limits.

    Args:
        max_threads: threads running sync tool calls at once (default 32); more calls queue.
        max_stuck: threads that may stay with calls that timed out but still run (default
            32); at this limit new sync tool calls fail at once.
        max_queued: calls that may wait for a thread (default 1024); more fail at once.
        max_processes: worker processes for `isolated` tools (default 4); more calls wait.

    Example:
        >>> previous = configure_workers(max_threads=8)
        >>> previous.max_threads, configure_workers(max_threads=previous.max_threads).max_threads
        (32, 8)
    """
    previous = POOL.limits
    limits = WorkerLimits(
        max_threads=previous.max_threads if max_threads is None else max_threads,
        max_stuck=previous.max_stuck if max_stuck is None else max_stuck,
        max_queued=previous.max_queued if max_queued is None else max_queued,
        max_processes=previous.max_processes if max_processes is None else max_processes,
    )
    POOL.limits = limits  # read under the pool's lock; a reference swap is atomic
    return previous
