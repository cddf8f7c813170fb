"""`TrimPolicy`: the system message and whole turns are kept; tool calls stay with results."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkit.errors import UsageError
from agentkit.messages import Message, ToolCall
from agentkit.sessions import TrimPolicy

SYSTEM = Message.system("You are terse.")


def call_pair(name: str, result: str) -> list[Message]:
    calls = [ToolCall(name=name, id=f"{name}-1"), ToolCall(name=name, id=f"{name}-2")]
    return [
        Message.assistant(tool_calls=calls),
        Message.tool(result, call_id=f"{name}-1", name=name),
        Message.tool(result, call_id=f"{name}-2", name=name),
    ]


def turn(n: int, *, tools: bool = False) -> list[Message]:
    middle = call_pair(f"tool{n}", f"result {n}") if tools else []
    return [Message.user(f"question {n}"), *middle, Message.assistant(f"answer {n}")]


def contents(messages: list[Message]) -> list[str]:
    return [m.content or f"<calls {m.tool_calls[0].name}>" for m in messages]


def test_no_limit_keeps_everything() -> None:
    history = [SYSTEM, *turn(1, tools=True), *turn(2)]
    assert TrimPolicy().apply(history) == history


def test_max_turns_keeps_the_system_message_and_the_newest_turns() -> None:
    history = [SYSTEM, *turn(1), *turn(2), *turn(3)]
    kept = TrimPolicy(max_turns=2).apply(history)
    assert contents(kept) == ["You are terse.", "question 2", "answer 2", "question 3", "answer 3"]


def test_max_messages_drops_whole_turns_never_a_part() -> None:
    history = [SYSTEM, *turn(1), *turn(2, tools=True), *turn(3)]  # turn 2 has 5 messages
    kept = TrimPolicy(max_messages=7).apply(history)
    assert contents(kept) == ["You are terse.", "question 3", "answer 3"]
    kept = TrimPolicy(max_messages=8).apply(history)
    assert contents(kept)[1:3] == ["question 2", "<calls tool2>"]
    assert len(kept) == 8


def test_max_chars_counts_text_and_call_arguments() -> None:
    big = Message.assistant(tool_calls=[ToolCall(name="f", arguments={"x": "y" * 100}, id="c")])
    history = [
        SYSTEM,
        Message.user("q1"),
        big,
        Message.tool("ok", call_id="c", name="f"),
        Message.assistant("a1"),
        *turn(2),
    ]
    kept = TrimPolicy(max_chars=100).apply(history)
    assert contents(kept) == ["You are terse.", "question 2", "answer 2"]


def test_a_turn_too_big_keeps_its_question_and_newest_whole_units() -> None:
    history = [
        SYSTEM,
        *turn(1),
        Message.user("question 2"),
        *call_pair("a", "x" * 50),
        *call_pair("b", "y" * 10),
        Message.assistant("answer 2"),
    ]
    kept = TrimPolicy(max_chars=60).apply(history)
    # The pair of "a" (100 characters of results) cannot fit: it goes whole, with its call.
    assert contents(kept) == [
        "You are terse.",
        "question 2",
        "<calls b>",
        "y" * 10,
        "y" * 10,
        "answer 2",
    ]


def test_the_newest_unit_is_kept_even_over_the_limit() -> None:
    history = [Message.user("q"), Message.assistant("z" * 500)]
    assert TrimPolicy(max_chars=10).apply(history) == history
    assert TrimPolicy(max_messages=1).apply(history) == history


def test_retry_messages_do_not_start_a_turn() -> None:
    retry = Message(role="user", content="Your call was invalid.", is_error=True)
    history = [*turn(1), Message.user("question 2"), Message.assistant("[bad"), retry]
    history.append(Message.assistant("answer 2"))
    kept = TrimPolicy(max_turns=1).apply(history)
    assert contents(kept) == ["question 2", "[bad", "Your call was invalid.", "answer 2"]


def test_messages_before_the_first_question_form_a_turn() -> None:
    history = [Message.assistant("Hello, how can I help?"), *turn(1)]
    assert contents(TrimPolicy(max_turns=1).apply(history)) == ["question 1", "answer 1"]
    assert TrimPolicy(max_turns=2).apply(history) == history


@pytest.mark.parametrize(
    "options",
    [{"max_turns": 0}, {"max_messages": -1}, {"max_chars": 1.5}, {"max_turns": True}],
)
def test_limits_must_be_positive_integers(options: dict[str, object]) -> None:
    with pytest.raises(UsageError, match="must be a positive integer or None"):
        TrimPolicy(**options)  # type: ignore[arg-type]


def _units_are_whole(kept: list[Message]) -> bool:
    """No tool result without its call before it; no call without all of its results."""
    pending: set[str] = set()
    for message in kept:
        if message.role == "tool":
            if message.tool_call_id not in pending:
                return False
            pending.discard(message.tool_call_id)
        else:
            if pending:
                return False
            pending = {call.id for call in message.tool_calls}
    return not pending


@given(
    shape=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), min_size=1, max_size=12),
    max_turns=st.none() | st.integers(1, 5),
    max_messages=st.none() | st.integers(1, 30),
    max_chars=st.none() | st.integers(1, 300),
)
def test_trimming_keeps_a_whole_suffix(
    shape: list[tuple[bool, int]],
    max_turns: int | None,
    max_messages: int | None,
    max_chars: int | None,
) -> None:
    history = [SYSTEM]
    for n, (tools, size) in enumerate(shape):
        history += turn(n, tools=tools)
        history[-1] = Message.assistant("a" * size)
    kept = TrimPolicy(max_turns, max_messages, max_chars).apply(history)
    assert kept[0] == SYSTEM
    body = kept[1:]
    assert _units_are_whole(body)
    assert body[-1] == history[-1]  # the newest message is always kept
    if body == history[len(history) - len(body) :]:  # whole turns, newest first
        questions = [m for m in body if m.role == "user"]
        assert max_turns is None or len(questions) <= max_turns
        assert body[0].role == "user" or len(body) == len(history) - 1
        assert max_messages is None or len(kept) <= max_messages or len(questions) == 1
    else:  # the newest turn, cut: its question, then a suffix of its units
        last_question = max(i for i, m in enumerate(history) if m.role == "user")
        assert body[0] == history[last_question]
        assert body[1:] == history[len(history) - len(body) + 1 :]
