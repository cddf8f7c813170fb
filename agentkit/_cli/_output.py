r"""What a person sees: events as lines, streamed answers, messages on stderr, never a secret.

Streams are set to replace what the terminal's encoding cannot show (an ASCII-only terminal
gets a `\xe9` escape rather than a traceback).
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from typing import Any, TextIO

from agentkit import RunResult
from agentkit.events import Event, FinalEvent, RetryEvent, TextDelta, ToolCallEvent, ToolResultEvent

__all__ = ["Console", "StepStreamer", "result_json", "safe_streams"]

_CALL_STARTS = ("[", "{", "<", "`")


def safe_streams() -> None:
    """Make stdout and stderr replace characters their encoding lacks instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")


class Console:
    """Prints to stdout and stderr, hiding the given secrets wherever they would appear."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.secrets: list[str] = []

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by `[redacted]`."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def write(self, text: str) -> None:
        """Write `text` to stdout as it is (no newline), flushed."""
        self.out.write(self.redact(text))
        self.out.flush()

    def line(self, text: str = "") -> None:
        """Write a line to stdout."""
        self.write(text + "\n")

    def error(self, text: str) -> None:
        """Write `agentkit: <text>` to stderr."""
        self.err.write(self.redact(f"agentkit: {text}") + "\n")
        self.err.flush()


def describe(event: Event, indent: str = "") -> str | None:
    """The line shown for a call, a result or a retry; None for other events."""
    if isinstance(event, ToolCallEvent):
        return f"{indent}call: {event.name}({json.dumps(event.arguments, ensure_ascii=False)})"
    if isinstance(event, ToolResultEvent):
        return f"{indent}result: {event.content if event.error is None else event.error}"
    if isinstance(event, RetryEvent):
        return f"{indent}retry {event.attempt}: " + "; ".join(e.message for e in event.errors)
    return None


class StepStreamer:
    """Streams a turn's text while it looks like an answer, holds it while it may be a call.

    Text whose first visible character opens a call (`[`, `{`, `<`, a code fence) is held back:
    it is shown only if the turn turns out to be the answer.
    """

    def __init__(self, console: Console, indent: str = "  ") -> None:
        self.console = console
        self.indent = indent
        self._held: dict[int, str] = {}
        self._streaming: int | None = None
        self._streamed = ""

    def feed(self, event: Event) -> None:
        """Show what `event` means for the person watching."""
        if isinstance(event, TextDelta):
            self._text(event)
            return
        if isinstance(event, FinalEvent):
            self._final(event.result)
            return
        shown = describe(event, self.indent)
        if shown is not None:
            self._end_stream()
            self.console.line(shown)

    def _text(self, event: TextDelta) -> None:
        if self._streaming == event.step:
            self._show(event.text)
            return
        held = self._held.get(event.step, "") + event.text
        visible = held.lstrip()
        if not visible:
            self._held[event.step] = held
        elif visible.startswith(_CALL_STARTS):
            self._held[event.step] = held  # maybe a call: wait for the turn's outcome
        else:
            self._end_stream()
            self._held.pop(event.step, None)
            self._streaming = event.step
            self._streamed = ""
            self._show(visible)

    def _show(self, text: str) -> None:
        self._streamed += text
        self.console.write(text)

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self.console.line()
            self._streaming = None

    def _final(self, result: RunResult[Any]) -> None:
        output = result.output if isinstance(result.output, str) else str(result.output)
        streamed, self._streamed = self._streamed.strip(), ""
        if self._streaming is not None:
            self._end_stream()
            if streamed == output.strip():
                return
        self.console.line(output)  # nothing streamed, or the answer differs from the stream


def result_json(result: RunResult[Any]) -> str:
    """The run's answer, transcript, calls and usage as indented JSON."""
    payload = {
        "output": result.output,
        "messages": json.loads(result.messages_json()),
        "tool_calls": [
            {"name": r.name, "arguments": r.arguments, "content": r.content, "error": r.error}
            for r in result.tool_calls
        ],
        "usage": dataclasses.asdict(result.usage),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str)
