"""The reply scanner: one left-to-right pass over text that may arrive in pieces.

The scan is a generator that waits (`yield`) whenever its next decision needs text that has not
arrived yet, so a reply fed in one piece and the same reply fed in any number of pieces take
exactly the same decisions. Each character is read a bounded number of times: text already
decided on leaves the window, and what stays is at most the longest call opener
(`MAX_OPENER`), a partial closing tag, or nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Literal

from agentkit.errors import UsageError
from agentkit.formats._json import replace_surrogates, snippet
from agentkit.formats._reply import (
    MAX_OPENER,
    OPENER,
    WRAPPERS,
    ListItem,
    ParsedReply,
    ReplyBuilder,
)
from agentkit.formats._window import (
    Pieces,
    Steps,
    Window,
    at_marker,
    read_scalar,
    read_span,
    skip_space,
)
from agentkit.messages import ToolCall

__all__ = ["DEFAULT_MAX_REPLY_CHARS", "CallScanner", "too_long"]

DEFAULT_MAX_REPLY_CHARS = 1_000_000
"""Replies longer than this are a parse error without being scanned."""

_OPENER_FIRST = re.compile(r"[\[{<]")
_NOT_JSON = object()
_ListEnd = Literal["closed", "open", "malformed", "cut"]


def too_long(size: int, limit: int) -> ParsedReply:
    """The parse of a reply past the size limit: one error, no calls."""
    return ParsedReply(
        text="",
        errors=[
            f"the reply is too long to parse: {size:,} characters "
            f"(the limit is {limit:,}); write a shorter reply"
        ],
    )


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
        self._window = Window()
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
    def _scan(self) -> Steps[None]:
        yield from self._leading_value()
        while (found := (yield from self._next_opener())) is not None:
            if found.group("wrap"):
                yield from self._wrapped(WRAPPERS[found.group("wrap")])
            elif found.group("array"):
                yield from self._list()
            else:
                yield from self._bare_object()

    def _leading_value(self) -> Steps[None]:
        """A reply that starts with strict JSON is that value, as a whole, then the rest.

        A value that starts like a call is left to the scan, which reads it the same way.
        """
        window = self._window
        if not (yield from skip_space(window, self._reply.prose.append)):
            return
        if window.text[window.i] not in "[{":
            return
        while not OPENER.match(window.text, window.i):
            if len(window.text) - window.i >= MAX_OPENER or window.ended:
                break
            yield
        else:
            return
        text, closed = yield from read_span(window)
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

    def _next_opener(self) -> Steps[re.Match[str] | None]:
        """Move the prose up to the next wrapper or call opener; None at the end of the reply."""
        window, prose = self._window, self._reply.prose
        while True:
            found = OPENER.search(window.text, window.i)
            if found is not None:
                prose.append(window.take(found.start()))
                if found.group("wrap"):
                    window.take(found.end())
                return found
            if window.ended:
                prose.append(window.take(len(window.text)))
                return None
            # An opener may be arriving: keep the tail where one could have begun.
            tail = _OPENER_FIRST.search(window.text, max(window.i, len(window.text) - MAX_OPENER))
            prose.append(window.take(tail.start() if tail else len(window.text)))
            yield

    def _bare_object(self) -> Steps[None]:
        text, closed = yield from read_span(self._window)
        if not closed:
            self._reply.error(f"the call is cut off (truncated): {snippet(text)}")
        elif not self._reply.add_span(text, explicit=False):
            self._reply.prose.append(text)

    def _list(self) -> Steps[None]:
        """A `[` before a call object: a list of calls if it closes as one, else its items."""
        reply, text = self._reply, Pieces()
        text.add(self._window.take(self._window.i + 1))
        items: list[ListItem] = []
        announced: set[int] = set()
        end, cut_at = yield from self._list_items(text, items, announced)
        whole = text.join()
        if end == "closed":
            reply.close_list(whole, items, announced)
            return
        last = reply.items_alone(whole, items, announced)
        if end == "cut":
            reply.prose.append(whole[last:cut_at])
            reply.error(f"the call is cut off (truncated): {snippet(whole[cut_at:])}")
        else:
            reply.prose.append(whole[last:])

    def _list_items(
        self, text: Pieces, items: list[ListItem], announced: set[int]
    ) -> Steps[tuple[_ListEnd, int]]:
        """Read items up to the closing `]`, the end of the reply, or what cannot follow.

        Returns how the list ended, and where in its text (for "cut": where the unfinished
        item starts).

        An item that is the same call whether the list closes or not is announced at once,
        while every item before it is too.
        """
        window, reply, sure = self._window, self._reply, True
        while True:
            if not (yield from skip_space(window, text.add)):
                return "open", text.size
            if window.text[window.i] == "]":
                text.add(window.take(window.i + 1))
                return "closed", text.size
            start = text.size
            item_text, complete = yield from self._list_item(text)
            if not complete:
                return ("cut" if item_text else "malformed"), start
            items.append(item := reply.list_item(item_text, start, text.size))
            sure = sure and item.agrees
            if sure and isinstance(item.in_list, ToolCall):
                reply.calls.append(item.in_list)
                announced.add(len(items) - 1)
            if not (yield from skip_space(window, text.add)):
                return "open", text.size
            sep = window.text[window.i]
            if sep not in ",]":
                return "malformed", text.size
            text.add(window.take(window.i + 1))
            if sep == "]":
                return "closed", text.size

    def _list_item(self, text: Pieces) -> Steps[tuple[str, bool]]:
        """Read one item into `text`: its text, and whether it is whole ("" when none)."""
        window = self._window
        if window.text[window.i] in "[{\"'":
            piece, closed = yield from read_span(window)
            text.add(piece)
            return piece, closed
        scalar = Pieces()
        if not (yield from read_scalar(window, scalar)):
            return "", False
        text.add(scalar.join())
        return scalar.join(), True

    def _wrapped(self, close: str | None) -> Steps[None]:
        """Calls after a marker such as `<tool_call>`, up to its closing tag if it has one."""
        window, reply, found = self._window, self._reply, False
        while True:
            if not (yield from skip_space(window)):
                break
            if close is not None and (yield from at_marker(window, close)):
                window.take(window.i + len(close))
                break
            if window.text[window.i] not in "[{":
                if found and close is None:
                    return  # prose after the calls
                yield from self._bad_block(close)
                return
            text, closed = yield from read_span(window)
            if not closed:
                reply.error(f"the call is cut off (truncated): {snippet(text)}")
                return
            reply.add_span(text, explicit=True)
            found = True
            if close is None and (yield from skip_space(window)):
                if window.text[window.i] in ",;":
                    window.take(window.i + 1)
        if not found:
            reply.error("an empty call block: write the call inside it")

    def _bad_block(self, close: str | None) -> Steps[None]:
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


def _done() -> Steps[None]:
    return
    yield
