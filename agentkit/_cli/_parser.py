"""The command line's options, help and examples."""

from __future__ import annotations

import argparse

from agentkit._cli._models import KEY_VARIABLES
from agentkit._cli._specs import READY_MADE

__all__ = ["parser"]

DESCRIPTION = "Run agents with tools from the shell, on a local model or a server."
EXAMPLES = f"""\
examples:
  agentkit run "What is 17 * 23?" --tools calculator
  agentkit chat --tools calculator clock units
  agentkit chat --tools files web --system "You answer from the files here."
  agentkit run "Hi" --model path/to/model --gguf-file model.gguf
  agentkit run "Hi" --base-url http://localhost:8000/v1 --model qwen2.5-7b --json
  agentkit schema calculator path/to/my_tools.py mypackage.tools:toolbox
  agentkit serve mypackage.agents:support_agent --port 8080
  python -m agentkit ...            (the same command)

tools: {", ".join(READY_MADE)} (ready-made), a module (its `toolbox` or every tool in
  it), a file path/to/my_tools.py, or either followed by :name (a Tool, a Toolbox or a list).
models: 'default' (the embedded SmolLM2-135M-Instruct, local), a model directory or hub id,
  or with --base-url the model name an OpenAI-compatible server knows.
exit status: 0 done, 1 the run failed, 2 a mistake on the command line, 130 interrupted.
"""


def _model_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("agent")
    group.add_argument(
        "--tools",
        nargs="+",
        action="extend",
        default=[],
        metavar="TOOLS",
        help=f"tools to offer: {', '.join(READY_MADE)}, a module, a .py file, or MODULE:NAME",
    )
    group.add_argument("--system", metavar="TEXT", help="the system prompt")
    group.add_argument("--max-steps", type=int, default=10, help="model turns per run (10)")
    models = common.add_argument_group("model")
    models.add_argument(
        "--model",
        metavar="MODEL",
        help="'default' (the embedded local model), a model directory or hub id, "
        "scripted:replies.json, MODULE:NAME, or a server's model name with --base-url",
    )
    models.add_argument("--gguf-file", metavar="FILE", help="a GGUF file in the --model folder")
    models.add_argument("--max-new-tokens", type=int, default=256, help="local models (256)")
    models.add_argument(
        "--base-url", metavar="URL", help="an OpenAI-compatible server, e.g. http://host:8000/v1"
    )
    models.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"the server's key (better: set {' or '.join(KEY_VARIABLES)}); never printed",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return common


def parser() -> argparse.ArgumentParser:
    """The `agentkit` argument parser."""
    formatter = argparse.RawDescriptionHelpFormatter
    root = argparse.ArgumentParser(
        prog="agentkit", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=formatter
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _model_options()
    run = commands.add_parser(
        "run",
        parents=[common],
        help="answer one prompt, showing each call and result",
        description="Answer one prompt; each call and result is shown, then the answer.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    run.add_argument("prompt", help="the prompt ('-' reads it from standard input)")
    run.add_argument("--json", action="store_true", help="print the whole RunResult as JSON")
    commands.add_parser(
        "chat",
        parents=[common],
        help="talk with an agent: /reset, /tools, /exit; Ctrl-C stops an answer",
        description="An interactive session that keeps the conversation. Commands: /reset "
        "(forget it), /tools (list the tools), /help, /exit (or Ctrl-D). Ctrl-C stops the "
        "current answer.",
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    for name, aliases in (("schema", ["tools"]),):
        schema = commands.add_parser(
            name,
            aliases=aliases,
            help="print the JSON function list of some tools",
            description="Print the JSON function list (what a model sees) of some tools.",
            epilog=EXAMPLES,
            formatter_class=formatter,
        )
        schema.add_argument("specs", nargs="+", metavar="TOOLS")
    from agentkit._mcp_cli import add_mcp_parser
    from agentkit._pull import add_pull_parser
    from agentkit._serve_cli import add_serve_parser

    add_serve_parser(commands)
    add_pull_parser(commands)
    add_mcp_parser(commands)
    return root
