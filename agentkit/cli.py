"""The `agentkit` command (also `python -m agentkit`): run or chat with an agent from the shell.

    agentkit run "What is 17 * 23?" --tools calculator
    agentkit chat --tools calculator clock units --model default
    agentkit run "Hi" --base-url http://localhost:8000/v1 --model my-model --json
    agentkit schema calculator path/to/my_tools.py mypackage.tools:toolbox
    agentkit serve mypackage.agents:support_agent --port 8080

Exit status: 0 done, 1 the run failed (the model gave no answer, a server refused), 2 a mistake
on the command line (a bad tool name, a missing model or package), 130 interrupted. Mistakes are
reported in one line, never with a traceback, and an API key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agentkit import Agent, Toolbox
from agentkit._cli._chat import ChatSession
from agentkit._cli._errors import CommandError
from agentkit._cli._models import (
    api_key,
    build_model,
    check_model_spec,
    quiet_libraries,
    uses_local_model,
)
from agentkit._cli._output import Console, StepStreamer, result_json, safe_streams
from agentkit._cli._parser import parser
from agentkit._cli._specs import load_all, load_tools
from agentkit.errors import AgentkitError
from agentkit.events import FinalEvent

__all__ = ["load_tools", "main"]


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.error(record.getMessage())
        except Exception:  # a log line must never end the command
            self.handleError(record)


@contextmanager
def _logging(console: Console, verbose: bool) -> Iterator[None]:
    """Show agentkit's log lines on stderr for the command's duration (warnings; all with -v)."""
    logger = logging.getLogger("agentkit")
    handler = _ConsoleHandler(console)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    quiet = logging.getLogger("agentkit.models.transformers")  # the progress line says it
    before = (logger.level, quiet.level)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    quiet.setLevel(logging.INFO if verbose else logging.ERROR)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        quiet.setLevel(before[1])


def _prepare_libraries(args: argparse.Namespace) -> None:
    """Import what the model needs before any module of the current directory can be found."""
    if args.base_url:
        import httpx  # noqa: F401
    elif uses_local_model(args):
        quiet_libraries()
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            pass  # build_model says what to install


def _prompt(args: argparse.Namespace) -> str:
    if args.prompt != "-":
        return str(args.prompt)
    text = sys.stdin.read()
    if not text.strip():
        raise CommandError("the prompt read from standard input is empty")
    return text


async def _run(agent: Agent[Any], prompt: str, as_json: bool, console: Console) -> int:
    streamer = StepStreamer(console, indent="")
    async for event in agent.stream(prompt):
        if not as_json:
            streamer.feed(event)
        elif isinstance(event, FinalEvent):
            console.line(result_json(event.result))
    return 0


def _agent(args: argparse.Namespace, console: Console) -> Agent[Any]:
    key = api_key(args.api_key)
    if key:
        console.secrets.append(key)
    if args.max_steps < 1:
        raise CommandError("--max-steps must be 1 or more")
    check_model_spec(args)  # a wrong path is reported before seconds of imports
    _prepare_libraries(args)
    tools = load_all(args.tools)
    model = build_model(args)
    return Agent(model, tools=tools, system_prompt=args.system, max_steps=args.max_steps)


def _command(args: argparse.Namespace, console: Console) -> int:
    if args.command in ("schema", "tools"):
        console.line(_schema_json(args.specs))
        return 0
    if args.command == "pull":
        from agentkit._pull import run_pull

        return run_pull(args)
    if args.command == "serve":
        from agentkit._serve_cli import run_serve

        return run_serve(args)
    if args.command == "mcp":
        from agentkit._mcp_cli import run_mcp

        return run_mcp(args)
    agent = _agent(args, console)
    if args.command == "chat":
        return ChatSession(agent, console).loop()
    prompt = _prompt(args)
    try:
        return asyncio.run(_run(agent, prompt, args.json, console))
    except AgentkitError as exc:
        console.error(f"{type(exc).__name__}: {exc}")
        return 1


def _schema_json(specs: list[str]) -> str:
    import json

    return json.dumps(Toolbox(load_all(specs)).schemas(), indent=2, ensure_ascii=False)


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status (2 for a usage mistake, 1 for a failed run).

    Example:
        >>> main(["schema", "calculator"])  # doctest: +ELLIPSIS
        [
          {
            "type": "function",
        ...
        0
    """
    safe_streams()
    console = Console()
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with _logging(console, getattr(args, "verbose", False)):
            return _command(args, console)
    except CommandError as exc:
        console.error(str(exc))
        return exc.status
    except AgentkitError as exc:
        console.error(f"{type(exc).__name__}: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1


if __name__ == "__main__":
    sys.exit(main())
