"""`TrimPolicy`: which part of a long stored transcript a run gets to see.

A transcript is cut into *units* that are never split: one message, or an assistant message
that carries tool calls together with the tool results that follow it. Units make *turns*: a
turn starts at a user message (retry messages, user messages with `is_error`, do not start
one). Trimming keeps the leading system message, then whole turns from the newest back while
every limit holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from agentkit.errors import UsageError
from agentkit.messages import Message

__all__ = ["TrimPolicy"]


def message_chars(message: Message) -> int:
    """The size of a message as the limits count it: its text, plus each call's name and arguments.

    Example:
        >>> message_chars(Message.user("hello"))
        5
    """
    size = len(message.content)
    for call in message.tool_calls:
        size += len(call.name) + len(json.dumps(call.arguments, ensure_ascii=False))
    return size


def units(messages: Sequence[Message]) -> list[list[Message]]:
    """Cut a transcript (after its system message) into units that trimming never splits.

    A tool result joins the unit before it, so a kept unit never starts with one.

    Example:
        >>> from agentkit.messages import ToolCall
        >>> call = Message.assistant(tool_calls=[ToolCall(name="f", id="c1")])
        >>> result = Message.tool("1", call_id="c1", name="f")
        >>> [len(u) for u in units([Message.user("q"), call, result, Message.assistant("a")])]
        [1, 2, 1]
    """
    grouped: list[list[Message]] = []
    for message in messages:
        if message.role == "tool" and grouped:
            grouped[-1].append(message)
        else:
            grouped.append([message])
    return grouped


def _starts_turn(unit: list[Message]) -> bool:
    first = unit[0]
    return first.role == "user" and not first.is_error


def turns(messages: Sequence[Message]) -> list[list[list[Message]]]:
    """Group the units of a transcript into turns, each starting at a user message.

    Messages before the first user message form a turn of their own.
    """
    grouped: list[list[list[Message]]] = []
    for unit in units(messages):
        if not grouped or _starts_turn(unit):
            grouped.append([unit])
        else:
            grouped[-1].append(unit)
    return grouped


@dataclass
class _Budget:
    """What is left of the limits while turns are kept, newest first."""

    messages: int | None
    chars: int | None

    def take(self, kept: Sequence[list[Message]], *, force: bool = False) -> bool:
        """Spend the budget on `kept` units if they fit (or anyway, with `force`)."""
        count = sum(len(unit) for unit in kept)
        size = sum(message_chars(m) for unit in kept for m in unit)
        fits = (self.messages is None or count <= self.messages) and (
            self.chars is None or size <= self.chars
        )
        if not fits and not force:
            return False
        if self.messages is not None:
            self.messages -= count
        if self.chars is not None:
            self.chars -= size
        return fits


def _check_limit(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise UsageError(f"TrimPolicy.{name} must be a positive integer or None, not {value!r}")


@dataclass(frozen=True)
class TrimPolicy:
    """Which part of a stored transcript a session loads: applied on every `load`.

    The leading system message is always kept. Then whole turns are kept, newest first, while
    every limit holds; an assistant message with tool calls is never separated from its tool
    results. If even the newest turn does not fit, its user message is kept with as many of its
    newest units as fit (at least the newest one), so a limit can be exceeded by one unit
    rather than the run losing the question it answers. The store itself keeps everything.

    Args:
        max_turns: the most user turns kept.
        max_messages: the most messages kept, the system message included.
        max_chars: the most characters kept (text plus tool-call names and arguments), the
            system message included: a rough stand-in for the model's context size (about four
            characters a token for English text).

    Raises:
        UsageError: a limit that is not a positive integer.

    Example:
        >>> history = [Message.system("Be brief."), Message.user("a"), Message.assistant("1"),
        ...            Message.user("b"), Message.assistant("2")]
        >>> [m.content for m in TrimPolicy(max_turns=1).apply(history)]
        ['Be brief.', 'b', '2']
    """

    max_turns: int | None = None
    max_messages: int | None = None
    max_chars: int | None = None

    def __post_init__(self) -> None:
        _check_limit("max_turns", self.max_turns)
        _check_limit("max_messages", self.max_messages)
        _check_limit("max_chars", self.max_chars)

    def apply(self, messages: Sequence[Message]) -> list[Message]:
        """The part of `messages` that this policy keeps (a new list; the input is unchanged)."""
        head = list(messages[:1]) if messages and messages[0].role == "system" else []
        body = turns(messages[len(head) :])
        budget = _Budget(self.max_messages, self.max_chars)
        budget.take([head], force=True)
        kept: list[list[list[Message]]] = []
        for turn in reversed(body):
            if self.max_turns is not None and len(kept) >= self.max_turns:
                break
            if not budget.take(turn):
                break
            kept.append(turn)
        if not kept and body:
            kept.append(_partial(body[-1], budget))
        return head + [m for turn in reversed(kept) for unit in turn for m in unit]


def _partial(turn: list[list[Message]], budget: _Budget) -> list[list[Message]]:
    """The newest turn cut to fit: its user message and its newest units that fit."""
    first = [turn[0]] if _starts_turn(turn[0]) and len(turn) > 1 else []
    rest = turn[len(first) :]
    budget.take(first, force=True)
    tail = [rest[-1]]
    budget.take(tail, force=True)
    for unit in reversed(rest[:-1]):
        if not budget.take([unit]):
            break
        tail.append(unit)
    return first + list(reversed(tail))
