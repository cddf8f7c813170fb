"""Agentkit tools served to MCP clients (the `agentkit mcp` command), over stdio or HTTP.

Each tool is listed with its name, description and JSON schema. A call's arguments are checked
by the tool's own model (`Tool.validate`) before the function runs (`Tool.call`, so sync tools
run on worker threads and isolated ones in worker processes); invalid arguments, a failing
function and a timeout are all `isError` results whose text says what went wrong, as the model
would see it in an agentkit run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from agentkit._context import RunContext
from agentkit.errors import ArgumentsError, UsageError
from agentkit.tools import Tool, Toolbox

if TYPE_CHECKING:
    from mcp.server import Server
    from mcp.server.context import ServerRequestContext
    from mcp.types import (
        CallToolRequestParams,
        CallToolResult,
        ListToolsResult,
        PaginatedRequestParams,
    )
    from starlette.applications import Starlette

__all__ = ["DEFAULT_TIMEOUT", "http_app", "mcp_server", "serve_stdio"]

logger = logging.getLogger("agentkit.mcp")

DEFAULT_TIMEOUT = 60.0
"""Seconds a call may take unless its tool sets its own timeout."""


def mcp_server(
    tools: Toolbox | Iterable[Tool], *, name: str = "agentkit", timeout: float = DEFAULT_TIMEOUT
) -> Server[Any]:
    """An MCP server (the SDK's low-level `Server`) offering these tools.

    Args:
        tools: the tools (a `Toolbox`, or tools).
        name: the server's name, told to clients.
        timeout: seconds a call may take unless its tool sets a timeout.

    Raises:
        UsageError: the `mcp` package is not installed, or a bad timeout.
    """
    from agentkit.mcp import require_mcp

    require_mcp()
    import mcp.types as types
    from mcp.server import Server

    if not 0 < timeout < float("inf"):
        raise UsageError(f"timeout must be positive and finite, got {timeout!r}")
    box = tools if isinstance(tools, Toolbox) else Toolbox(tools)
    listed = [
        types.Tool(name=t.name, description=t.description, input_schema=t.parameters) for t in box
    ]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult:
        found = box[params.name] if params.name in box else None
        if found is None:
            return _error(
                f"there is no tool named {params.name!r}; the tools are: {', '.join(box.names)}"
            )
        return await run_call(found, params.arguments or {}, timeout)

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


async def run_call(tool: Tool, arguments: dict[str, Any], timeout: float) -> CallToolResult:
    """Validate, run, and turn the outcome into a result (an error result on any failure)."""
    import asyncio

    import mcp.types as types

    try:
        kwargs = tool.validate(arguments)
    except ArgumentsError as exc:
        return _error(f"invalid arguments for {tool.name}: {'; '.join(exc.problems)}")
    limit = tool.timeout if tool.timeout is not None else timeout
    try:
        async with asyncio.timeout(limit):
            _, text = await tool.call(kwargs, RunContext(deps=None))
    except TimeoutError:
        logger.info("tool %s timed out after %s s", tool.name, limit)
        return _error(f"{tool.name} timed out after {limit:g} s")
    except Exception as exc:  # the tool's failure is the call's result
        logger.info("tool %s raised %s", tool.name, type(exc).__name__)
        shown = getattr(exc, "original", None)
        shown = shown if isinstance(shown, BaseException) else exc
        return _error(f"{tool.name} raised {type(shown).__name__}: {shown}"[:2000])
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def _error(text: str) -> CallToolResult:
    import mcp.types as types

    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


async def serve_stdio(
    tools: Toolbox | Iterable[Tool], *, name: str = "agentkit", timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Serve the tools over this process's stdin and stdout until stdin closes.

    While serving, what the tools print goes to stderr, never into the protocol.
    """
    server = mcp_server(tools, name=name, timeout=timeout)
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app(
    tools: Toolbox | Iterable[Tool],
    *,
    name: str = "agentkit",
    timeout: float = DEFAULT_TIMEOUT,
    host: str = "127.0.0.1",
    path: str = "/mcp",
) -> Starlette:
    """An ASGI app serving the tools over streamable HTTP at `path`.

    Args:
        tools: the tools.
        name: the server's name, told to clients.
        timeout: seconds a call may take unless its tool sets a timeout.
        host: the address it will listen on: for a loopback address, requests whose `Host`
            or `Origin` is not a loopback address are refused (DNS rebinding protection).
        path: the endpoint's path.
    """
    server = mcp_server(tools, name=name, timeout=timeout)
    return server.streamable_http_app(streamable_http_path=path, host=host)
