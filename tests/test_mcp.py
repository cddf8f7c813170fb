"""MCPToolset against a real MCP server process built with the official SDK (stdio and HTTP)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

pytest.importorskip("mcp")

from agentkit import Agent
from agentkit.events import RetryEvent
from agentkit.mcp import MCPConnectionError, MCPToolError, MCPToolset
from agentkit.models import ScriptedModel
from tests._net import free_port, start_listening

SERVER = str(Path(__file__).with_name("mcp_weather_server.py"))


@pytest.fixture
def server_log(tmp_path: Path) -> Iterator[IO[str]]:
    with open(tmp_path / "server.log", "w") as log:
        yield log


def stdio_toolset(log: IO[str], **options: Any) -> MCPToolset:
    return MCPToolset.stdio(sys.executable, [SERVER, "stdio"], stderr=log, **options)


def start_http_server(port: int, log: IO[str]) -> subprocess.Popen[bytes]:
    return start_listening([sys.executable, SERVER, "http", str(port)], port, log, timeout=30)


@pytest.fixture
def http_server(server_log: IO[str]) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    port = free_port()
    processes = [start_http_server(port, server_log)]
    yield port, processes
    for process in processes:
        process.kill()
        process.wait(10)


def weather_script() -> ScriptedModel:
    calls = [
        {"name": "forecast", "arguments": {"city": "Oslo", "days": 2}},
        {"name": "divide", "arguments": {"a": 1, "b": 0}},
    ]
    return ScriptedModel([json.dumps(calls), "Sunny in Oslo; no division by zero."])


async def run_weather_agent(toolset: MCPToolset) -> None:
    model = weather_script()
    result = await Agent(model, tools=toolset).run_async("Weather in Oslo, and 1/0?")
    forecast, divide = result.tool_calls
    assert forecast.result == "Oslo: sunny for 2 day(s)" and forecast.error is None
    assert (
        divide.error
        == "divide raised MCPToolError: Error executing tool divide: cannot divide by zero"
    )
    sent = model.requests[1].messages
    assert any("cannot divide by zero" in str(m.get("content")) for m in sent)
    assert result.output == "Sunny in Oslo; no division by zero."


# -- stdio ---------------------------------------------------------------------------------------


def test_the_servers_tools_become_agentkit_tools(server_log: IO[str]) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log) as tools:
            assert tools.names == ["forecast", "divide", "pid", "nap"]
            forecast = tools["forecast"]
            assert forecast.description == "The weather forecast for a city."
            assert forecast.parameters["required"] == ["city"]
            assert forecast.validate({"city": "Oslo"}) == {"city": "Oslo"}
            assert tools.schemas()[0]["function"]["name"] == "forecast"

    asyncio.run(scenario())


def test_an_agent_run_calls_mcp_tools_end_to_end_over_stdio(server_log: IO[str]) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log) as tools:
            await run_weather_agent(tools)

    asyncio.run(scenario())


def test_invalid_arguments_are_refused_before_reaching_the_server(server_log: IO[str]) -> None:
    async def scenario() -> list[Any]:
        bad = '[{"name": "forecast", "arguments": {"city": "Oslo", "days": "many"}}]'
        model = ScriptedModel([bad, "Sorry."])
        async with stdio_toolset(server_log) as tools:
            return [e async for e in Agent(model, tools=tools).stream("Weather?")]

    events = asyncio.run(scenario())
    retries = [e for e in events if isinstance(e, RetryEvent)]
    assert retries and retries[0].errors[0].kind == "invalid_arguments"
    assert "days" in retries[0].errors[0].message


def test_a_killed_server_gives_a_clear_error_then_the_next_call_reconnects(
    server_log: IO[str],
) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log) as tools:
            first = int(await tools.call("pid", {}))
            os.kill(first, signal.SIGKILL)
            with pytest.raises(MCPConnectionError, match="closed the connection; the next call"):
                for _ in range(100):  # the kill lands at once; the loop only bounds the wait
                    await tools.call("pid", {})
            assert not tools.connected
            second = int(await tools.call("pid", {}))
            assert second != first and tools.connected

    asyncio.run(scenario())


def test_a_slow_call_times_out_and_the_connection_stays_usable(server_log: IO[str]) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log, timeout=0.5) as tools:
            with pytest.raises(MCPConnectionError, match=r"no answer within 0.5 s"):
                await tools.call("nap", {"seconds": 3})
            assert await tools.call("forecast", {"city": "Rome"}) == "Rome: sunny for 1 day(s)"

    asyncio.run(scenario())


def test_an_unknown_tool_is_an_mcp_tool_error(server_log: IO[str]) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log) as tools:
            with pytest.raises(MCPToolError):
                await tools.call("no_such_tool", {})

    asyncio.run(scenario())


def test_closing_from_another_task_than_the_one_that_opened_it(server_log: IO[str]) -> None:
    async def scenario() -> None:
        tools = stdio_toolset(server_log)
        await asyncio.create_task(tools.connect())  # opened in one task...
        pid = int(await tools.call("pid", {}))
        await asyncio.create_task(tools.aclose())  # ...closed in another: no cancel-scope error
        assert not tools.connected
        with pytest.raises(MCPConnectionError, match="closed"):
            await tools.call("pid", {})
        for _ in range(200):  # the SDK reaps its server; nothing to await from here
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the server process still runs")

    asyncio.run(scenario())


def test_concurrent_runs_share_one_connection(server_log: IO[str]) -> None:
    async def scenario() -> None:
        async with stdio_toolset(server_log, max_concurrent=4) as tools:
            answers = await asyncio.gather(
                *(tools.call("forecast", {"city": f"c{i}"}) for i in range(20))
            )
            assert answers == [f"c{i}: sunny for 1 day(s)" for i in range(20)]
            await asyncio.gather(*(run_weather_agent(tools) for _ in range(3)))

    asyncio.run(scenario())


def test_an_agent_built_before_connecting_sees_the_tools_once_connected(
    server_log: IO[str],
) -> None:
    tools = stdio_toolset(server_log)
    agent = Agent(weather_script(), tools=tools)
    assert agent.tools == []

    async def scenario() -> None:
        async with tools:
            assert [t.name for t in agent.tools] == ["forecast", "divide", "pid", "nap"]
            await agent.run_async("Weather?")

    asyncio.run(scenario())


def test_calls_before_connecting_and_servers_that_cannot_start_fail_clearly(
    server_log: IO[str],
) -> None:
    async def scenario() -> None:
        with pytest.raises(MCPConnectionError, match="not connected"):
            await stdio_toolset(server_log).call("pid", {})
        with pytest.raises(MCPConnectionError, match="no-such-command"):
            await MCPToolset.stdio("no-such-command-here", stderr=server_log).connect()
        quits = MCPToolset.stdio(sys.executable, ["-c", "pass"], stderr=server_log)
        with pytest.raises(MCPConnectionError):
            await quits.connect()

    asyncio.run(scenario())


def test_opening_in_an_asgi_lifespan_and_closing_on_shutdown(server_log: IO[str]) -> None:
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    tools = stdio_toolset(server_log)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with tools:
            yield

    async def weather(request: Request) -> JSONResponse:
        return JSONResponse({"text": await tools.call("forecast", {"city": "Lima"})})

    app = Starlette(routes=[Route("/weather", weather)], lifespan=lifespan)
    with TestClient(app) as client:
        replies = [client.get("/weather").json()["text"] for _ in range(3)]
        assert tools.connected
    assert replies == ["Lima: sunny for 1 day(s)"] * 3
    assert not tools.connected


def test_import_agentkit_mcp_does_not_import_the_mcp_package() -> None:
    code = "import sys, agentkit, agentkit.mcp; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- streamable HTTP -----------------------------------------------------------------------------


def test_an_agent_run_calls_mcp_tools_end_to_end_over_http(
    http_server: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, _ = http_server

    async def scenario() -> None:
        async with MCPToolset.http(f"http://127.0.0.1:{port}/mcp", prefix="w_") as tools:
            assert tools.names == ["w_forecast", "w_divide", "w_pid", "w_nap"]
            model = ScriptedModel(['[{"name": "w_forecast", "arguments": {"city": "Oslo"}}]', "ok"])
            result = await Agent(model, tools=tools).run_async("Weather?")
            assert result.tool_calls[0].result == "Oslo: sunny for 1 day(s)"
            with pytest.raises(MCPToolError, match="cannot divide by zero"):
                await tools.call("divide", {"a": 1, "b": 0})

    asyncio.run(scenario())


def test_a_stopped_http_server_gives_a_clear_error_then_the_next_call_reconnects(
    http_server: tuple[int, list[subprocess.Popen[bytes]]], server_log: IO[str]
) -> None:
    port, processes = http_server

    async def scenario() -> None:
        async with MCPToolset.http(f"http://127.0.0.1:{port}/mcp", timeout=20) as tools:
            first = int(await tools.call("pid", {}))
            processes[0].kill()
            processes[0].wait(10)
            with pytest.raises(MCPConnectionError, match="the next call reconnects"):
                await tools.call("pid", {})
            processes.append(start_http_server(port, server_log))
            second = int(await tools.call("pid", {}))
            assert second != first

    asyncio.run(scenario())
