"""The `agentkit` command: run an agent from the shell, or print a JSON function list.

    agentkit run "What is 17 * 23?" --tools tools.calculator
    agentkit run "Hi" --model path/to/model --gguf-file model.gguf
    agentkit run "Hi" --base-url http://localhost:8000/v1 --model my-model
    agentkit tools tools.calculator tools.clock:now

Tools are named `module` (its `toolbox`, or every `Tool` it defines) or `module:attribute` (a
`Tool`, a `Toolbox`, or a list of tools). `run` prints each call, its result and the answer as
they come; `--json` prints the `RunResult` (answer, transcript, calls, usage) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from agentkit import Agent, RunResult, Tool, Toolbox
from agentkit.errors import AgentkitError
from agentkit.events import FinalEvent, RetryEvent, ToolCallEvent, ToolResultEvent
from agentkit.models import Model

__all__ = ["load_tools", "main"]


def load_tools(spec: str) -> list[Tool]:
    """The tools named by `module` or `module:attribute`.

    Raises:
        ValueError: the module or attribute does not exist, or holds no tools.
    """
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from exc
    if attribute:
        if not hasattr(module, attribute):
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}")
        found = _as_tools(getattr(module, attribute))
    elif isinstance(getattr(module, "toolbox", None), Toolbox):
        found = _as_tools(module.toolbox)
    else:
        found = [value for value in vars(module).values() if isinstance(value, Tool)]
    if not found:
        raise ValueError(f"{spec!r} holds no tools")
    return found


def _as_tools(value: Any) -> list[Tool]:
    if isinstance(value, Tool):
        return [value]
    if isinstance(value, Toolbox):
        return list(value)
    if isinstance(value, list | tuple) and all(isinstance(v, Tool) for v in value):
        return list(value)
    return []


def _model(args: argparse.Namespace) -> Model:
    if args.base_url:
        from agentkit.models import OpenAICompatibleModel

        if not args.model:
            raise ValueError("--base-url needs --model (the server's model name)")
        return OpenAICompatibleModel(args.base_url, model=args.model, api_key=args.api_key)
    from agentkit.models import TransformersModel

    if args.model in (None, "default"):
        return TransformersModel.default(max_new_tokens=args.max_new_tokens)
    return TransformersModel(
        args.model, gguf_file=args.gguf_file, max_new_tokens=args.max_new_tokens
    )


async def _run(agent: Agent[Any], prompt: str, as_json: bool) -> int:
    async for event in agent.stream(prompt):
        if as_json:
            if isinstance(event, FinalEvent):
                print(_result_json(event.result))
            continue
        if isinstance(event, ToolCallEvent):
            print(f"call: {event.name}({json.dumps(event.arguments, ensure_ascii=False)})")
        elif isinstance(event, ToolResultEvent):
            print(f"result: {event.content if event.error is None else event.error}")
        elif isinstance(event, RetryEvent):
            print(f"retry {event.attempt}: " + "; ".join(e.message for e in event.errors))
        elif isinstance(event, FinalEvent):
            print(event.result.output)
    return 0


def _result_json(result: RunResult[Any]) -> str:
    payload = {
        "output": result.output,
        "messages": json.loads(result.messages_json()),
        "tool_calls": [
            {"name": r.name, "arguments": r.arguments, "content": r.content, "error": r.error}
            for r in result.tool_calls
        ],
        "usage": dataclasses.asdict(result.usage),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentkit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run an agent on a prompt")
    run.add_argument("prompt")
    run.add_argument("--tools", nargs="*", default=[], metavar="MODULE[:NAME]")
    run.add_argument("--model", help="a local model path or hub id ('default': the embedded one)")
    run.add_argument("--gguf-file", help="a GGUF file inside the --model directory")
    run.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://host:8000/v1")
    run.add_argument("--api-key")
    run.add_argument("--system", help="the system prompt")
    run.add_argument("--max-steps", type=int, default=10)
    run.add_argument("--max-new-tokens", type=int, default=256, help="local models, per turn")
    run.add_argument("--json", action="store_true", help="print the RunResult as JSON")
    schema = commands.add_parser("tools", help="print the JSON function list of some tools")
    schema.add_argument("specs", nargs="+", metavar="MODULE[:NAME]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status (2 for bad input, 1 for a failed run)."""
    args = _parser().parse_args(argv)
    if os.getcwd() not in sys.path:  # tools in the current directory, as `python -m` would
        sys.path.insert(0, os.getcwd())
    try:
        if args.command == "tools":
            tools = [t for spec in args.specs for t in load_tools(spec)]
            print(json.dumps(Toolbox(tools).schemas(), indent=2, ensure_ascii=False))
            return 0
        tools = [t for spec in args.tools for t in load_tools(spec)]
        agent = Agent(
            _model(args), tools=tools, system_prompt=args.system, max_steps=args.max_steps
        )
    except (ValueError, AgentkitError) as exc:
        print(f"agentkit: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(agent, args.prompt, args.json))
    except AgentkitError as exc:
        print(f"agentkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
