"""Checking streamed text in chunks before it reaches the reader."""

from __future__ import annotations

import re
from typing import Literal

from agentkit.errors import UsageError
from agentkit.guardrails._base import GuardrailContext, Verdict
from agentkit.guardrails._run import DEFAULT_TIMEOUT, Guardrails, VerdictRecord, run_guardrails

__all__ = ["OutputBuffer"]

# The end of a sentence (closing quotes and brackets included) and the space after it, or a
# line break: where a chunk may end in sentence mode.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+|\n\s*")
# A space where a chunk may end in character mode: not between digit groups (a phone or card
# number, an IBAN).
_SPACE = re.compile(r"(?<!\d)\s+(?![\d+(])")

OUTPUT_CONTEXT = GuardrailContext("output")


class OutputBuffer:
    """Holds streamed text back until each chunk has passed the guardrails.

    Text comes in as deltas (`feed`); it goes out in chunks, each checked on its own with
    `run_guardrails` before it is released: a sentence (`mode="sentence"`), or at least
    `mode` characters ending at a space (`mode=N`), so that a word, an e-mail address or a
    number is never cut in two (nor, in character mode, a phone or card number written in
    groups). A redaction replaces the chunk; a block stops the stream before it. Once
    blocked, `blocked` holds the verdict and `feed` and `flush` return `""`: check `blocked`
    after each call. A chunk is checked without its trailing whitespace, released after it.

    One producer feeds a buffer; it serves one stream.

    Args:
        guardrails: the guardrails (a list or `all_of`), as for `run_guardrails`.
        context: the stage and transcript (the output stage by default).
        mode: `"sentence"`, or the least number of characters in a chunk.
        max_chars: the most characters held back: a chunk this long is checked even without
            a sentence end or a space.
        timeout: seconds each guardrail may take.

    Attributes:
        blocked: the blocking verdict, or None.
        records: every verdict that was not `allow`, chunk after chunk.
        released: all the text released so far (redactions applied).

    Example:
        >>> import asyncio
        >>> from agentkit.guardrails import PIIGuardrail
        >>> async def demo():
        ...     buffer = OutputBuffer([PIIGuardrail()])
        ...     out = [await buffer.feed(d) for d in ["Write to ada@", "example.com. Thanks", "!"]]
        ...     return out + [await buffer.flush()]
        >>> asyncio.run(demo())
        ['', 'Write to <EMAIL>. ', '', 'Thanks!']

    Raises:
        UsageError: a bad `mode` or `max_chars`, or `feed` after `flush`.
    """

    def __init__(
        self,
        guardrails: Guardrails,
        context: GuardrailContext | None = None,
        *,
        mode: Literal["sentence"] | int = "sentence",
        max_chars: int = 2000,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if mode != "sentence" and not (isinstance(mode, int) and mode > 0):
            raise UsageError(f"mode must be 'sentence' or a positive int, got {mode!r}")
        if isinstance(mode, int) and max_chars < mode:
            raise UsageError(f"max_chars ({max_chars}) must be at least mode ({mode})")
        if max_chars <= 0:
            raise UsageError(f"max_chars must be positive, got {max_chars}")
        self.guardrails = guardrails
        self.context = context or OUTPUT_CONTEXT
        self.mode = mode
        self.max_chars = max_chars
        self.timeout = timeout
        self.blocked: Verdict | None = None
        self.records: list[VerdictRecord] = []
        self.released = ""
        self._pending = ""
        self._flushed = False

    async def feed(self, delta: str) -> str:
        """Add a delta; returns the text now safe to emit (often `""`)."""
        if self._flushed:
            raise UsageError("feed after flush: an OutputBuffer serves one stream")
        if self.blocked is not None:
            return ""
        self._pending += delta
        out = []
        while self.blocked is None and (cut := self._cut()) > 0:
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
            out.append(await self._check(chunk))
        return "".join(out)

    async def flush(self) -> str:
        """Check and return whatever is held back; call it when the stream ends."""
        self._flushed = True
        if self.blocked is not None or not self._pending:
            return ""
        chunk, self._pending = self._pending, ""
        return await self._check(chunk)

    def _cut(self) -> int:
        """Where the next chunk ends in the pending text (0: not yet)."""
        pending = self._pending
        if self.mode == "sentence":
            end = _SENTENCE_END.search(pending)
        else:
            end = next(
                (m for m in _SPACE.finditer(pending, self.mode - 1) if m.end() >= self.mode), None
            )
        cut = end.end() if end else 0
        if cut == 0 and len(pending) >= self.max_chars:
            cut = len(pending)
        return cut

    async def _check(self, chunk: str) -> str:
        body = chunk.rstrip()
        if not body:
            self.released += chunk
            return chunk
        outcome = await run_guardrails(self.guardrails, body, self.context, timeout=self.timeout)
        self.records.extend(outcome.records)
        if outcome.blocked is not None:
            self.blocked = outcome.blocked
            self._pending = ""
            return ""
        text = outcome.text + chunk[len(body) :]
        self.released += text
        return text
