"""`agentkit mcp TOOLS...`: serve tools to MCP clients, over stdio (default) or streamable HTTP.

TOOLS are named as for `agentkit run --tools`: ready-made toolboxes (`calculator`, `clock`...),
modules, files, `MODULE:NAME`. Over stdio the protocol owns stdout: every message of the command
goes to stderr. Exit status: 0 when the client closes stdin (or on SIGTERM / Ctrl-C over HTTP),
2 for a mistake on the command line (a bad tool name, a missing package).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from agentkit._cli._errors import CommandError
from agentkit._cli._specs import READY_MADE, load_all
from agentkit.errors import UsageError

__all__ = ["add_mcp_parser", "run_mcp"]

_EXAMPLES = f"""\
examples:
  agentkit mcp calculator clock                 (stdio: a client starts this command)
  agentkit mcp path/to/my_tools.py --http --port 8765
  agentkit mcp mypackage.tools:toolbox --http --host 0.0.0.0

tools: {", ".join(READY_MADE)} (ready-made), a module, a file path/to/my_tools.py, or
  either followed by :name (a Tool, a Toolbox or a list).
http: the endpoint is http://HOST:PORT/mcp; on a loopback host, requests from other hosts or
  origins are refused.
"""


def add_mcp_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `mcp` subcommand to an `argparse` subparsers object; return its parser."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        "mcp",
        help="serve tools to MCP clients (stdio, or streamable HTTP with --http)",
        description="Serve tools over the Model Context Protocol; arguments are validated by "
        "each tool's own schema before it runs.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("specs", nargs="+", metavar="TOOLS", help="the tools to serve")
    command.add_argument("--http", action="store_true", help="serve streamable HTTP, not stdio")
    command.add_argument("--host", default="127.0.0.1", help="HTTP: address (127.0.0.1)")
    command.add_argument("--port", type=int, default=8000, help="HTTP: port (8000)")
    command.add_argument("--name", default="agentkit", help="the server name told to clients")
    command.add_argument("--timeout", type=float, default=60.0, help="seconds a call may take (60)")
    return command


def run_mcp(args: argparse.Namespace) -> int:
    """Serve until the client leaves (stdio) or the command is stopped (HTTP); the exit status.

    Raises:
        CommandError: a bad tool spec or option, or a missing package (exit status 2).
    """
    if not 0 < args.timeout < float("inf"):
        raise CommandError("--timeout must be positive and finite")
    if not 0 <= args.port <= 65535:
        raise CommandError("--port is out of range")
    tools = load_all(args.specs)
    try:
        if args.http:
            return _serve_http(tools, args)
        from agentkit._mcp_server import serve_stdio

        asyncio.run(serve_stdio(tools, name=args.name, timeout=args.timeout))
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _serve_http(tools: list[Any], args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise CommandError("serving HTTP needs uvicorn: pip install 'agentkit[serve]'") from None
    from agentkit._mcp_server import http_app

    app = http_app(tools, name=args.name, timeout=args.timeout, host=args.host)
    # uvicorn stops gracefully on SIGTERM, then raises it again: with this handler in place
    # (restored after uvicorn's own) the command ends normally, exit status 0.
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start, having logged why
        return 0 if exc.code in (0, None) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.stderr.flush()
    return 0
