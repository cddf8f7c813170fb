"""An MCP server built with the official package's server API (`MCPServer`, once FastMCP).

The MCP tests run it as a script:

    python tests/mcp_weather_server.py stdio
    python tests/mcp_weather_server.py http PORT
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("weather", log_level="WARNING")


@server.tool()
def forecast(city: str, days: int = 1) -> str:
    """The weather forecast for a city."""
    return f"{city}: sunny for {days} day(s)"


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def nap(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "awake"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
