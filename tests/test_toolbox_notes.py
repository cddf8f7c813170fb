"""tools/notes.py: persistent notes on SQLite, injection-proof, safe for concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentkit import Toolbox
from agentkit.errors import AgentkitError, UsageError
from tools import notes
from tools.notes import notes_tools


def call(box: Toolbox, name: str, **arguments: Any) -> Any:
    return box[name](**box[name].validate(arguments))


def ids(found: list[dict[str, Any]]) -> list[int]:
    return [note["id"] for note in found]


@pytest.fixture
def box(tmp_path: Path) -> Toolbox:
    return notes_tools(tmp_path / "notes.db")


def test_add_search_list_delete(box: Toolbox, tmp_path: Path) -> None:
    first = call(box, "add_note", text="Call Alice about the budget")
    second = call(box, "add_note", text="alice likes 100% cotton_shirts")
    assert (first, second) == (1, 2)
    assert ids(call(box, "search_notes", query="alice")) == [1, 2] or ids(
        call(box, "search_notes", query="alice")
    ) == [2, 1]
    assert ids(call(box, "search_notes", query="budget Alice")) == [1]
    assert ids(call(box, "list_notes", limit=1)) == [2]
    assert call(box, "delete_note", note_id=1) == "deleted note 1"
    with pytest.raises(AgentkitError, match="there is no note 1"):
        call(box, "delete_note", note_id=1)
    assert ids(call(box, "search_notes", query="budget")) == []
    again = notes_tools(tmp_path / "notes.db")  # persistent
    assert ids(call(again, "list_notes")) == [2]


@pytest.mark.parametrize(
    "text",
    [
        "Robert'); DROP TABLE notes; --",
        "x' OR '1'='1",
        '"; DELETE FROM notes; --',
    ],
)
def test_sql_injection_is_stored_as_text(box: Toolbox, text: str, tmp_path: Path) -> None:
    call(box, "add_note", text="keep me")
    note = call(box, "add_note", text=text)
    assert call(box, "list_notes")[0] == {**call(box, "list_notes")[0], "id": note, "text": text}
    assert len(call(box, "list_notes")) == 2
    with sqlite3.connect(tmp_path / "notes.db") as db:
        assert db.execute("SELECT count(*) FROM notes").fetchone() == (2,)


@pytest.mark.parametrize(
    "query", ['"', "NEAR(alice", "text:alice", "alice*", "a OR b", "-alice", "'; DROP TABLE notes"]
)
def test_query_syntax_never_reaches_sqlite(box: Toolbox, query: str) -> None:
    call(box, "add_note", text="alice and bob")
    try:
        call(box, "search_notes", query=query)
    except AgentkitError as exc:
        assert "no words" in str(exc)
    assert len(call(box, "list_notes")) == 1


def test_like_wildcards_are_literal_without_fts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notes, "_FTS_SCHEMA", "CREATE VIRTUAL TABLE x USING no_such_module(a);")
    box = notes_tools(tmp_path / "plain.db")
    call(box, "add_note", text="100% sure")
    call(box, "add_note", text="1000 things")
    call(box, "add_note", text="snake_case name")
    call(box, "add_note", text="snakeXcase name")
    assert ids(call(box, "search_notes", query="100%")) == [2, 1]  # words: "100"
    assert ids(call(box, "search_notes", query="snake_case")) == [3]
    assert ids(call(box, "search_notes", query="SURE")) == [1]


def test_fts_index_is_rebuilt_for_notes_written_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(notes, "_FTS_SCHEMA", "CREATE VIRTUAL TABLE x USING no_such_module(a);")
        call(notes_tools(tmp_path / "n.db"), "add_note", text="written before the index")
    assert ids(call(notes_tools(tmp_path / "n.db"), "search_notes", query="index")) == [1]


def test_bounds(tmp_path: Path) -> None:
    box = notes_tools(tmp_path / "n.db", max_notes=2)
    with pytest.raises(ValueError, match="at most 10000"):
        box["add_note"].validate({"text": "x" * 10_001})
    with pytest.raises(AgentkitError, match="1 to 10000"):
        box["add_note"]("   ")
    call(box, "add_note", text="one")
    call(box, "add_note", text="two")
    with pytest.raises(AgentkitError, match="full"):
        call(box, "add_note", text="three")
    with pytest.raises(ValueError, match="less than or equal to 50"):
        box["list_notes"].validate({"limit": 10**6})


def test_wal_and_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    boxes = [notes_tools(path), notes_tools(path)]
    errors: list[BaseException] = []

    def write(box: Toolbox, worker: int) -> None:
        try:
            for n in range(25):
                call(box, "add_note", text=f"worker {worker} note {n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(boxes[i % 2], i)) for i in range(4)]
    for thread in threads:
        thread.start()
    script = (
        "import sys; from tools.notes import notes_tools\n"
        "box = notes_tools(sys.argv[1])\n"
        "for n in range(25): box['add_note']('process note %d' % n)\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for thread in threads:
        thread.join(timeout=60)
    assert other.returncode == 0, other.stderr
    assert not errors
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM notes").fetchone() == (125,)
    assert len(call(boxes[0], "search_notes", query="process", limit=50)) == 25


def test_an_unusable_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot open"):
        notes_tools(tmp_path / "missing-folder" / "notes.db")
