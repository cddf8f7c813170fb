"""Persistent notes in a SQLite file: add, search, list and delete.

    from agentkit_tools.notes import notes_tools
    agent = Agent(model, tools=notes_tools("~/.local/share/my-agent/notes.db"))

Searches use SQLite's full-text index (FTS5) where the library has it, and a `LIKE` scan
otherwise; either way the words of a query are matched as plain words (no query syntax reaches
SQLite) and every value travels as a bound parameter. The database runs in WAL mode with a busy
timeout, so several agents or processes can write to one file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from agentkit import Toolbox
from agentkit.errors import UsageError

from ._errors import ToolError

__all__ = ["default_path", "default_toolbox", "notes_tools"]

MAX_NOTE_CHARS = 10_000
MAX_RESULTS = 50
_WORD = re.compile(r"\w+")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created TEXT NOT NULL
);
"""
_FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS notes_fts USING fts5(text, content='notes', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS notes_ai AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS notes_ad AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts(notes_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


class _Store:
    """One notes database; each operation opens its own connection (tools run in threads)."""

    def __init__(self, path: Path, max_notes: int, timeout: float) -> None:
        self.path = path
        self.max_notes = max_notes
        self.timeout = timeout
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            indexed = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes_fts'").fetchone()
            try:
                db.executescript(_FTS_SCHEMA)
                self.fts = True
                if not indexed:  # notes written before the index existed
                    db.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")
            except sqlite3.OperationalError:  # SQLite built without FTS5
                self.fts = False

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a transaction, committed on success and always closed."""
        with closing(sqlite3.connect(self.path, timeout=self.timeout)) as db, db:
            yield db

    def add(self, text: str) -> int:
        created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the count and the insert see the same table
            (count,) = db.execute("SELECT count(*) FROM notes").fetchone()
            if count >= self.max_notes:
                raise ToolError(f"the notebook is full ({self.max_notes} notes): delete some")
            cursor = db.execute("INSERT INTO notes (text, created) VALUES (?, ?)", (text, created))
            return int(cursor.lastrowid or 0)

    def search(self, words: list[str], limit: int) -> list[dict[str, Any]]:
        with self.connect() as db:
            if self.fts:
                query = " ".join('"' + word.replace('"', '""') + '"' for word in words)
                rows = db.execute(
                    "SELECT n.id, n.text, n.created FROM notes_fts JOIN notes n"
                    " ON n.id = notes_fts.rowid WHERE notes_fts MATCH ? ORDER BY rank LIMIT ?",
                    (query, limit),
                ).fetchall()
            else:
                condition = " AND ".join(["text LIKE ? ESCAPE '\\'"] * len(words))
                patterns = [f"%{_escape_like(word)}%" for word in words]
                rows = db.execute(
                    f"SELECT id, text, created FROM notes WHERE {condition}"
                    " ORDER BY id DESC LIMIT ?",
                    (*patterns, limit),
                ).fetchall()
        return [_row(row) for row in rows]

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT id, text, created FROM notes ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_row(row) for row in rows]

    def delete(self, note_id: int) -> bool:
        with self.connect() as db:
            return db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "text": row[1], "created": row[2]}


def notes_tools(
    path: str | os.PathLike[str],
    *,
    max_notes: int = 10_000,
    timeout: float = 5.0,
) -> Toolbox:
    """Tools to keep notes in the SQLite file at `path` (created if missing).

    Args:
        path: the database file; its folder must exist.
        max_notes: the most notes the file may hold; adding more is refused.
        timeout: seconds to wait for another writer to finish.

    Returns:
        A `Toolbox` with `add_note`, `search_notes`, `list_notes` and `delete_note`.

    Raises:
        UsageError: the database cannot be opened or created there.
    """
    file = Path(path).expanduser()
    try:
        store = _Store(file, max_notes, timeout)
    except sqlite3.Error as exc:
        raise UsageError(f"notes_tools: cannot open {str(file)!r}: {exc}") from None
    box = Toolbox()

    @box.tool
    def add_note(text: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)]) -> int:
        """Save a note; returns its id.

        Args:
            text: the note.
        """
        if not text.strip() or len(text) > MAX_NOTE_CHARS:
            raise ToolError(f"a note must be 1 to {MAX_NOTE_CHARS} characters")
        return store.add(text)

    @box.tool
    def search_notes(
        query: Annotated[str, Field(min_length=1, max_length=200)],
        limit: Annotated[int, Field(ge=1, le=MAX_RESULTS)] = 10,
    ) -> list[dict[str, Any]]:
        """Find notes containing all the words of a query, best matches first.

        Args:
            query: words to look for.
            limit: the most notes to return.
        """
        words = _WORD.findall(query)[:20]
        if not words:
            raise ToolError("the query has no words to look for")
        return store.search(words, min(limit, MAX_RESULTS))

    @box.tool
    def list_notes(limit: Annotated[int, Field(ge=1, le=MAX_RESULTS)] = 10) -> list[dict[str, Any]]:
        """The most recent notes, newest first.

        Args:
            limit: the most notes to return.
        """
        return store.recent(min(limit, MAX_RESULTS))

    @box.tool
    def delete_note(note_id: int) -> str:
        """Delete a note by its id.

        Args:
            note_id: the id that add_note, search_notes or list_notes gave.
        """
        if not store.delete(note_id):
            raise ToolError(f"there is no note {note_id}")
        return f"deleted note {note_id}"

    return box


def default_path() -> Path:
    """`$AGENTKIT_NOTES`, else `~/.local/share/agentkit/notes.db`."""
    configured = os.environ.get("AGENTKIT_NOTES")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "share" / "agentkit" / "notes.db"


def default_toolbox() -> Toolbox:
    """Notes in `default_path()` (what `--tools notes` gives); its folder is created."""
    path = default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return notes_tools(path)
