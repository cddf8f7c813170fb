"""The reply scanner: one left-to-right pass over text that may arrive in pieces.

The scan is written as a generator that waits (`yield`) whenever its next decision needs text
that has not arrived yet, so a reply fed in one piece and the same reply fed in any number of
pieces take exactly the same decisions. Each character is read a bounded number of times: the
text already decided on is dropped from the window, and what is kept is at most the longest
call opener (`_MAX_OPENER`), a partial closing tag, or nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Generator
from typing import Literal, TypeVar

from agentkit.errors import UsageError
from agentkit.formats._json import SpanEnd, replace_surrogates, snippet
from agentkit.formats._reply import ParsedReply, ReplyBuilder
from agentkit.messages import ToolCall

__all__ = ["DEFAULT_MAX_REPLY_CHARS", "CallScanner", "too_long"]

DEFAULT_MAX_REPLY_CHARS = 1_000_000
"""Replies longer than this are a parse error without being scanned."""

_T = TypeVar("_T")
_Steps = Generator[None, None, _T]

# Opening marker -> closing marker (None: the calls run to the end of the reply).
_WRAPPERS: dict[str, str | None] = {
    "<tool_call>": "</tool_call>",
    "<|python_tag|>": None,
    "[TOOL_CALLS]": None,
    "<functioncall>": None,
}
_WS_RUN = 64
_S = rf"\s{{0,{_WS_RUN}}}"  # the whitespace a call opener may hold between its parts
_KEY = rf"""["']?(?:name|function|tool_name|tool|arguments|parameters|id)["']?{_S}:"""
_TYPE = rf"""["']type["']{_S}:{_S}["']function["']"""
_CALL = rf"\{{{_S}(?:{_KEY}|{_TYPE})"
# A wrapper tag, or an object whose first key is one a call has (optionally opening a list).
_OPENER = re.compile(
    "(?P<wrap>" + "|".join(re.escape(k) for k in _WRAPPERS) + rf")|(?P<array>\[{_S})?{_CALL}"
)
_MAX_OPENER = 4 * _WS_RUN + 40  # no match of _OPENER is longer
_OPENER_FIRST = re.compile(r"[\[{<]")
_OBJECT_CALL = re.compile(_CALL)
_WS = re.compile(r"\s*")
_SCALAR = re.compile(r"""[^\s,\[\]{}"']*""")
_NOT_JSON = object()


def too_long(size: int, limit: int) -> ParsedReply:
    """The parse of a reply past the size limit: one error, no calls."""
    return ParsedReply(
        text="",
        errors=[
            f"the reply is too long to parse: {size:,} characters "
            f"(the limit is {limit:,}); write a shorter reply"
        ],
    )


class _Window:
    """The text not yet decided on; `i` is the next character to read."""

    def __init__(self) -> None:
        self.text = ""
        self.i = 0
        self.ended = False

    def add(self, piece: str) -> None:
        self.text = self.text[self.i :] + piece
        self.i = 0

    def take(self, end: int) -> str:
        piece = self.text[self.i : end]
        self.i = end
        return piece

    def unread(self, text: str) -> None:
        self.text = text + self.text[self.i :]
        self.i = 0


class _Pieces:
    """Text collected piece by piece, with its length so far."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece)

    def join(self) -> str:
        return "".join(self.parts)


_ArrayEnd = tuple[Literal["closed", "open", "malformed", "cut"], int]


class CallScanner:
    """Finds the calls of a reply while it streams in.

    `feed` each piece of text as it arrives: it returns the calls that became complete with
    it. The calls announced are exactly the first calls that `ToolFormat.parse` finds in the
    text so far (same names, arguments and order): a call is announced only once no further
    text can change it, so some are announced only by `finish`. The one exception is a reply
    that grows past `max_chars`: it is then a parse error as a whole, and `finish` returns no
    calls. Amortised linear in the length of the reply, however it is split.

    Args:
        tool_names: the tools at hand (as for `ToolFormat.parse`).
        max_chars: the longest reply scanned.

    Example:
        >>> scanner = CallScanner(["add"])
        >>> scanner.feed('<tool_call>{"name": "add", "arguments": {"a"')
        []
        >>> [c.arguments for c in scanner.feed(': 1}}</tool_call><tool_call>{"na')]
        [{'a': 1}]
        >>> reply = scanner.finish()
        >>> len(reply.calls), reply.errors
        (1, ['the call is cut off (truncated): {"na'])
    """

    def __init__(
        self, tool_names: Collection[str] = (), *, max_chars: int = DEFAULT_MAX_REPLY_CHARS
    ) -> None:
        self.max_chars = max_chars
        self.size = 0
        self._reply = ReplyBuilder(tool_names)
        self._window = _Window()
        self._announced = 0
        self._result: ParsedReply | None = None
        self._steps = self._scan()
        next(self._steps)

    def feed(self, delta: str) -> list[ToolCall]:
        """Scan the next piece of the reply; return the calls it completed, in order.

        Raises:
            UsageError: after `finish`.
        """
        if self._result is not None:
            raise UsageError("this scanner has finished: start a new one for the next reply")
        self.size += len(delta)
        if not delta or self.size > self.max_chars:
            return []
        self._window.add(replace_surrogates(delta))
        self._resume()
        new = self._reply.calls[self._announced :]
        self._announced = len(self._reply.calls)
        return new

    def finish(self) -> ParsedReply:
        """The whole reply parsed: the calls already announced (same objects) and the rest."""
        if self._result is None:
            if self.size > self.max_chars:
                self._result = too_long(self.size, self.max_chars)
            else:
                self._window.ended = True
                self._resume()
                self._result = self._reply.result()
        return self._result

    def _resume(self) -> None:
        try:
            next(self._steps)
        except StopIteration:
            pass
        except RecursionError:  # not expected: every step is iterative; a parse error regardless
            self._reply.error("the reply is nested too deeply to read")
            self._steps = _done()

    # -- the scan --------------------------------------------------------------------------------
    def _scan(self) -> _Steps[None]:
        yield from self._leading_value()
        while (found := (yield from self._next_opener())) is not None:
            if found.group("wrap"):
                yield from self._wrapped(_WRAPPERS[found.group("wrap")])
            elif found.group("array"):
                yield from self._array()
            else:
                yield from self._bare_object()

    def _leading_value(self) -> _Steps[None]:
        """A reply that starts with strict JSON is that value, as a whole, then the rest."""
        window = self._window
        if not (yield from self._skip_space(self._reply.prose.append)):
            return
        if window.text[window.i] not in "[{":
            return
        text, closed = yield from self._span()
        value = _NOT_JSON
        if closed:
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                pass
        if value is _NOT_JSON:
            window.unread(text)  # scanned again, once, by the lenient rules
        elif not self._reply.add_value(value, explicit=False):
            self._reply.prose.append(text)

    def _next_opener(self) -> _Steps[re.Match[str] | None]:
        """Move the prose up to the next wrapper or call opener; None at the end of the reply."""
        window, prose = self._window, self._reply.prose
        while True:
            found = _OPENER.search(window.text, window.i)
            if found is not None:
                prose.append(window.take(found.start()))
                if found.group("wrap"):
                    window.take(found.end())
                return found
            if window.ended:
                prose.append(window.take(len(window.text)))
                return None
            # An opener may be arriving: keep the tail where one could have begun.
            tail = _OPENER_FIRST.search(window.text, max(window.i, len(window.text) - _MAX_OPENER))
            prose.append(window.take(tail.start() if tail else len(window.text)))
            yield

    def _skip_space(self, into: Callable[[str], None] | None) -> _Steps[bool]:
        """Pass whitespace; True at a character, False at the end of the reply."""
        window = self._window
        while True:
            space = window.take(_run_end(_WS, window.text, window.i))
            if into is not None and space:
                into(space)
            if window.i < len(window.text):
                return True
            if window.ended:
                return False
            yield

    def _span(self) -> _Steps[tuple[str, bool]]:
        """Read the bracketed value (or string) at the cursor: its text, and whether it closed."""
        window, end, parts = self._window, SpanEnd(), []
        while True:
            stop = end.scan(window.text, window.i)
            if stop is not None:
                parts.append(window.take(stop))
                return "".join(parts), True
            parts.append(window.take(len(window.text)))
            if window.ended:
                return "".join(parts), False
            yield

    def _bare_object(self) -> _Steps[None]:
        text, closed = yield from self._span()
        if not closed:
            self._reply.error(f"the call is cut off (truncated): {snippet(text)}")
        elif not self._reply.add_span(text, explicit=False):
            self._reply.prose.append(text)

    def _array(self) -> _Steps[None]:
        """A `[` before a call object: a list of calls if it closes as one, else its items."""
        reply, text = self._reply, _Pieces()
        text.add(self._window.take(self._window.i + 1))
        items: list[tuple[int, int]] = []
        end, cut_at = yield from self._array_items(text, items)
        whole = text.join()
        if end == "closed":
            if not reply.add_span(whole, explicit=False):
                reply.prose.append(whole)
            return
        last = 0
        for start, stop in items:  # not a list after all: each call object counts alone
            item = whole[start:stop]
            reply.prose.append(whole[last:start])
            last = stop
            if not (_OBJECT_CALL.match(item) and reply.add_span(item, explicit=False)):
                reply.prose.append(item)
        if end == "cut":
            reply.prose.append(whole[last:cut_at])
            reply.error(f"the call is cut off (truncated): {snippet(whole[cut_at:])}")
        else:
            reply.prose.append(whole[last:])

    def _array_items(self, text: _Pieces, items: list[tuple[int, int]]) -> _Steps[_ArrayEnd]:
        """Read list items up to the closing `]`, the end of the reply, or what cannot follow."""
        window = self._window
        while True:
            if not (yield from self._skip_space(text.add)):
                return "open", 0
            if window.text[window.i] == "]":
                text.add(window.take(window.i + 1))
                return "closed", 0
            start = text.size
            if window.text[window.i] in "[{\"'":
                piece, closed = yield from self._span()
                text.add(piece)
                if not closed:
                    return "cut", start
            elif not (yield from self._scalar(text)):
                return "malformed", 0
            items.append((start, text.size))
            if not (yield from self._skip_space(text.add)):
                return "open", 0
            sep = window.text[window.i]
            if sep not in ",]":
                return "malformed", 0
            text.add(window.take(window.i + 1))
            if sep == "]":
                return "closed", 0

    def _scalar(self, text: _Pieces) -> _Steps[bool]:
        """Read a number or a literal; False when there is none at the cursor."""
        window, read = self._window, False
        while True:
            piece = window.take(_run_end(_SCALAR, window.text, window.i))
            if piece:
                text.add(piece)
                read = True
            if window.i < len(window.text) or window.ended:
                return read
            yield

    def _wrapped(self, close: str | None) -> _Steps[None]:
        """Calls after a marker such as `<tool_call>`, up to its closing tag if it has one."""
        window, reply, found = self._window, self._reply, False
        while True:
            if not (yield from self._skip_space(None)):
                break
            if close is not None and (yield from self._at(close)):
                window.take(window.i + len(close))
                break
            if window.text[window.i] not in "[{":
                if found and close is None:
                    return  # prose after the calls
                yield from self._bad_block(close)
                return
            text, closed = yield from self._span()
            if not closed:
                reply.error(f"the call is cut off (truncated): {snippet(text)}")
                return
            reply.add_span(text, explicit=True)
            found = True
            if close is None and (yield from self._skip_space(None)):
                if window.text[window.i] in ",;":
                    window.take(window.i + 1)
        if not found:
            reply.error("an empty call block: write the call inside it")

    def _at(self, marker: str) -> _Steps[bool]:
        """Whether `marker` is at the cursor (waiting while the text so far is its beginning)."""
        window = self._window
        while True:
            ahead = window.text[window.i : window.i + len(marker)]
            if ahead == marker:
                return True
            if len(ahead) == len(marker) or window.ended or not marker.startswith(ahead):
                return False
            yield

    def _bad_block(self, close: str | None) -> _Steps[None]:
        """A call block that does not hold JSON: one error, and on after its closing tag."""
        window, junk = self._window, []
        while True:
            at = window.text.find(close, window.i) if close else -1
            if at >= 0:
                junk.append(window.take(at))
                window.take(at + len(close or ""))
                break
            if window.ended:
                junk.append(window.take(len(window.text)))
                break
            keep = len(window.text) - len(close or "") + 1  # a closing tag may be arriving
            junk.append(window.take(max(window.i, keep)))
            yield
        self._reply.error(f"the call is not valid JSON: {snippet(''.join(junk))}")


def _run_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a run of `pattern` (which may match empty) starting at `pos` ends."""
    found = pattern.match(text, pos)
    return found.end() if found else pos


def _done() -> _Steps[None]:
    return
    yield
