"""`agentkit serve MODULE_OR_FILE:ATTRIBUTE`: an agent as an OpenAI-compatible HTTP service.

The attribute is an `Agent`, or a function without arguments that returns one (called once in
each worker process). The service is `agentkit.server.create_app` run by uvicorn; on SIGTERM
or Ctrl-C it stops accepting connections and lets the runs in flight finish (up to the request
timeout), then exits 0. Mistakes (a bad target, a missing package, a bad
option) exit 2 with a one-line message.

Until the `agentkit` command registers it, `python -m agentkit._serve_cli serve ...` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from agentkit._cli._errors import CommandError
from agentkit._cli._specs import append_to_path, is_file_spec, resolve_module
from agentkit.agent import Agent
from agentkit.errors import AgentkitError

__all__ = ["add_serve_parser", "load_agent", "main", "run_serve", "worker_app"]

KEY_VARIABLE = "AGENTKIT_SERVE_API_KEY"
"""The environment variable read for the API key when `--api-key` is not given."""
STATE_KEY_VARIABLE = "AGENTKIT_SERVE_STATE_KEY"
"""The environment variable read for the state key when `--state-key-file` is not given."""
_CONFIG_VARIABLE = "AGENTKIT_SERVE_CONFIG"  # how worker processes learn what to serve
_WORKER_APP = "agentkit._serve_cli:worker_app"
_MIB = 1 << 20
_EXAMPLES = f"""\
examples:
  agentkit serve myproject.agents:support_agent
  agentkit serve path/to/agent.py:make_agent --port 8080 --workers 2
  agentkit serve myproject.agents:support_agent --api-key-file key.txt
  agentkit serve myproject.agents:support_agent --state-key-file state-key.txt

clients: base_url http://HOST:PORT/v1, model --model-name ('agentkit'), api_key the server's
  key ('--api-key', '--api-key-file' or ${KEY_VARIABLE}; none: no authorization).

approval: a paused run's state is sealed with the agent's own state_key, else the key of
  '--state-key-file' or ${STATE_KEY_VARIABLE}, else a random key shared by this command's
  workers (a state then resumes only until the server restarts). Replicas behind one load
  balancer need the same key.
