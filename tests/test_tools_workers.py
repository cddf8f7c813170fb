"""The worker threads of sync tools: bounded in number, in queue, and in threads left stuck."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agentkit import _workers
from agentkit.errors import AgentkitError, UsageError
from agentkit.tools import RunContext, Tool, WorkersExhausted, configure_workers, tool

CONTEXT: RunContext[Any] = RunContext(deps=None)


def pool_with(monkeypatch: pytest.MonkeyPatch, **limits: int) -> _workers.WorkerPool:
    pool = _workers.WorkerPool(_workers.WorkerLimits(**limits))
    monkeypatch.setattr(_workers, "POOL", pool)
    return pool


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event the blocking tools wait on; set at the end so no thread stays blocked."""
    event = threading.Event()
    yield event
    event.set()


def blocking_tool(
    release: threading.Event, started: threading.Event | None = None, name: str = "stuck"
) -> Tool:
    def block() -> str:
        if started is not None:
            started.set()
        release.wait(30)
        return "done"

    return tool(name=name)(block)


async def timed_out(t: Tool, seconds: float = 0.01) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await t.call({}, CONTEXT)
    except TimeoutError:
        return True
    return False


async def abandon_one(t: Tool, started: threading.Event) -> None:
    """Start a call of a blocking tool, wait until it runs, then cancel it."""
    started.clear()
    task = asyncio.ensure_future(t.call({}, CONTEXT))
    assert await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def wait_until_no_stuck(pool: _workers.WorkerPool) -> None:
    for _ in range(2000):  # no awaitable tells when a plain thread returns: poll, bounded
        if pool.stuck == 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{pool.stuck} threads still stuck")


def test_250_timed_out_calls_hold_at_most_max_stuck_threads(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    # Regression: each timed-out call used to keep its thread: 251 threads after 250 calls.
    pool = pool_with(monkeypatch)  # the defaults: 32 threads, 32 stuck
    stuck = blocking_tool(release)
    before = threading.active_count()

    async def main() -> tuple[int, int]:
        timeouts = refused = 0
        for _ in range(250):
            try:
                timeouts += await timed_out(stuck)
            except WorkersExhausted as exc:
                refused += 1
                assert "max_stuck=32" in str(exc) and "stuck" in str(exc)
        return timeouts, refused

    with caplog.at_level(logging.WARNING, logger="agentkit.tools"):
        timeouts, refused = asyncio.run(main())
    # A call that timed out before a thread took it never ran and held no thread.
    assert pool.stuck == 32 and timeouts >= 32 and timeouts + refused == 250
    assert threading.active_count() - before <= 32
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 32 and all("tool stuck" in w and "abandoned" in w for w in warnings)


def test_at_most_max_threads_run_at_once_and_the_rest_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool_with(monkeypatch, max_threads=2)
    lock = threading.Lock()
    running = [0, 0]  # now, most

    @tool
    def work() -> str:
        """Work a little."""
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1
        return "ok"

    async def main() -> list[tuple[Any, str]]:
        return await asyncio.gather(*(work.call({}, CONTEXT) for _ in range(8)))

    assert asyncio.run(main()) == [("ok", "ok")] * 8
    assert running[1] == 2


def test_a_full_queue_refuses_at_once(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool_with(monkeypatch, max_threads=1, max_queued=1)
    started = threading.Event()
    stuck = blocking_tool(release, started)

    async def main() -> None:
        first = asyncio.ensure_future(stuck.call({}, CONTEXT))
        assert await asyncio.to_thread(started.wait, 10)  # `first` runs: the queue is empty
        second = asyncio.ensure_future(stuck.call({}, CONTEXT))
        await asyncio.sleep(0)
        with pytest.raises(WorkersExhausted, match="max_queued=1"):
            await stuck.call({}, CONTEXT)
        release.set()
        assert [v for v, _ in await asyncio.gather(first, second)] == ["done", "done"]

    asyncio.run(main())


def test_a_queued_call_given_up_never_runs(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool = pool_with(monkeypatch, max_threads=1)
    started = threading.Event()
    stuck = blocking_tool(release, started)
    ran: list[str] = []

    @tool
    def later() -> str:
        """Record the call."""
        ran.append("later")
        return "later"

    async def main() -> None:
        first = asyncio.ensure_future(stuck.call({}, CONTEXT))
        assert await asyncio.to_thread(started.wait, 10)
        assert await timed_out(later)  # waits behind `first`, then is given up
        release.set()
        assert (await first)[0] == "done"
        assert (await later.call({}, CONTEXT))[0] == "later"

    asyncio.run(main())
    assert ran == ["later"] and pool.stuck == 0


def test_stuck_threads_return_to_the_pool_when_their_call_ends(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool = pool_with(monkeypatch, max_threads=2, max_stuck=2)
    started = threading.Event()
    stuck = blocking_tool(release, started)

    @tool
    def quick() -> str:
        """Answer."""
        return "quick"

    async def main() -> None:
        await abandon_one(stuck, started)
        await abandon_one(stuck, started)
        assert pool.stuck == 2
        with pytest.raises(WorkersExhausted):
            await quick.call({}, CONTEXT)
        release.set()
        await wait_until_no_stuck(pool)
        assert await quick.call({}, CONTEXT) == ("quick", "quick")

    asyncio.run(main())
    assert pool.threads <= 2


def test_result_formatting_is_not_refused_when_threads_are_stuck(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event
) -> None:
    pool = pool_with(monkeypatch, max_stuck=1)
    started = threading.Event()
    stuck = blocking_tool(release, started)

    @tool
    async def big() -> list[int]:
        """A large result, formatted on a worker thread."""
        return list(range(10_000))

    async def main() -> str:
        await abandon_one(stuck, started)
        assert pool.stuck == 1
        return (await big.call({}, CONTEXT))[1]

    assert asyncio.run(main()).startswith("[0,1,2,")


def test_workers_exhausted_is_an_agentkit_error() -> None:
    assert issubclass(WorkersExhausted, AgentkitError)


def test_configure_workers_sets_and_returns_limits() -> None:
    previous = configure_workers(max_threads=4, max_stuck=3, max_queued=2)
    try:
        assert _workers.POOL.limits == _workers.WorkerLimits(4, 3, 2)
    finally:
        restored = configure_workers(
            max_threads=previous.max_threads,
            max_stuck=previous.max_stuck,
            max_queued=previous.max_queued,
        )
    assert restored == _workers.WorkerLimits(4, 3, 2)
    assert _workers.POOL.limits == previous


@pytest.mark.parametrize("value", [0, -1, True, 2.5])
def test_configure_workers_refuses_bad_limits(value: Any) -> None:
    with pytest.raises(UsageError):
        configure_workers(max_threads=value)
