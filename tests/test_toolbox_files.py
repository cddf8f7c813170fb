"""tools/files.py: files confined to a root, and every way out of it refused."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agentkit import Toolbox
from agentkit.errors import AgentkitError, UsageError
from tools.files import FileLimits, file_tools


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    (base / "docs").mkdir(parents=True)
    (base / "docs" / "a.md").write_text("# Title\nalpha line\nBeta line\n")
    (base / "notes.txt").write_text("gamma\nALPHA again\n")
    (base / "blob.bin").write_bytes(b"\x00\x01alpha\x02")
    (tmp_path / "secret.txt").write_text("the secret alpha\n")
    return base


def call(box: Toolbox, name: str, **arguments: object) -> object:
    return box[name](**box[name].validate(arguments))


def test_list_read_and_search(root: Path) -> None:
    box = file_tools(root)
    assert box.names == ["list_files", "read_file", "search_files"]
    assert call(box, "list_files") == ["blob.bin", "docs/", "notes.txt"]
    assert call(box, "list_files", path="docs", pattern="*.md") == ["a.md"]
    assert call(box, "read_file", path="docs/a.md") == "# Title\nalpha line\nBeta line\n"
    assert call(box, "search_files", text="alpha") == [  # a folder's files, then its folders
        "notes.txt:2: ALPHA again",
        "docs/a.md:2: alpha line",
    ]
    assert call(box, "search_files", text="alpha", ignore_case=False) == ["docs/a.md:2: alpha line"]
    assert call(box, "search_files", text="line", pattern="*.txt") == []


def test_write_is_only_there_when_writable_and_is_atomic(root: Path) -> None:
    box = file_tools(root, writable=True)
    assert "write_file" in box
    assert call(box, "write_file", path="new/deep/file.txt", content="héllo") == (
        "wrote 6 bytes to new/deep/file.txt"
    )
    assert (root / "new" / "deep" / "file.txt").read_text() == "héllo"
    assert not [p for p in (root / "new" / "deep").iterdir() if p.name.endswith(".tmp")]
    (root / "notes.txt").chmod(0o640)
    call(box, "write_file", path="notes.txt", content="replaced")
    assert (root / "notes.txt").read_text() == "replaced"
    assert (root / "notes.txt").stat().st_mode & 0o777 == 0o640  # the mode is kept


def test_readers_never_see_half_a_file(root: Path) -> None:
    box = file_tools(root, writable=True)
    first, second = "a" * 200_000, "b" * 200_000
    call(box, "write_file", path="big.txt", content=first)
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add((root / "big.txt").read_text()[:1] + str(len((root / "big.txt").read_text())))

    reader = threading.Thread(target=read)
    reader.start()
    for content in (second, first) * 10:
        call(box, "write_file", path="big.txt", content=content)
    stop.set()
    reader.join(timeout=10)
    assert seen <= {"a200000", "b200000"}


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "docs/../../secret.txt",
        "docs/../../root/../secret.txt",
        "/etc/passwd",
        "//etc/passwd",
        "docs/\x00.md",
    ],
)
def test_paths_out_of_the_root_are_refused(root: Path, path: str) -> None:
    box = file_tools(root, writable=True)
    for name, arguments in [
        ("read_file", {"path": path}),
        ("list_files", {"path": path}),
        ("search_files", {"text": "secret", "path": path}),
        ("write_file", {"path": path, "content": "x"}),
    ]:
        with pytest.raises(AgentkitError, match=r"outside the root|absolute|NUL"):
            call(box, name, **arguments)
    assert (root.parent / "secret.txt").read_text() == "the secret alpha\n"


def test_links_pointing_out_are_refused_and_links_inside_work(root: Path) -> None:
    (root / "out").symlink_to(root.parent / "secret.txt")
    (root / "outdir").symlink_to(root.parent)
    (root / "inside").symlink_to(root / "notes.txt")
    box = file_tools(root, writable=True)
    with pytest.raises(AgentkitError, match="link that leads outside the root"):
        call(box, "read_file", path="out")
    with pytest.raises(AgentkitError, match="link that leads outside the root"):
        call(box, "read_file", path="outdir/secret.txt")
    with pytest.raises(AgentkitError, match="outside the root"):
        call(box, "write_file", path="out", content="overwritten")
    with pytest.raises(AgentkitError, match="outside the root"):
        call(box, "write_file", path="outdir/evil.txt", content="x")
    assert call(box, "read_file", path="inside") == "gamma\nALPHA again\n"
    found = call(box, "search_files", text="secret")
    assert found == []  # the link out is skipped, not followed
    assert (root.parent / "secret.txt").read_text() == "the secret alpha\n"
    assert not (root.parent / "evil.txt").exists()


def test_a_fifo_or_a_folder_is_not_read(root: Path) -> None:
    os.mkfifo(root / "pipe")  # opening it for reading would block forever
    box = file_tools(root)
    with pytest.raises(AgentkitError, match="not a regular file"):
        call(box, "read_file", path="pipe")
    with pytest.raises(AgentkitError, match="not a regular file"):
        call(box, "read_file", path="docs")
    assert call(box, "search_files", text="alpha") != []  # the search skips the pipe


def test_binary_files_are_refused(root: Path) -> None:
    with pytest.raises(AgentkitError, match="binary"):
        call(file_tools(root), "read_file", path="blob.bin")


def test_sizes_and_counts_are_bounded(root: Path) -> None:
    limits = FileLimits(max_read_bytes=10, max_write_bytes=20, max_entries=2, max_matches=1)
    box = file_tools(root, writable=True, limits=limits)
    assert call(box, "read_file", path="docs/a.md").startswith("# Title\nal\n[... cut")
    with pytest.raises(AgentkitError, match="larger than 20 bytes"):
        call(box, "write_file", path="x.txt", content="x" * 21)
    assert call(box, "list_files")[-1] == "... (more than 2 entries)"
    assert call(box, "search_files", text="a")[-1] == "... (stopped at 1 matches)"


def test_search_counts_and_skips_hidden_folders(root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("alpha\n")
    box = file_tools(root, limits=FileLimits(max_files_searched=2))  # blob.bin, notes.txt
    assert call(box, "search_files", text="alpha") == ["notes.txt:2: ALPHA again"]
    assert all(".git" not in line for line in call(file_tools(root), "search_files", text="alpha"))


def test_search_text_is_plain_text_not_a_pattern(root: Path) -> None:
    (root / "regex.txt").write_text("(a+)+$ literally\n")
    assert call(file_tools(root), "search_files", text="(a+)+$") == [
        "regex.txt:1: (a+)+$ literally"
    ]


def test_a_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a directory"):
        file_tools(tmp_path / "nope")


def test_writing_onto_a_folder_is_refused(root: Path) -> None:
    box = file_tools(root, writable=True)
    for path in (".", "docs"):
        with pytest.raises(AgentkitError, match="is a folder"):
            call(box, "write_file", path=path, content="x")