"""


class ServeError(AgentkitError):
    """A mistake on the command line: reported in one line, exit status 2."""


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `serve` subcommand to an `argparse` subparsers object; return its parser."""
    serve: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve an agent as an OpenAI-compatible HTTP service",
        description="Serve an agent over the OpenAI chat-completions protocol "
        "(/v1/chat/completions, /v1/models, /health).",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "target",
        metavar="MODULE_OR_FILE:ATTRIBUTE",
        help="an Agent, or a function without arguments returning one",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    keys = serve.add_mutually_exclusive_group()
    keys.add_argument("--api-key", help=f"require this bearer token (or set ${KEY_VARIABLE})")
    keys.add_argument("--api-key-file", type=Path, help="read the bearer token from a file")
    serve.add_argument(
        "--state-key-file",
        type=Path,
        help=f"read the key sealing paused runs' states from a file (or ${STATE_KEY_VARIABLE})",
    )
    serve.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    serve.add_argument("--model-name", default="agentkit", help="the model name clients send")
    serve.add_argument("--max-concurrency", type=int, default=64, help="runs at once per worker")
    serve.add_argument("--max-body-bytes", type=int, default=_MIB, help="largest request body")
    serve.add_argument("--timeout", type=float, default=300.0, help="seconds a run may take")
    serve.add_argument(
        "--expose-tool-calls",
        action="store_true",
        help="add the calls of each run to replies (agentkit_tool_calls)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return serve


def run_serve(args: argparse.Namespace) -> int:
    """Serve until stopped; the exit status.

    0 after SIGTERM or Ctrl-C (once the runs in flight are done), 1 if the server could not
    start (the port is taken, say: uvicorn logs why), 2 for a mistake on the command line, 130
    when interrupted while loading the agent.
    """
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: with this handler
    # in place (restored after uvicorn's own) that ends the command normally, not by the signal.
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        return _serve(args)
    except ServeError as exc:
        sys.stderr.write(f"agentkit serve: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # uvicorn exits 3 when it cannot start, having logged why
        return 0 if exc.code in (0, None) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ServeError(
            "serving needs uvicorn and Starlette: pip install 'agentkit[serve]'"
        ) from None
    config = _config(args)
    _log_to_stderr(args.log_level)
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        # In-flight runs are bounded by the request timeout; a little more lets replies go out.
        "timeout_graceful_shutdown": int(config["request_timeout"]) + 5,
        "lifespan": "off",
    }
    state_key = _state_key(args)
    if args.workers == 1:
        uvicorn.run(_app(config, _api_key(args), state_key), **common)
        return 0
    _check_target(config["target"])  # workers import it: only a quick check here
    _keep_agentkit_importable()
    os.environ[_CONFIG_VARIABLE] = json.dumps(config)
    key = _api_key(args)
    if key is not None:
        os.environ[KEY_VARIABLE] = key
    # One key for all the workers (a random one if none is given): a run paused on one worker
    # resumes on any other.
    os.environ[STATE_KEY_VARIABLE] = state_key or secrets.token_urlsafe(32)
    _run_workers(uvicorn.Config(_WORKER_APP, factory=True, workers=args.workers, **common))
    return 0


def _keep_agentkit_importable() -> None:
    """Workers import agentkit by name, with this process's `sys.path`: keep its directory there.

    `python -m agentkit` takes the current directory off the path; from a checkout installed in
    development mode that is also where agentkit lives. It goes back last, after the libraries.
    """
    root = str(Path(__file__).resolve().parent.parent)
    if root not in (os.path.abspath(p or ".") for p in sys.path):
        sys.path.append(root)


def _run_workers(config: Any) -> None:
    """`uvicorn.run` with workers, but listening at once: connections wait while they start."""
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    sock.listen(config.backlog)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def worker_app() -> Any:
    """The app of one worker process (`uvicorn --factory`), configured by the parent."""
    config = json.loads(os.environ[_CONFIG_VARIABLE])
    state_key = os.environ.get(STATE_KEY_VARIABLE) or None
    return _app(config, os.environ.get(KEY_VARIABLE) or None, state_key)


def _config(args: argparse.Namespace) -> dict[str, Any]:
    checks = {
        "--port": 0 <= args.port <= 65535,
        "--workers": args.workers >= 1,
        "--max-concurrency": args.max_concurrency >= 1,
        "--max-body-bytes": args.max_body_bytes >= 1,
        "--timeout": 0 < args.timeout < float("inf"),
    }
    for option, ok in checks.items():
        if not ok:
            raise ServeError(f"{option} is out of range")
    return {
        "target": args.target,
        "model_name": args.model_name,
        "max_concurrency": args.max_concurrency,
        "max_body_bytes": args.max_body_bytes,
        "request_timeout": args.timeout,
        "expose_tool_calls": args.expose_tool_calls,
    }


def _app(config: dict[str, Any], api_key: str | None, state_key: str | None) -> Any:
    from agentkit.server import create_app

    agent = load_agent(config["target"])
    options = {k: v for k, v in config.items() if k != "target"}
    try:
        return create_app(agent, api_key=api_key, state_key=state_key, **options)
    except AgentkitError as exc:
        raise ServeError(str(exc)) from None


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from `--api-key-file`, `--api-key` or the environment (None: no authorization)."""
    key: str | None
    if args.api_key_file is not None:
        try:
            key = args.api_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServeError(f"cannot read --api-key-file: {type(exc).__name__}") from None
    else:
        key = args.api_key if args.api_key is not None else os.environ.get(KEY_VARIABLE)
    if key is not None and not key.strip():
        raise ServeError("the API key is empty")
    return key.strip() if key is not None else None


def _state_key(args: argparse.Namespace) -> str | None:
    """The key from `--state-key-file` or the environment (None: the agent's, or a random one)."""
    key: str | None
    if args.state_key_file is not None:
        try:
            key = args.state_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServeError(f"cannot read --state-key-file: {type(exc).__name__}") from None
        if not key.strip():
            raise ServeError("the state key is empty")
    else:
        key = os.environ.get(STATE_KEY_VARIABLE) or None
    return key.strip() if key is not None else None


def _log_to_stderr(level: str) -> None:
    """Show agentkit's own log lines (uvicorn configures only its own loggers)."""
    logger = logging.getLogger("agentkit")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


# -- the target ------------------------------------------------------------------------------------
def _split(target: str) -> tuple[str, str]:
    where, sep, attribute = target.rpartition(":")
    if not sep or not where or not attribute.isidentifier():
        raise ServeError(f"the target must be MODULE_OR_FILE:ATTRIBUTE, got {target!r}")
    return where, attribute


def _check_target(target: str) -> None:
    where, _ = _split(target)
    if is_file_spec(where):
        if not Path(where).is_file():
            raise ServeError(f"no such file: {where!r}")
        return
    append_to_path(os.getcwd())  # after the libraries: never a look-alike of one
    try:
        found = importlib.util.find_spec(where)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ServeError(f"cannot import {where!r}: no such module")


def load_agent(target: str) -> Agent[Any, Any]:
    """The agent a `MODULE_OR_FILE:ATTRIBUTE` target names (a factory is called).

    Raises:
        ServeError: the module or file cannot be loaded, or the attribute is not an Agent or a
            function returning one.
    """
    where, attribute = _split(target)
    try:
        module = resolve_module(where)
    except CommandError as exc:
        raise ServeError(str(exc)) from None
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ServeError(f"{where!r} has no attribute {attribute!r}") from None
    if isinstance(found, Agent):
        return found
    if not callable(found):
        raise ServeError(f"{target} is a {type(found).__name__}, not an Agent or a factory")
    try:
        made = found()
    except Exception as exc:
        raise ServeError(f"{target}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(made, Agent):
        raise ServeError(f"{target}() returned a {type(made).__name__}, not an Agent")
    return made


def main(argv: list[str] | None = None) -> int:
    """`python -m agentkit._serve_cli serve ...`: the subcommand on its own."""
    parser = argparse.ArgumentParser(prog="agentkit")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
