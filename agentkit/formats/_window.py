"""Reading text that arrives in pieces: the window of undecided text and the steps that read it.

Each step is a generator that waits (`yield`) whenever it needs text that has not arrived yet,
and returns what it read. A step that meets the end of the reply (`Window.ended`) returns
instead of waiting, so the same steps read a whole reply and a stream alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from typing import TypeVar

from agentkit.formats._json import SpanEnd

__all__ = ["Pieces", "Steps", "Window", "at_marker", "read_scalar", "read_span", "skip_space"]

_T = TypeVar("_T")
Steps = Generator[None, None, _T]

_WS = re.compile(r"\s*")
_SCALAR = re.compile(r"""[^\s,\[\]{}"']*""")


class Window:
    """The text not yet decided on; `i` is the next character to read.

    What has been read is dropped when the next piece arrives, so the window holds only what
    a step still needs to look at again.
    """

    def __init__(self) -> None:
        self.text = ""
        self.i = 0
        self.ended = False

    def add(self, piece: str) -> None:
        """Append the next piece of the reply."""
        self.text = self.text[self.i :] + piece
        self.i = 0

    def take(self, end: int) -> str:
        """Read up to `end`; return what was read."""
        piece = self.text[self.i : end]
        self.i = end
        return piece

    def unread(self, text: str) -> None:
        """Put `text` back in front, to be read again."""
        self.text = text + self.text[self.i :]
        self.i = 0


class Pieces:
    """Text collected piece by piece, with its length so far."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        """Append a piece."""
        self.parts.append(piece)
        self.size += len(piece)

    def join(self) -> str:
        """The text collected."""
        return "".join(self.parts)


def _run_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    found = pattern.match(text, pos)
    return found.end() if found else pos


def skip_space(window: Window, into: Callable[[str], None] | None = None) -> Steps[bool]:
    """Pass whitespace (handing it to `into`); True at a character, False at the end."""
    while True:
        space = window.take(_run_end(_WS, window.text, window.i))
        if into is not None and space:
            into(space)
        if window.i < len(window.text):
            return True
        if window.ended:
            return False
        yield


def read_span(window: Window) -> Steps[tuple[str, bool]]:
    """Read the bracketed value (or string) at the cursor: its text, and whether it closed."""
    end, parts = SpanEnd(), []
    while True:
        stop = end.scan(window.text, window.i)
        if stop is not None:
            parts.append(window.take(stop))
            return "".join(parts), True
        parts.append(window.take(len(window.text)))
        if window.ended:
            return "".join(parts), False
        yield


def read_scalar(window: Window, into: Pieces) -> Steps[bool]:
    """Read a number or a literal into `into`; False when there is none at the cursor."""
    read = False
    while True:
        piece = window.take(_run_end(_SCALAR, window.text, window.i))
        if piece:
            into.add(piece)
            read = True
        if window.i < len(window.text) or window.ended:
            return read
        yield


def at_marker(window: Window, marker: str) -> Steps[bool]:
    """Whether `marker` is at the cursor (waiting while the text so far is its beginning)."""
    while True:
        ahead = window.text[window.i : window.i + len(marker)]
        if ahead == marker:
            return True
        if len(ahead) == len(marker) or window.ended or not marker.startswith(ahead):
            return False
        yield
