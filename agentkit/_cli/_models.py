"""Building the model a command line names, with one progress line and no raw progress bars.

`--model` is `default` (the embedded local model), a local directory or a hub id, a scripted
model `scripted:replies.json` (a JSON list of raw completions, for tests and demos), or
`module:attribute` (a `Model`, or a function returning one). With `--base-url` it is the model
name an OpenAI-compatible server knows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from agentkit._cli._errors import CommandError
from agentkit._cli._specs import resolve_module
from agentkit.errors import AgentkitError, ModelNotAvailableError
from agentkit.models import Model, ScriptedModel

__all__ = [
    "KEY_VARIABLES",
    "api_key",
    "build_model",
    "check_model_spec",
    "quiet_libraries",
    "uses_local_model",
]

KEY_VARIABLES = ("AGENTKIT_API_KEY", "OPENAI_API_KEY")
_MODULE_ATTRIBUTE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_QUIET = {
    "TQDM_DISABLE": "1",  # transformers converts GGUF under a bare tqdm bar
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def quiet_libraries() -> None:
    """Silence the progress bars and advice of the model libraries (before they are imported)."""
    for name, value in _QUIET.items():
        os.environ.setdefault(name, value)


def api_key(given: str | None) -> str | None:
    """The API key from `--api-key` or the environment, checked without ever showing it."""
    key = (
        given
        if given is not None
        else next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)
    )
    if key is None:
        return None
    key = key.strip()
    if not key:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key) or not key.isascii():
        raise CommandError("the API key holds a line break or another odd character (not shown)")
    return key


def _progress(message: str) -> None:
    print(f"agentkit: {message}", file=sys.stderr, flush=True)


def _default_model(max_new_tokens: int) -> Model:
    from agentkit.models import _local

    cached = (_local.cache_dir() / _local.DEFAULT_NAME / "model.safetensors").is_file()
    if cached:
        _progress("loading the default model (SmolLM2-135M-Instruct)...")
    else:
        _progress("preparing the default model once (SmolLM2-135M-Instruct, about a minute)...")
    from agentkit.models import TransformersModel

    return TransformersModel.default(max_new_tokens=max_new_tokens)


def _check_local(spec: str, gguf_file: str | None) -> None:
    path = Path(spec).expanduser()
    if spec.startswith((".", "/", "~", os.sep)) and not path.exists():
        raise CommandError(f"no model at {spec!r} (give a model directory, a hub id or 'default')")
    if gguf_file and path.is_dir() and not (path / gguf_file).is_file():
        raise CommandError(f"no file {gguf_file!r} in {spec!r}")


def uses_local_model(args: argparse.Namespace) -> bool:
    """Whether the options name a local model (which needs torch and transformers)."""
    spec: str | None = args.model
    if args.base_url or (spec and spec.startswith(("scripted:", "http://", "https://"))):
        return False
    return not (spec and _MODULE_ATTRIBUTE.fullmatch(spec))


def check_model_spec(args: argparse.Namespace) -> None:
    """Refuse at once a `--model` that names a missing path (before any slow import).

    Raises:
        CommandError: the model's path or file does not exist.
    """
    spec: str | None = args.model
    if args.base_url or not spec or spec == "default":
        return
    if spec.startswith("scripted:"):
        if not Path(spec.removeprefix("scripted:")).expanduser().is_file():
            raise CommandError(f"no file of scripted replies at {spec.removeprefix('scripted:')!r}")
        return
    if not _MODULE_ATTRIBUTE.fullmatch(spec) and not spec.startswith(("http://", "https://")):
        _check_local(spec, args.gguf_file)


def _local_model(spec: str, gguf_file: str | None, max_new_tokens: int) -> Model:
    _check_local(spec, gguf_file)
    _progress(f"loading {spec}...")
    from agentkit.models import TransformersModel

    try:
        return TransformersModel(spec, gguf_file=gguf_file, max_new_tokens=max_new_tokens)
    except (OSError, ValueError) as exc:  # transformers: not found, not a model, offline...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"cannot load the model {spec!r}: {first}") from None


def _scripted(path_text: str) -> Model:
    try:
        replies = json.loads(Path(path_text).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read scripted replies from {path_text!r}: {exc}") from None
    if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
        raise CommandError(f"{path_text!r} must hold a JSON list of strings (the raw replies)")
    return ScriptedModel(replies)


def _from_module(spec: str) -> Model:
    module_name, _, attribute = spec.rpartition(":")
    value: Any = getattr(resolve_module(module_name), attribute, None)
    if value is None:
        raise CommandError(f"{module_name!r} has no attribute {attribute!r}")
    if callable(value) and not isinstance(value, Model):
        try:
            value = value()  # a function that builds the model
        except Exception as exc:
            raise CommandError(
                f"{spec!r} is not a model, and calling it failed: {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(value, Model):
        raise CommandError(f"{spec!r} is not a model (got {type(value).__name__})")
    return value


def _server_model(args: argparse.Namespace) -> Model:
    if not args.model:
        raise CommandError("--base-url needs --model (the name the server gives the model)")
    key = api_key(args.api_key)
    try:
        import httpx  # noqa: F401 - the backend's library, imported before any user module
    except ImportError:
        raise CommandError("talking to a server needs httpx: pip install httpx") from None
    from agentkit.models import OpenAICompatibleModel

    return OpenAICompatibleModel(args.base_url, model=args.model, api_key=key)


def build_model(args: argparse.Namespace) -> Model:
    """The model the options name.

    Raises:
        CommandError: the model, its file or its package is missing, or the spec is wrong.
    """
    spec: str | None = args.model
    try:
        if args.base_url:
            return _server_model(args)
        if spec and spec.startswith(("http://", "https://")):
            raise CommandError(f"for a server, give --base-url {spec} and --model NAME")
        if spec and spec.startswith("scripted:"):
            return _scripted(spec.removeprefix("scripted:"))
        if spec and _MODULE_ATTRIBUTE.fullmatch(spec):
            return _from_module(spec)
        quiet_libraries()
        if spec in (None, "default"):
            return _default_model(args.max_new_tokens)
        return _local_model(spec, args.gguf_file, args.max_new_tokens)
    except ModelNotAvailableError as exc:
        raise CommandError(str(exc)) from None
    except ImportError as exc:
        raise CommandError(
            f"local models need torch and transformers ({exc.name or exc}): "
            "pip install 'agentkit[local]'"
        ) from None
    except CommandError:
        raise
    except AgentkitError as exc:
        raise CommandError(str(exc)) from None
