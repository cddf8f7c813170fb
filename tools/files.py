"""Files under one root directory: list, read, search and (only when allowed) write.

    from agentkit_tools.files import file_tools
    agent = Agent(model, tools=file_tools("notes/", writable=True))

Every path is relative to the root and is resolved (links followed) before it is used; a path
that ends up outside the root (through `..`, an absolute path or a link pointing out) is refused.
Reads, writes, listings and searches are bounded; writes are atomic (a temporary file in the same
directory, then `os.replace`), so a reader never sees half a file.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from agentkit import Toolbox
from agentkit.errors import UsageError

from ._errors import ToolError

__all__ = ["FileLimits", "default_toolbox", "file_tools"]


@dataclass(frozen=True)
class FileLimits:
    """Bounds on what the file tools read, write, list and search.

    Attributes:
        max_read_bytes: the most bytes one read returns.
        max_write_bytes: the largest file one write may create.
        max_entries: the most entries one listing returns.
        max_matches: the most lines one search returns.
        max_files_searched: the most files one search opens.
        max_line_chars: matched lines are cut to this length.
    """

    max_read_bytes: int = 256 * 1024
    max_write_bytes: int = 1024 * 1024
    max_entries: int = 500
    max_matches: int = 100
    max_files_searched: int = 2000
    max_line_chars: int = 300


class _Root:
    """The confinement: turns a path given by the model into a checked path under the root."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise UsageError(f"file_tools: {str(path)!r} is not a directory")
        self.path = path.resolve(strict=True)

    def resolve(self, relative: str) -> Path:
        """The real path of `relative` under the root; a `ToolError` if it would leave it."""
        if "\x00" in relative:
            raise ToolError("a path cannot contain a NUL character")
        given = Path(relative)
        if given.is_absolute() or given.drive:
            raise ToolError(f"{relative!r} is absolute: give a path relative to the root")
        candidate = self.path / given
        real = candidate.resolve(strict=False)
        if not real.is_relative_to(self.path):
            why = "a link that leads" if _has_link(self.path, given) else "a path"
            raise ToolError(f"{relative!r} is {why} outside the root")
        return real

    def relative(self, real: Path) -> str:
        return real.relative_to(self.path).as_posix() or "."


def _has_link(root: Path, given: Path) -> bool:
    current = root
    for part in given.parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


