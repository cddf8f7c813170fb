"""The parser against hostile text: nesting, surrogates, size, error counts, linear time."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from agentkit import Message
from agentkit.errors import UsageError
from agentkit.formats import HermesFormat, StableLMFormat, parse_reply
from agentkit.formats._json import MAX_LITERAL_CHARS
from agentkit.formats._parse import MAX_ARGUMENT_DEPTH, MAX_ERRORS

TOOLS = ("add", "get_weather", "search", "echo")


# -- hostile text: bounded, never raising, always serialisable -------------------------------------


def nested_arguments(levels: int) -> str:
    """A call whose arguments object is `levels` deep (the object itself is level 1)."""
    arguments: Any = 1
    for _ in range(levels):
        arguments = {"a": arguments}
    return json.dumps([{"name": "add", "arguments": arguments}])


def test_arguments_nested_to_the_bound_are_accepted() -> None:
    reply = parse_reply(nested_arguments(MAX_ARGUMENT_DEPTH), tool_names=TOOLS)
    assert reply.errors == [] and len(reply.calls) == 1


@pytest.mark.parametrize("levels", [MAX_ARGUMENT_DEPTH + 1, 500])
def test_arguments_nested_past_the_bound_are_a_parse_error(levels: int) -> None:
    # 500 levels raised RecursionError out of the parser before the bound.
    for text in (nested_arguments(levels), "Sure. " + nested_arguments(levels)):
        reply = parse_reply(text, tool_names=TOOLS)
        assert reply.calls == []
        assert any("nested too deeply" in e for e in reply.errors)


@pytest.mark.parametrize(
    "text",
    [
        'Sure. [{"name": "add", "arguments": {"a": ' + "[" * 50_000 + "]" * 50_000 + "}}]",
        '<tool_call>{"name": "add", "arguments": {"a": ' + "[" * 50_000 + "]" * 50_000 + "}}",
        '[{"name": "add", "arguments": {"a": ' + "[" * 50_000,
        "[{'name': 'add', 'arguments': {'a': " + "(" * 5_000 + ")" * 5_000 + "}}]",
        "[" * 200_000 + '{"name": "add", "arguments": {}}',
    ],
    ids=["prose before", "inside tags", "never closed", "python tuples", "deep prose"],
)
def test_deep_nesting_anywhere_is_a_parse_error(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert not reply.is_final


@pytest.mark.parametrize(
    ("text", "name", "arguments"),
    [
        ('[{"name": "echo", "arguments": {"text": "a\\ud800b"}}]', "echo", {"text": "a\ufffdb"}),
        ('[{"name": "echo", "arguments": {"\\udfff": 1}}]', "echo", {"\ufffd": 1}),
        ('<tool_call>{"name": "e\\ud83d", "arguments": {}}</tool_call>', "e\ufffd", {}),
        ("[{'name': 'echo', 'arguments': {'text': '\\ud800'}}]", "echo", {"text": "\ufffd"}),
        ('[{"name": "echo", "arguments": {"text": "\\ud83d\\ude00"}}]', "echo", {"text": "😀"}),
    ],
    ids=["value", "key", "name", "python literal", "a valid pair is kept"],
)
def test_lone_surrogates_become_replacement_characters(
    text: str, name: str, arguments: dict[str, Any]
) -> None:
    reply = parse_reply("Sure: " + text, tool_names=TOOLS)
    assert [(c.name, c.arguments) for c in reply.calls] == [(name, arguments)]
    message = Message.assistant(reply.text, reply.calls)
    assert Message.model_validate_json(message.model_dump_json()).tool_calls == reply.calls


def test_surrogate_code_points_in_prose_are_replaced() -> None:
    reply = parse_reply("broken \ud800 text {x}", tool_names=TOOLS)
    assert reply.is_final and reply.text == "broken \ufffd text {x}"
    reply.text.encode("utf-8")


def test_a_reply_past_the_size_limit_is_one_parse_error_without_calls() -> None:
    text = '[{"name": "add", "arguments": {}}]' + " " * 1_000_000
    reply = StableLMFormat().parse(text, tool_names=TOOLS)
    assert reply.calls == [] and len(reply.errors) == 1
    assert "too long" in reply.errors[0] and "1,000,000" in reply.errors[0]
    small = StableLMFormat(max_reply_chars=10).parse('{"name": "add"}', tool_names=TOOLS)
    assert small.calls == [] and "too long" in small.errors[0]


def test_only_short_texts_are_read_as_python_literals() -> None:
    short = "[{'name': 'add', 'arguments': {'a': [" + "1, " * 1000 + "]}}]"
    assert parse_reply(short, tool_names=TOOLS).calls
    long = "[{'name': 'add', 'arguments': {'a': [" + "1, " * (MAX_LITERAL_CHARS // 3) + "]}}]"
    reply = parse_reply(long, tool_names=TOOLS)
    assert reply.calls == [] and "not valid JSON" in reply.errors[0]


def test_errors_are_capped_and_counted() -> None:
    reply = parse_reply("<tool_call>{}</tool_call>" * 4000, tool_names=TOOLS)
    assert len(reply.errors) == MAX_ERRORS + 1
    assert reply.errors[-1] == f"... and {4000 - MAX_ERRORS} more problems like these"


def test_ten_thousand_calls_in_one_reply_are_all_found() -> None:
    one = '<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>'
    assert len(parse_reply(one * 10_000, tool_names=TOOLS).calls) == 10_000


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "<tool_call>{}</tool_call>" * (n // 24),
        lambda n: 'I think {"name": "Bob"} is right. ' * (n // 34),
        lambda n: '[{"name": "Bob"} ' * (n // 17),
        lambda n: "[{'name': 'x'} don't " * (n // 21),
        lambda n: '[{"a"' + " " * n + "x",
    ],
    ids=["empty tags", "prose with objects", "unclosed lists", "apostrophes", "spaces at the end"],
)
def test_parsing_is_linear_in_the_reply_size(make: Any) -> None:
    # Eight times the text must take far less than 64 times as long (the old quadratic scan).
    def seconds(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            parse_reply(text, tool_names=TOOLS)
            best = min(best, time.process_time() - start)
        return max(best, 1e-4)

    small, large = seconds(make(6_250)), seconds(make(50_000))
    assert large / small < 24, (small, large)


# -- the reading rules -----------------------------------------------------------------------------


def test_a_list_that_does_not_close_as_a_list_keeps_its_calls() -> None:
    reply = parse_reply('[{"name": "add", "arguments": {}} is what I would run]', tool_names=TOOLS)
    assert [c.name for c in reply.calls] == ["add"] and reply.errors == []


def test_a_leading_json_value_is_read_as_a_whole() -> None:
    # A structured answer holding a call-like object is an answer, whatever follows it.
    for text in ('{"result": {"name": "add", "arguments": {}}}', '{"result": {"name": "add"}} ok'):
        assert parse_reply(text, tool_names=TOOLS).is_final


def test_a_call_after_an_unpaired_apostrophe_is_found() -> None:
    text = 'I don\'t know, let me check. [{"name": "add", "arguments": {"a": 1}}]'
    assert [c.name for c in parse_reply(text, tool_names=TOOLS).calls] == ["add"]


@pytest.mark.parametrize(
    "settings",
    [{"result_role": "bot"}, {"max_calls": 0}, {"max_reply_chars": 0}, {"max_calls": 1.5}],
)
def test_bad_format_settings_are_usage_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        HermesFormat(**settings)
