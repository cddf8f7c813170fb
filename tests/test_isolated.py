"""Isolated tools: sync functions in worker processes that a timeout kills."""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import Agent, RunContext, Tool, tool
from agentkit import _isolated as isolated
from agentkit.errors import ToolCrashed, ToolDefinitionError, WorkersExhausted
from agentkit.models import ScriptedModel
from agentkit.tools import configure_workers

CONTEXT: RunContext[Any] = RunContext(deps=None)


class Forecast(BaseModel):
    city: str
    day: datetime.date
    celsius: float


class CityNotFound(Exception):
    pass


@tool(isolated=True)
def forecast(city: str, day: datetime.date) -> Forecast:
    """The forecast for a city on a day."""
    print("this goes to stderr, not into the replies")
    return Forecast(city=city, day=day, celsius=21.5)


@tool(isolated=True)
def pid() -> int:
    """The worker's process id."""
    return os.getpid()


@tool(isolated=True, timeout=1.0)
def hang(pid_file: str) -> str:
    """Write the process id, then never return."""
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)


@tool(isolated=True)
def spin(pid_file: str) -> str:
    """Write the process id, then loop forever without sleeping."""
    Path(pid_file).write_text(str(os.getpid()))
    while True:
        pass


@tool(isolated=True)
def crash(code: int) -> str:
    """End the worker process at once."""
    os._exit(code)


@tool(isolated=True)
def fail(kind: str) -> str:
    """Raise an exception of some kind."""
    if kind == "value":
        raise ValueError("bad value 42")
    if kind == "custom":
        raise CityNotFound("no city named Atlantis")
    raise SystemExit(3)


