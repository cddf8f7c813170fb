"""Provider-neutral messages: construction, JSON round trips, records."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agentkit import CallError, Message, ToolCall, Usage
from agentkit.messages import ChatMessage, transcript_adapter


def transcript() -> list[Message]:
    call = ToolCall(name="add", arguments={"a": 1, "b": [2, {"c": None}]}, id="call_1")
    return [
        Message.system("Be brief."),
        Message.user("1 + 2?"),
        Message.assistant("Let me add.", [call]),
        Message.tool("3", call_id="call_1", name="add"),
        Message.tool("Error: boom", call_id="call_2", name="boom", is_error=True),
        Message.assistant("It is 3 — ünïcode ✓."),
    ]


@pytest.mark.parametrize("message", transcript(), ids=lambda m: m.role)
def test_each_message_round_trips_through_json(message: Message) -> None:
    assert Message.model_validate_json(message.model_dump_json()) == message


def test_a_transcript_round_trips_through_json() -> None:
    messages = transcript()
    data = transcript_adapter().dump_json(messages)
    assert transcript_adapter().validate_json(data) == messages
    plain = json.loads(data)
    assert [m["role"] for m in plain] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]


def test_constructors() -> None:
    assert Message.user("hi").role == "user"
    assert Message.system("s").content == "s"
    assistant = Message.assistant(tool_calls=[ToolCall(name="f")])
    assert assistant.role == "assistant" and assistant.content == ""
    assert assistant.tool_calls[0].arguments == {}
    result = Message.tool("42", call_id="c", name="f")
    assert (result.role, result.tool_call_id, result.name, result.is_error) == (
        "tool",
        "c",
        "f",
        False,
    )


@pytest.mark.parametrize("role", ["system", "user", "assistant", "tool"])
def test_roles(role: str) -> None:
    assert Message(role=role, content="x").role == role  # type: ignore[arg-type]


def test_unknown_roles_are_refused() -> None:
    with pytest.raises(ValidationError):
        Message(role="robot", content="x")  # type: ignore[arg-type]


def test_content_is_text_never_none() -> None:
    assert Message(role="assistant").content == ""
    with pytest.raises(ValidationError):
        Message(role="user", content=None)  # type: ignore[arg-type]


def test_tool_calls_get_unique_ids() -> None:
    ids = {ToolCall(name="f").id for _ in range(100)}
    assert len(ids) == 100 and all(ids)


def test_messages_can_be_given_as_dicts() -> None:
    message = Message.model_validate({"role": "user", "content": "hi"})
    assert message == Message.user("hi")


def test_chat_message_is_a_plain_dict_with_attributes() -> None:
    chat = ChatMessage("tool", "3")
    assert chat == {"role": "tool", "content": "3"}
    assert (chat.role, chat.content) == ("tool", "3")
    assert json.loads(json.dumps(chat)) == {"role": "tool", "content": "3"}


def test_usage_totals() -> None:
    usage = Usage(model_turns=2, failed_turns=1, prompt_tokens=10, completion_tokens=5)
    assert usage.total_tokens == 15
    assert usage.failed_turns == 1


def test_call_error_reads_as_its_message() -> None:
    error = CallError("unknown_tool", "there is no function named 'x'", "x")
    assert str(error) == "there is no function named 'x'"
    assert (error.kind, error.tool) == ("unknown_tool", "x")