def _open_regular(path: Path, shown: str, limits: FileLimits) -> bytes:
    """The first bytes of a regular file (never a FIFO or device, never through a late link)."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            raise ToolError(f"{shown!r} is not a regular file")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ToolError(f"there is no file {shown!r}") from None
    except OSError as exc:
        raise ToolError(f"cannot open {shown!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the check above
            raise ToolError(f"{shown!r} is not a regular file")
        return handle.read(limits.max_read_bytes + 1)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ToolError("a binary file, not text")
    return data.decode("utf-8", errors="replace")


def _walk(start: Path, root: _Root, pattern: str, limits: FileLimits) -> list[Path]:
    """Files under `start` whose names match `pattern`: hidden folders and links out skipped.

    At most `max_files_searched` files are returned, and ten times as many names looked at.
    """
    found: list[Path] = []
    budget = 10 * limits.max_files_searched
    for directory, dirs, files in os.walk(start, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        budget -= len(dirs) + len(files)
        for name in sorted(files):
            if not fnmatch.fnmatch(name, pattern):
                continue
            real = Path(directory, name).resolve()
            if real.is_relative_to(root.path) and real.is_file():
                found.append(real)
            if len(found) >= limits.max_files_searched:
                return found
        if budget <= 0:
            break
    return found


def _atomic_write(target: Path, data: bytes) -> None:
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)  # replaces a link itself, never what it points to
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _listing(folder: Path, pattern: str, limits: FileLimits) -> list[str]:
    entries = []
    for entry in sorted(folder.iterdir()):
        if not fnmatch.fnmatch(entry.name, pattern):
            continue
        if len(entries) >= limits.max_entries:
            entries.append(f"... (more than {limits.max_entries} entries)")
            break
        entries.append(entry.name + ("/" if entry.is_dir() else ""))
    return entries


def _grep(
    files: list[Path], root: _Root, text: str, ignore_case: bool, limits: FileLimits
) -> list[str]:
    needle = text.casefold() if ignore_case else text
    matches: list[str] = []
    for file in files:
        try:
            data = _open_regular(file, root.relative(file), limits)
            content = _decode(data[: limits.max_read_bytes])
        except ToolError:
            continue  # binary or unreadable: not a text match
        for number, line in enumerate(content.splitlines(), 1):
            if needle in (line.casefold() if ignore_case else line):
                shown = line.strip()[: limits.max_line_chars]
                matches.append(f"{root.relative(file)}:{number}: {shown}")
                if len(matches) >= limits.max_matches:
                    return [*matches, f"... (stopped at {limits.max_matches} matches)"]
    return matches


def _reading_tools(box: Toolbox, root: _Root, limits: FileLimits) -> None:
    @box.tool
    def list_files(path: str = ".", pattern: str = "*") -> list[str]:
        """List the files and folders in a folder (folders end with "/").

        Args:
            path: a folder, relative to the root ("." is the root itself).
            pattern: a shell-style filter on names, e.g. "*.md".
        """
        folder = root.resolve(path)
        if not folder.is_dir():
            raise ToolError(f"{path!r} is not a folder")
        return _listing(folder, pattern, limits)

    @box.tool
    def read_file(path: str) -> str:
        """Read a text file (long files are cut, with a note saying so).

        Args:
            path: the file, relative to the root.
        """
        data = _open_regular(root.resolve(path), path, limits)
        text = _decode(data[: limits.max_read_bytes])
        if len(data) > limits.max_read_bytes:
            text += f"\n[... cut: the file is longer than {limits.max_read_bytes} bytes]"
        return text

    @box.tool
    def search_files(
        text: Annotated[str, Field(min_length=1, max_length=200)],
        path: str = ".",
        pattern: str = "*",
        ignore_case: bool = True,
    ) -> list[str]:
        """Find lines containing some text, like grep; each match is "file:line: text".

        Args:
            text: the text to look for (plain text, not a regular expression).
            path: the folder to search in, relative to the root.
            pattern: a shell-style filter on file names, e.g. "*.py".
            ignore_case: match regardless of case.
        """
        start = root.resolve(path)
        files = [start] if start.is_file() else _walk(start, root, pattern, limits)
        return _grep(files, root, text, ignore_case, limits)


def _writing_tools(box: Toolbox, root: _Root, limits: FileLimits) -> None:
    @box.tool
    def write_file(path: str, content: str) -> str:
        """Create or replace a text file (its folders are created as needed).

        Args:
            path: the file, relative to the root.
            content: the whole new text of the file.
        """
        data = content.encode("utf-8")
        if len(data) > limits.max_write_bytes:
            raise ToolError(f"the content is larger than {limits.max_write_bytes} bytes")
        target = root.resolve(path)
        if target == root.path or target.is_dir():
            raise ToolError(f"{path!r} is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(root.path):  # a folder swapped for a link
            raise ToolError(f"{path!r} leads outside the root")
        _atomic_write(target, data)
        return f"wrote {len(data)} bytes to {root.relative(target)}"


def file_tools(
    root: str | os.PathLike[str],
    *,
    writable: bool = False,
    limits: FileLimits | None = None,
) -> Toolbox:
    """Tools to list, read, search and, if `writable`, write files confined to `root`.

    Args:
        root: the directory the tools may see; nothing outside it is reachable.
        writable: add `write_file` (atomic writes, bounded size).
        limits: size and count bounds (`FileLimits()` by default).

    Returns:
        A `Toolbox` with `list_files`, `read_file`, `search_files` and maybe `write_file`.

    Raises:
        UsageError: `root` is not a directory.
    """
    confined = _Root(root)
    bounds = limits or FileLimits()
    box = Toolbox()
    _reading_tools(box, confined, bounds)
    if writable:
        _writing_tools(box, confined, bounds)
    return box


def default_toolbox() -> Toolbox:
    """Read-only file tools on the current directory (what `--tools files` gives)."""
    return file_tools(Path.cwd())
