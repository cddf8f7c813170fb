"""`Tool.call`: where functions run and results are formatted, and what a tool may raise."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from agentkit import Agent, _workers, tool
from agentkit.errors import AgentkitError
from agentkit.models import ScriptedModel
from agentkit.tools import RunContext, Tool, ToolCrashed

CONTEXT: RunContext[Any] = RunContext(deps=None)


def run_call(t: Tool, arguments: dict[str, Any] | None = None) -> tuple[Any, str]:
    async def main() -> tuple[Any, str]:
        async with asyncio.timeout(5):  # a call that never settles fails here, not in 30 s
            return await t.call(arguments or {}, CONTEXT)

    return asyncio.run(main())


class ThreadOfStr:
    """A result that records the thread its text was made on."""

    def __init__(self) -> None:
        self.thread = ""

    def __str__(self) -> str:
        self.thread = threading.current_thread().name
        return "shown"


# -- where things run ------------------------------------------------------------------------------


def test_a_sync_tool_runs_and_formats_in_one_worker_job() -> None:
    result = ThreadOfStr()
    ran_on: list[str] = []

    @tool
    def make() -> ThreadOfStr:
        """Make a result."""
        ran_on.append(threading.current_thread().name)
        return result

    value, text = run_call(make)
    assert value is result and text == "shown"
    assert ran_on == [result.thread] and result.thread != threading.current_thread().name


def test_an_async_tools_large_result_is_formatted_off_the_event_loop() -> None:
    result = ThreadOfStr()

    @tool
    async def make() -> ThreadOfStr:
        """Make a result."""
        return result

    loop_thread = threading.current_thread().name
    assert run_call(make)[1] == "shown"
    assert result.thread and result.thread != loop_thread


def test_a_million_digit_result_is_described_not_written() -> None:
    @tool
    async def huge() -> int:
        """A huge number."""
        return 10**1_000_000

    value, text = run_call(huge)
    assert value == 10**1_000_000
    assert text == "<integer of about 1000001 digits: too long to show>"


def test_call_returns_the_value_and_the_text_the_model_sees() -> None:
    @tool(max_result_chars=5)
    def long() -> str:
        """Long text."""
        return "abcdefghij"

    @tool
    async def pair(a: int) -> dict[str, int]:
        """A dict."""
        return {"a": a}

    assert run_call(long)[1].startswith("abcde\n[... truncated: 5")
    value, text = run_call(pair, {"a": 1})
    assert value == {"a": 1} and json.loads(text) == {"a": 1}


def test_a_sync_function_returning_an_awaitable_is_awaited() -> None:
    async def later() -> str:
        return "later"

    t = tool(name="deferred")(lambda: later())
    assert run_call(t) == ("later", "later")


def test_inline_tools_run_on_the_event_loop() -> None:
    seen: list[str] = []

    @tool(inline=True)
    def here() -> str:
        """Report the thread."""
        seen.append(threading.current_thread().name)
        return "ok"

    assert run_call(here) == ("ok", "ok")
    assert seen == [threading.current_thread().name]


# -- what a tool may raise -------------------------------------------------------------------------

CRASHES: list[tuple[str, Callable[[], BaseException]]] = [
    ("SystemExit", lambda: SystemExit(3)),
    ("KeyboardInterrupt", lambda: KeyboardInterrupt()),
    ("GeneratorExit", lambda: GeneratorExit()),
    ("StopIteration", lambda: StopIteration("done")),
    ("StopAsyncIteration", lambda: StopAsyncIteration()),
    ("CancelledError", lambda: asyncio.CancelledError()),
]
IDS = [name for name, _ in CRASHES]


@pytest.mark.parametrize(("name", "make"), CRASHES, ids=IDS)
@pytest.mark.parametrize("inline", [False, True], ids=["thread", "inline"])
def test_a_sync_tool_raising_a_base_exception_fails_its_call(
    name: str, make: Callable[[], BaseException], inline: bool
) -> None:
    # Regression: StopIteration never settled its future (a timeout after the whole wait);
    # SystemExit and KeyboardInterrupt escaped the call.
    def crash() -> None:
        raise make()

    t = tool(name="crash", inline=inline)(crash)
    with pytest.raises(ToolCrashed) as info:
        run_call(t)
    assert type(info.value.original).__name__ == name
    assert info.value.tool == "crash" and str(info.value).startswith(name)


ASYNC_CRASHES = [(n, m) for n, m in CRASHES if n != "StopIteration"]


@pytest.mark.parametrize(("name", "make"), ASYNC_CRASHES, ids=IDS[:3] + IDS[4:])
def test_an_async_tool_raising_a_base_exception_fails_its_call(
    name: str, make: Callable[[], BaseException]
) -> None:
    async def crash() -> None:
        await asyncio.sleep(0)
        raise make()

    t = tool(name="crash")(crash)
    with pytest.raises(ToolCrashed) as info:
        run_call(t)
    assert type(info.value.original).__name__ == name


def test_an_async_tool_raising_stop_iteration_fails_as_python_makes_it() -> None:
    async def crash() -> None:
        raise StopIteration  # Python turns this into RuntimeError inside a coroutine

    with pytest.raises(RuntimeError, match="StopIteration"):
        run_call(tool(name="crash")(crash))


def test_tool_crashed_is_an_ordinary_agentkit_error() -> None:
    assert issubclass(ToolCrashed, AgentkitError) and issubclass(ToolCrashed, Exception)


def test_a_real_cancellation_of_an_async_call_propagates() -> None:
    async def main() -> None:
        started = asyncio.Event()

        @tool
        async def wait_forever() -> None:
            """Wait."""
            started.set()
            await asyncio.Event().wait()

        task = asyncio.ensure_future(wait_forever.call({}, CONTEXT))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_real_cancellation_of_a_sync_call_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_workers, "POOL", _workers.WorkerPool())
    started, release = threading.Event(), threading.Event()

    @tool
    def block() -> None:
        """Block."""
        started.set()
        release.wait(30)

    async def main() -> None:
        task = asyncio.ensure_future(block.call({}, CONTEXT))
        assert await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        release.set()


def test_sys_exit_in_a_tool_does_not_end_the_run() -> None:
    @tool
    def leave() -> str:
        """Exit the process."""
        sys.exit(2)

    @tool
    async def leave_async() -> str:
        """Exit the process, asynchronously."""
        sys.exit(3)

    calls = json.dumps(
        [{"name": "leave", "arguments": {}}, {"name": "leave_async", "arguments": {}}]
    )
    result = Agent(ScriptedModel([calls, "Still here."]), tools=[leave, leave_async]).run("Go")
    assert result.output == "Still here."
    assert [r.error is not None and "SystemExit" in r.error for r in result.tool_calls] == [
        True,
        True,
    ]
