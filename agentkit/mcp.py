"""MCP (Model Context Protocol): a server's tools as agentkit tools, and agentkit tools as a server.

`MCPToolset` connects to an MCP server, over stdio (a command it starts) or streamable HTTP, and
is a `Toolbox` of its tools: each one's name, description and input schema become a `Tool`
(through `Tool.from_schema`), so arguments are validated and shown to the model as for local
tools. A result's text is what the model sees; an `isError` result is the call's error
(`MCPToolError`), which the model sees and the run goes on.

    async with MCPToolset.stdio("python", ["weather_server.py"]) as weather:
        agent = Agent(model, tools=weather)
        result = await agent.run_async("Weather in Oslo?")

The connection is owned by one background task (see `agentkit._mcp_client`), so any task of the
event loop may use or close it: concurrent runs, an ASGI app's requests, its shutdown hook. An
agent may be built before the toolset connects (its tools appear once it has).

A server that goes away (its process died, the HTTP server stopped) fails the call that finds it
gone with `MCPConnectionError`; the next call reconnects by itself, or call `reconnect()`.

The other way, `agentkit mcp TOOLS...` (or `serve_stdio` / `http_app` here) serves a toolbox
to MCP clients. Both need the official `mcp` package: `pip install 'agentkit[mcp]'`; it is
imported only when a connection opens or a server is built.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO

from agentkit._mcp_client import Connection, MCPConnectionError, MCPToolError
from agentkit._mcp_server import http_app, mcp_server, serve_stdio
from agentkit.errors import ToolDefinitionError, UsageError
from agentkit.tools import Tool, Toolbox

if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterator
    from types import TracebackType

    from mcp import Client
    from mcp.types import CallToolResult
    from mcp.types import Tool as MCPTool

__all__ = [
    "MCPConnectionError",
    "MCPToolError",
    "MCPToolset",
    "http_app",
    "mcp_server",
    "result_text",
    "serve_stdio",
]

logger = logging.getLogger("agentkit.mcp")

INSTALL = "pip install 'agentkit[mcp]'"
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")


def require_mcp() -> None:
    """Raise `UsageError` naming the extra to install when `mcp` is missing."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise UsageError(f"MCP needs the official mcp package: {INSTALL}") from None


