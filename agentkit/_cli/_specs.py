"""Finding the tools a command line names: ready-made short names, modules and files.

Modules in the current directory are found only for the names given to `--tools`, and only
after agentkit's own libraries are imported: the current directory is appended to `sys.path`
(never put first), so a stray `httpx.py` there can never stand in for the real library.
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from agentkit import Tool, Toolbox
from agentkit._cli._errors import CommandError

__all__ = ["READY_MADE", "append_to_path", "is_file_spec", "load_tools", "resolve_module"]

READY_MADE = ("calculator", "clock", "units", "web", "files", "notes")
_PACKAGE = "agentkit_tools"


def _is_dotted_name(text: str) -> bool:
    parts = text.split(".")
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in parts)


def is_file_spec(module: str) -> bool:
    """Whether a module spec names a file (`x.py`, or a path)."""
    return module.endswith(".py") or "/" in module or os.sep in module


def append_to_path(folder: str) -> None:
    """Make modules in `folder` importable, after every installed library."""
    resolved = os.path.abspath(folder)
    if resolved not in (os.path.abspath(p or ".") for p in sys.path):
        sys.path.append(resolved)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            hint = f" (ready-made tools: {', '.join(READY_MADE)})" if "." not in name else ""
            raise CommandError(f"cannot import {name!r}: no such module{hint}") from None
        raise CommandError(f"cannot import {name!r}: {exc}") from None
    except Exception as exc:  # the module itself failed: report it, never a traceback
        raise CommandError(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from None


def _import_file(path_text: str) -> ModuleType:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise CommandError(f"no such file: {path_text!r}")
    name = f"_agentkit_cli_{path.stem}" if path.stem.isidentifier() else "_agentkit_cli_tools"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"cannot import {path_text!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    append_to_path(str(path.parent))  # its own helper modules, after the libraries
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CommandError(f"cannot import {path_text!r}: {type(exc).__name__}: {exc}") from None
    return module


def resolve_module(module: str) -> ModuleType:
    """The module a spec's module part names.

    `calculator` (a ready-made toolbox) and `tools.calculator` (as in a checkout) both mean
    `agentkit_tools.calculator`; `path/to/file.py` is that file; anything else is imported, with
    the current directory searched after the installed libraries.
    """
    if is_file_spec(module):
        return _import_file(module)
    if module in READY_MADE:
        return _import(f"{_PACKAGE}.{module}")
    prefix, _, rest = module.partition(".")
    if prefix == "tools" and rest in READY_MADE:
        return _import(f"{_PACKAGE}.{rest}")
    if not _is_dotted_name(module):
        raise CommandError(f"not a module name or a .py file: {module!r}")
    append_to_path(os.getcwd())
    return _import(module)


def _as_tools(value: Any) -> list[Tool]:
    if isinstance(value, Tool):
        return [value]
    if isinstance(value, Toolbox):
        return list(value)
    if isinstance(value, list | tuple) and all(isinstance(v, Tool) for v in value):
        return list(value)
    return []


def _module_tools(module: ModuleType) -> list[Tool]:
    if isinstance(getattr(module, "toolbox", None), Toolbox):
        return list(module.toolbox)
    factory = getattr(module, "default_toolbox", None)
    if callable(factory):
        return _as_tools(factory())
    return [value for value in vars(module).values() if isinstance(value, Tool)]


def _split(spec: str) -> tuple[str, str]:
    """`module:attribute` into its parts (a Windows drive letter is not an attribute)."""
    module, sep, attribute = spec.rpartition(":")
    if not sep or not attribute.isidentifier() or len(module) < 2:
        return spec, ""
    return module, attribute


def load_tools(spec: str) -> list[Tool]:
    """The tools named by a spec.

    A spec is a ready-made toolbox (`calculator`, `clock`, `units`, `web`, `files`, `notes`),
    a module (its `toolbox`, its `default_toolbox()`, or every `Tool` it defines), a file
    `path/to/my_tools.py`, or any of those followed by `:attribute` (a `Tool`, a `Toolbox`
    or a list of tools).

    Raises:
        CommandError: the module, file or attribute does not exist, or holds no tools (it is a
            `ValueError` too).
    """
    module_name, attribute = _split(spec.strip())
    if not module_name:
        raise CommandError("an empty tool name")
    module = resolve_module(module_name)
    if attribute:
        if not hasattr(module, attribute):
            raise CommandError(f"{module_name!r} has no attribute {attribute!r}")
        found = _as_tools(getattr(module, attribute))
    else:
        found = _module_tools(module)
    if not found:
        raise CommandError(f"{spec!r} holds no tools")
    return found


def load_all(specs: list[str]) -> list[Tool]:
    """The tools of every spec (comma-separated lists allowed), each name once."""
    tools: dict[str, Tool] = {}
    for spec in (part for item in specs for part in item.split(",") if part.strip()):
        for found in load_tools(spec):
            if tools.setdefault(found.name, found) is not found:
                raise CommandError(f"two tools are named {found.name!r} (from {spec!r})")
    return list(tools.values())
