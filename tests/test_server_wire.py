"""Reading chat-completions requests: messages to a transcript, checks, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from agentkit._server_output import AgentVariants, schema_output_type
from agentkit._server_wire import ApiError, ChatCall, parse_chat
from agentkit.messages import Message


def parse(system_prompt: str | None = None, **body: Any) -> ChatCall:
    body.setdefault("model", "served")
    return parse_chat(json.dumps(body).encode(), model_name="served", system_prompt=system_prompt)


def refused(status: int = 400, system_prompt: str | None = None, **body: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(system_prompt, **body)
    assert caught.value.status == status, caught.value.message
    return caught.value


def test_a_conversation_with_calls_becomes_a_transcript() -> None:
    call = parse(
        messages=[
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "add"}, {"type": "text", "text": "2 3"}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "5"},
        ],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.2,  # sampling fields are accepted (the agent's model settings apply)
        max_tokens=50,
    )
    assert [m.role for m in call.messages] == ["system", "user", "assistant", "tool"]
    assert call.messages[1].content == "add\n2 3"
    assert call.messages[2].tool_calls[0].arguments == {"a": 2, "b": 3}
    assert call.messages[2].tool_calls[0].id == "c1"
    assert call.messages[3] == Message.tool("5", call_id="c1", name="add")
    assert call.stream and call.include_usage and call.output_schema is None


def test_developer_messages_are_system_messages() -> None:
    call = parse(
        messages=[{"role": "developer", "content": "Rules."}, {"role": "user", "content": "hi"}]
    )
    assert call.messages[0] == Message.system("Rules.")


@pytest.mark.parametrize(
    ("messages", "words"),
    [
        ([{"role": "assistant", "content": "hi"}], "last message"),
        ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}], "only the first"),
        ([{"role": "tool", "content": "5", "tool_call_id": "c9"}], "answers no call"),
        ([{"role": "tool", "content": "5"}], "needs a tool_call_id"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "only text",
        ),
        ([{"role": "function", "content": "x", "name": "f"}], "messages.0.role"),
        (
            [
                {"role": "user"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        _call := {"id": "c1", "function": {"name": "f", "arguments": "{"}}
                    ],
                },
            ],
            "not valid JSON",
        ),
        (
            [
                {"role": "user"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "[1]"}}],
                },
            ],
            "JSON object",
        ),
        (
            [
                {"role": "user"},
                {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f"}}]},
                {"role": "user", "content": "?"},
            ],
            "without a tool message: c1",
        ),
        ([], "at least 1"),
    ],
)
def test_malformed_conversations_are_refused(messages: list[Any], words: str) -> None:
    assert words in refused(messages=messages).message


def test_the_agents_own_system_prompt_is_kept() -> None:
    user = {"role": "user", "content": "hi"}
    error = refused(
        system_prompt="Secret rules.", messages=[{"role": "system", "content": "Other."}, user]
    )
    assert "own system prompt" in error.message and "Secret" not in error.message
    same = parse("Secret rules.", messages=[{"role": "system", "content": "Secret rules."}, user])
    assert same.messages[0].content == "Secret rules."
    assert parse("Secret rules.", messages=[user]).messages == [Message.user("hi")]
    assert (
        parse(None, messages=[{"role": "system", "content": "Other."}, user]).messages[0].content
        == "Other."
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"logprobs": True}, "logprobs"),
        ({"stream": "yes please"}, "stream"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"response_format": {"type": "grammar"}}, "response_format.type"),
    ],
)
def test_what_the_server_cannot_do_is_refused(body: dict[str, Any], param: str) -> None:
    error = refused(messages=[{"role": "user", "content": "hi"}], **body)
    assert error.param == param
    assert error.body()["error"]["type"] == "invalid_request_error"


def test_another_model_is_not_found() -> None:
    error = refused(404, model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert error.code == "model_not_found" and "'served'" in error.message


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000, b"\xff"])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat(body, model_name="served", system_prompt=None)
    assert caught.value.status == 400


def test_response_formats_become_output_schemas() -> None:
    user = [{"role": "user", "content": "hi"}]
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    wrapped = {"type": "json_schema", "json_schema": {"name": "point", "schema": schema}}
    assert parse(messages=user, response_format=wrapped).output_schema == schema
    assert parse(messages=user, response_format={"type": "json_object"}).output_schema == {
        "type": "object"
    }
    assert parse(messages=user, response_format={"type": "text"}).output_schema is None


def test_a_schema_output_type_validates_with_the_clients_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"type": "integer", "maximum": 9}},
        "required": ["x"],
    }
    adapter = TypeAdapter(schema_output_type(schema))
    assert adapter.json_schema() == schema
    assert adapter.validate_python({"x": 3}) == {"x": 3}
    with pytest.raises(ValueError, match="greater than the maximum of 9"):
        adapter.validate_python({"x": 30})
    with pytest.raises(ValueError, match="valid dictionary"):
        adapter.validate_python([1])


def test_a_hostile_pattern_is_matched_within_a_time_budget() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    adapter = TypeAdapter(schema_output_type(schema))
    with pytest.raises(ValueError):
        adapter.validate_python({"s": "a" * 40 + "!"})


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "array"}, "JSON object"),
        ({"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}}, "$ref"),
        ({"type": "object", "properties": {"x": {"type": "bogus"}}}, "invalid schema"),
    ],
)
def test_unusable_schemas_are_refused(schema: dict[str, Any], words: str) -> None:
    with pytest.raises(ApiError) as caught:
        schema_output_type(schema)
    assert caught.value.status == 400 and words in caught.value.message


def test_variants_share_the_agent_and_are_bounded() -> None:
    from agentkit import Agent
    from agentkit.models import ScriptedModel

    agent = Agent(ScriptedModel(lambda request: "{}"), system_prompt="S")
    variants = AgentVariants(agent)
    assert variants.get(None) is agent
    first = variants.get({"type": "object"})
    assert first is variants.get({"type": "object"}) and first is not agent
    assert first.model is agent.model and first.system_prompt == "S" and agent.output_type is str
    for i in range(40):
        variants.get({"type": "object", "title": str(i)})
    assert len(variants._cache) == 32