class MCPToolset(Toolbox):
    """The tools of one MCP server, as a `Toolbox` (build one with `stdio` or `http`).

    Use as `async with toolset:` (or `await toolset.connect()` ... `await toolset.aclose()`),
    and pass it as an agent's `tools`.

    Args:
        label: how errors and logs name the server.
        make_client: builds a fresh `mcp.Client` (each connection gets its own).
        prefix: put before every tool name (e.g. `"weather_"`), to tell servers apart.
        timeout: seconds a call may take (its tool's timeout in a run is the smaller one).
        connect_timeout: seconds connecting and listing the tools may take.
        max_concurrent: calls in flight at once; more wait, up to `max_queued`.
        max_queued: calls waiting for a free slot.
    """

    def __init__(
        self,
        label: str,
        make_client: Callable[[], AbstractAsyncContextManager[Client]],
        *,
        prefix: str = "",
        timeout: float = 60.0,
        connect_timeout: float = 30.0,
        max_concurrent: int = 16,
        max_queued: int = 256,
    ) -> None:
        super().__init__()
        for key, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not 0 < value < float("inf"):
                raise UsageError(f"{key} must be positive and finite, got {value!r}")
        if max_concurrent < 1 or max_queued < 1:
            raise UsageError("max_concurrent and max_queued must be at least 1")
        self.label = label
        self.prefix = prefix
        self._connection = Connection(
            label,
            make_client,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_concurrent=max_concurrent,
            max_queued=max_queued,
        )
        self._connecting: asyncio.Lock | None = None

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stderr: TextIO | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A server started as a process, spoken to over its stdin and stdout.

        Args:
            command: the program (e.g. `"python"`, `"npx"`).
            args: its arguments.
            env: environment variables added to the few the SDK passes on (PATH, HOME...).
            cwd: its working directory.
            stderr: where its stderr goes (default: this process's stderr).
            **options: those of `MCPToolset` (`prefix`, `timeout`, ...).
        """
        argv = [command, *args]

        def make_client() -> AbstractAsyncContextManager[Client]:
            require_mcp()
            from mcp import Client, StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(
                command=command, args=list(args), env=dict(env) if env else None, cwd=cwd
            )
            return Client(stdio_client(params, errlog=stderr or sys.stderr))

        return cls(f"stdio: {shlex.join(argv)}", make_client, **options)

    @classmethod
    def http(
        cls, url: str, *, headers: Mapping[str, str] | None = None, **options: Any
    ) -> MCPToolset:
        """A server reached over streamable HTTP (e.g. `http://127.0.0.1:8000/mcp`).

        Args:
            url: the server's MCP endpoint.
            headers: sent with every request (e.g. an `Authorization` header; never logged).
            **options: those of `MCPToolset` (`prefix`, `timeout`, ...).
        """
        sent = dict(headers or {})

        def make_client() -> AbstractAsyncContextManager[Client]:
            require_mcp()
            from mcp import Client

            return Client(_http_transport(url, sent))

        return cls(url, make_client, **options)

    # -- the connection ----------------------------------------------------------------------------
    async def connect(self) -> MCPToolset:
        """Connect and load the server's tools (a no-op while connected).

        Raises:
            MCPConnectionError: the server could not be started, reached, or listed in time.
            UsageError: the `mcp` package is not installed.
        """
        import asyncio

        require_mcp()
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # concurrent calls that find the server gone: one reconnects
            if not self._connection.alive:
                self._load(await self._connection.open())
                logger.info("%s: %d tools", self.label, len(self))
        return self

    async def reconnect(self) -> MCPToolset:
        """Close the connection (if any) and open a new one, reloading the tools."""
        await self._connection.close()
        return await self.connect()

    async def aclose(self) -> None:
        """Close the connection (a stdio server is told to exit, then killed); idempotent.

        Any task of the loop may close it, not only the one that connected.
        """
        await self._connection.close()

    @property
    def connected(self) -> bool:
        """Whether calls can be sent now."""
        return self._connection.alive

    async def __aenter__(self) -> MCPToolset:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MCPToolset({self.label!r}, {state}, tools={self.names!r})"

    # -- calls -------------------------------------------------------------------------------------
    async def call(self, name: str, arguments: Mapping[str, Any]) -> str:
        """Call a tool of the server by its server-side name; the text the model sees.

        Reconnects first if an earlier call found the server gone.

        Raises:
            MCPToolError: the server reported the call failed.
            MCPConnectionError: the server cannot be reached, or did not answer in time.
        """
        if self._connection.lost:
            await self.connect()
        result: CallToolResult = await self._connection.request(
            lambda client: client.call_tool(name, dict(arguments))
        )
        text = result_text(result)
        if result.is_error:
            raise MCPToolError(text or f"{name} failed")
        return text

    def _load(self, listed: list[MCPTool]) -> None:
        """Make the tools of a listing (replacing those of an earlier connection)."""
        tools: dict[str, Tool] = {}
        for entry in listed:
            try:
                made = self._tool(entry)
            except ToolDefinitionError as exc:
                logger.warning("%s: tool %r left out: %s", self.label, entry.name, exc)
                continue
            if made.name in tools:
                logger.warning(
                    "%s: two tools are named %r; the first is kept", self.label, made.name
                )
                continue
            tools[made.name] = made
        self._tools = tools

    def _tool(self, entry: MCPTool) -> Tool:
        remote = entry.name
        local = _BAD_NAME_CHARS.sub("_", f"{self.prefix}{remote}")[:64]

        async def call(**arguments: Any) -> str:
            return await self.call(remote, arguments)

        schema = {
            "name": local,
            "description": entry.description or "",
            "parameters": entry.input_schema,
        }
        return Tool.from_schema(schema, fn=call)


def result_text(result: CallToolResult) -> str:
    """The text the model sees for a tool result: its text blocks, then a note for other content.

    Structured content is shown as JSON when there is no text.
    """
    import json

    parts: list[str] = []
    for block in result.content:
        kind = block.type
        if kind == "text":
            parts.append(block.text)  # type: ignore[union-attr]
        elif kind == "resource":
            resource = block.resource  # type: ignore[union-attr]
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")  # type: ignore[union-attr]
        else:
            parts.append(f"[{kind}: {getattr(block, 'mime_type', 'unknown type')}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


@asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    """The SDK's streamable HTTP transport, with our headers on its own HTTP client."""
    from mcp.client.streamable_http import streamable_http_client

    if not headers:
        async with streamable_http_client(url) as streams:
            yield streams
        return
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams
