"""`agentkit mcp`: agentkit's own MCP server, driven by the official client (stdio and HTTP)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

mcp = pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402

from agentkit import Agent  # noqa: E402
from agentkit.cli import main  # noqa: E402
from agentkit.mcp import MCPToolset  # noqa: E402
from agentkit.models import ScriptedModel  # noqa: E402
from tests._net import free_port, start_listening  # noqa: E402

REPO = str(Path(__file__).resolve().parents[1])


def texts(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


async def check_calculator(client: Client) -> None:
    listed = await client.list_tools()
    calculate = next(t for t in listed.tools if t.name == "calculate")
    assert calculate.input_schema["required"] == ["expression"]
    assert calculate.description
    done = await client.call_tool("calculate", {"expression": "17 * 23"})
    assert not done.is_error and texts(done) == "391"
    invalid = await client.call_tool("calculate", {"expr": "1"})
    assert invalid.is_error
    assert texts(invalid).startswith("invalid arguments for calculate:")
    assert "expression" in texts(invalid)
    failed = await client.call_tool("calculate", {"expression": "1 / 0"})
    assert failed.is_error and "calculate raised" in texts(failed)
    unknown = await client.call_tool("nope", {})
    assert unknown.is_error and "no tool named 'nope'" in texts(unknown)


def test_the_official_client_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agentkit", "mcp", "calculator"], cwd=REPO
    )

    async def scenario() -> None:
        with open(tmp_path / "server.log", "w") as log:
            from mcp.client.stdio import stdio_client

            async with Client(stdio_client(params, errlog=log)) as client:
                await check_calculator(client)

    asyncio.run(scenario())


def start(port: int, log: IO[str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "agentkit", "mcp", "calculator", "--http", "--port", str(port)]
    return start_listening(argv, port, log, cwd=REPO)


def test_the_official_client_over_http_then_sigterm_ends_it_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with open(tmp_path / "server.log", "w") as log:
        process = start(port, log)
        try:

            async def scenario() -> None:
                async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                    await check_calculator(client)

            asyncio.run(scenario())
        finally:
            process.send_signal(signal.SIGTERM)
            status = process.wait(30)
    assert status == 0


def test_an_agent_uses_agentkit_tools_served_over_mcp(tmp_path: Path) -> None:
    async def scenario() -> None:
        with open(tmp_path / "server.log", "w") as log:
            argv = ["-m", "agentkit", "mcp", "calculator"]
            async with MCPToolset.stdio(sys.executable, argv, cwd=REPO, stderr=log) as tools:
                call = '[{"name": "calculate", "arguments": {"expression": "2 ** 10"}}]'
                result = await Agent(ScriptedModel([call, "1024"]), tools=tools).run_async("2^10?")
                assert result.tool_calls[0].result == "1024"

    asyncio.run(scenario())


def test_command_line_mistakes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "no_such_toolbox_here"]) == 2
    assert "no_such_toolbox_here" in capsys.readouterr().err
    assert main(["mcp", "calculator", "--timeout", "0"]) == 2
    assert main(["mcp", "calculator", "--http", "--port", "70000"]) == 2


def test_help_lists_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "mcp" in capsys.readouterr().out


def test_the_mcp_example_runs_as_documented() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "examples.mcp_tools"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tools from the MCP server: calculate" in done.stdout
    assert "result  391" in done.stdout
    assert "result  calculate raised MCPToolError: calculate raised ToolError" in done.stdout
