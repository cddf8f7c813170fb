"""A reply's bytes as they arrive, into a `StreamState`: server-sent events or one JSON body.

Pure decoding, no I/O: the sender feeds the bytes it reads (and bounds how many), then says
when the body ended. What the body is gets sniffed from its first byte, not its content type:
some servers ignore `stream` and answer with one JSON body, some label it `text/event-stream`.
"""

from __future__ import annotations

import re
from typing import Literal

from agentkit.models._openai_wire import ReplyError, StreamState, loads, snippet

__all__ = ["ReplyDecoder"]

_LINE_END = re.compile(rb"\r\n|\r|\n")
_HEAD_KEPT = 200
_EARLY_END_HINT = (
    "the server or a proxy closed the connection early, so the reply may be cut; another "
    "attempt may succeed (if it keeps happening, check proxy timeouts or try stream=False)"
)


class ReplyDecoder:
    r"""Decodes one reply into `state`, returning text deltas as they become known.

    Attributes:
        state: what the reply adds up to.
        done: whether the reply is complete (`data: [DONE]` seen, or the body ended well).
        events: the `data:` events decoded so far.

    Example:
        >>> decoder = ReplyDecoder(StreamState())
        >>> decoder.feed(b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n\nda')
        ['Hi']
        >>> decoder.feed(b'ta: [DONE]\n\n'), decoder.done
        ([], True)
    """

    def __init__(self, state: StreamState) -> None:
        self.state = state
        self.done = False
        self.events = 0
        self.received = 0
        self._kind: Literal["unknown", "sse", "json"] = "unknown"
        self._buffer = bytearray()
        self._head = b""

    def feed(self, data: bytes) -> list[str]:
        """Take the next bytes; return the text deltas they complete.

        Raises:
            ReplyError: an event is not valid JSON, or the server reported an error.
        """
        if self.done or not data:
            return []
        self.received += len(data)
        self._buffer += data
        if self._kind == "unknown":
            head = self._buffer.lstrip()
            if not head:
                return []
            self._kind = "json" if head[0] in b"{[" else "sse"
            self._head = bytes(head[:_HEAD_KEPT])
        return self._lines() if self._kind == "sse" else []

    def end(self) -> list[str]:
        """The body ended: return the last deltas (a JSON body's whole text).

        Raises:
            ReplyError: the reply is incomplete or empty (both `retryable`), or not valid JSON.
        """
        deltas: list[str] = []
        if self._kind == "json" and not self.done:
            text = self.state.take_reply(loads(bytes(self._buffer), "the server's reply"))
            self.done = True
            deltas = [text] if text else []
        elif self._kind == "sse" and not self.done and self._buffer.strip():
            self._buffer += b"\n"  # a last line without its line end
            deltas = self._lines()
        if self._kind == "unknown":
            raise ReplyError("the server sent an empty reply (no data at all)", retryable=True)
        if not self.done and self.state.finish_reason is None:
            began = f" (it began: {snippet(self._head)})" if not self.events else ""
            raise ReplyError(
                f"the stream ended before `data: [DONE]` after {self.events} event(s) and "
                f"{self.received} byte(s){began}: {_EARLY_END_HINT}",
                retryable=True,
            )
        if self.state.empty:
            raise ReplyError(
                f"the server sent an empty reply: {self.events} event(s) with no text, no tool "
                "calls and no finish_reason",
                retryable=True,
            )
        self.done = True
        return deltas

    def _lines(self) -> list[str]:
        """Decode each complete line in the buffer; keep the unfinished rest."""
        deltas: list[str] = []
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == b"\r" and match.end() == len(self._buffer):
                break  # maybe the first half of `\r\n`: wait for the next bytes
            delta = self._line(bytes(self._buffer[start : match.start()]))
            start = match.end()
            if delta:
                deltas.append(delta)
            if self.done:
                break
        del self._buffer[:start]
        return deltas

    def _line(self, line: bytes) -> str:
        if not line.startswith(b"data:"):
            return ""  # blank separators, `event:`, `id:`, `retry:` and `:` comments
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return ""
        chunk = loads(payload, "a stream event")
        if not isinstance(chunk, dict):
            raise ReplyError(f"a stream event is not a JSON object: {snippet(payload)}")
        self.events += 1
        return self.state.feed(chunk)