@tool(isolated=True)
def nap(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return f"slept {seconds}"


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[isolated.ProcessPool]:
    pool = isolated.ProcessPool()
    monkeypatch.setattr(isolated, "POOL", pool)
    yield pool
    pool.close()


def _gone(process_id: int) -> bool:
    """Whether a process has ended and been reaped (a pool thread reaps it just after the kill)."""
    for _ in range(500):  # a plain process gives nothing to await: poll, bounded
        try:
            os.kill(process_id, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def test_a_call_runs_in_another_process_with_json_both_ways() -> None:
    value, text = asyncio.run(
        forecast.call({"city": "Oslo", "day": datetime.date(2025, 6, 1)}, CONTEXT)
    )
    assert value == {"city": "Oslo", "day": "2025-06-01", "celsius": 21.5}
    assert text == '{"city":"Oslo","day":"2025-06-01","celsius":21.5}'
    worker_pid = asyncio.run(pid.invoke({}, CONTEXT))
    assert isinstance(worker_pid, int) and worker_pid != os.getpid()


def test_a_worker_serves_call_after_call() -> None:
    async def twice() -> tuple[int, int]:
        return await pid.invoke({}, CONTEXT), await pid.invoke({}, CONTEXT)

    first, second = asyncio.run(twice())
    assert first == second


def test_a_hanging_tool_is_killed_at_its_timeout_and_the_model_is_told(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    call = f'[{{"name": "hang", "arguments": {{"pid_file": "{pid_file}"}}}}]'
    model = ScriptedModel([call, "It hung."])
    asyncio.run(pid.invoke({}, CONTEXT))  # a warm worker: starting one is not the test
    start = time.perf_counter()
    result = Agent(model, tools=[hang]).run("Go")
    assert time.perf_counter() - start < 10
    record = result.tool_calls[0]
    assert record.error == "hang timed out after 1 s"
    assert "timed out" in model.requests[1].messages[-1]["content"]
    hung = int(pid_file.read_text())
    assert _gone(hung)


def test_a_busy_loop_is_killed_and_the_next_call_gets_a_fresh_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    async def scenario() -> int:
        await pid.invoke({}, CONTEXT)  # a warm worker: starting one is not the test
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await spin.call({"pid_file": str(pid_file)}, CONTEXT)
        return int(await pid.invoke({}, CONTEXT))

    fresh = asyncio.run(scenario())
    spun = int(pid_file.read_text())
    assert fresh != spun and _gone(spun)


def test_a_crashed_worker_fails_its_call_and_is_replaced() -> None:
    async def scenario() -> tuple[BaseException, int]:
        with pytest.raises(ToolCrashed) as crashed:
            await crash.call({"code": 7}, CONTEXT)
        return crashed.value, await pid.invoke({}, CONTEXT)

    error, after = asyncio.run(scenario())
    assert isinstance(error.original, ChildProcessError)  # type: ignore[attr-defined]
    assert "died during the call" in str(error)
    assert after != os.getpid()


def test_exceptions_come_back_with_their_type_name_and_message() -> None:
    async def raised(kind: str) -> BaseException:
        try:
            await fail.call({"kind": kind}, CONTEXT)
        except BaseException as exc:
            return exc
        raise AssertionError("no exception")

    value_error = asyncio.run(raised("value"))
    assert type(value_error) is ValueError and str(value_error) == "bad value 42"
    custom = asyncio.run(raised("custom"))
    assert isinstance(custom, isolated.RemoteError)
    assert type(custom).__name__ == "CityNotFound" and str(custom) == "no city named Atlantis"
    exited = asyncio.run(raised("exit"))
    assert isinstance(exited, ToolCrashed) and isinstance(exited.original, SystemExit)


def test_the_model_sees_an_isolated_tool_error_as_a_local_one() -> None:
    call = '[{"name": "fail", "arguments": {"kind": "custom"}}]'
    result = Agent(ScriptedModel([call, "No."]), tools=[fail]).run("Go")
    assert result.tool_calls[0].error == "fail raised CityNotFound: no city named Atlantis"


def test_concurrent_calls_share_at_most_max_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = configure_workers(max_processes=2)
    try:

        async def many() -> list[str]:
            return list(
                await asyncio.gather(*(nap.invoke({"seconds": 0.2}, CONTEXT) for _ in range(4)))
            )

        assert asyncio.run(many()) == ["slept 0.2"] * 4
        assert len(isolated.POOL._idle) == 2
    finally:
        configure_workers(max_processes=previous.max_processes)


def test_calls_past_the_queue_bound_are_refused() -> None:
    previous = configure_workers(max_processes=1, max_queued=1)
    try:

        async def flood() -> list[Any]:
            calls = [nap.invoke({"seconds": 0.3}, CONTEXT) for _ in range(3)]
            return list(await asyncio.gather(*calls, return_exceptions=True))

        outcomes = asyncio.run(flood())
    finally:
        configure_workers(max_processes=previous.max_processes, max_queued=previous.max_queued)
    assert outcomes.count("slept 0.3") == 2
    refused = [o for o in outcomes if isinstance(o, WorkersExhausted)]
    assert len(refused) == 1 and "max_processes=1" in str(refused[0])


def _nested_tool() -> Tool:
    def inner(x: int) -> int:
        return x

    return tool(isolated=True)(inner)


def _closure_tool() -> Tool:
    offset = 3

    def shifted(x: int) -> int:
        return x + offset

    return tool(isolated=True)(shifted)


async def _async_fn(x: int) -> int:
    return x


def _with_context(ctx: RunContext[Any], x: int) -> int:
    return x


def _plain(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_nested_tool, "nested"),
        (_closure_tool, "closure"),
        (lambda: tool(isolated=True, name="square")(lambda x: x * x), "lambda"),
        (lambda: tool(isolated=True)(_async_fn), "async"),
        (lambda: tool(isolated=True)(_with_context), "RunContext"),
        (lambda: tool(isolated=True, inline=True)(_plain), "inline"),
        (
            lambda: Tool.from_schema({"name": "x", "parameters": {}}, isolated=True),
            "needs a function",
        ),
    ],
)
def test_functions_a_worker_cannot_import_are_refused_at_definition(
    make: Any, problem: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=problem):
        make()


def test_a_tool_of_the_main_script_runs_isolated(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os
            from agentkit import RunContext, tool

            @tool(isolated=True)
            def where(x: int) -> list:
                return [x, os.getpid()]

            if __name__ == "__main__":
                value = asyncio.run(where.invoke({"x": 5}, RunContext(deps=None)))
                print(value[0], value[1] != os.getpid())
            """
        )
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert out.stdout.split() == ["5", "True"], out.stderr
