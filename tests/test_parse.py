"""The lenient parser against a corpus of well-formed and malformed model outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.formats import HermesFormat, ParsedReply, StableLMFormat, parse_reply

TOOLS = ("add", "get_weather", "search")

# -- replies that hold calls -----------------------------------------------------------------------

ADD_1 = [("add", {"a": 1, "b": 2})]

CALLS: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
    ("bare array", '[{"name": "add", "arguments": {"a": 1, "b": 2}}]', ADD_1),
    (
        "json code fence",
        '```json\n[{"name": "add", "arguments": {"a": 1, "b": 2}}]\n```',
        ADD_1,
    ),
    (
        "unlabelled fence, single object",
        '```\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```',
        ADD_1,
    ),
    (
        "prose before the call",
        'Let me add those. [{"name": "add", "arguments": {"a": 1, "b": 2}}]',
        ADD_1,
    ),
    (
        "prose around a fenced call",
        'Sure!\n```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```\nOne moment.',
        ADD_1,
    ),
    ("single object", '{"name": "add", "arguments": {"a": 1, "b": 2}}', ADD_1),
    (
        "arguments as a JSON string",
        '[{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}]',
        ADD_1,
    ),
    (
        "arguments as a JSON string with a trailing comma",
        '[{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2,}"}]',
        ADD_1,
    ),
    ("parameters instead of arguments", '{"name": "add", "parameters": {"a": 1, "b": 2}}', ADD_1),
    (
        "Python-literal quotes",
        "[{'name': 'add', 'arguments': {'a': 1, 'b': 2}}]",
        ADD_1,
    ),
    (
        "Python literals True / None / False",
        "[{'name': 'search', 'arguments': {'q': 'x', 'exact': True, 'lang': None, 'n': False}}]",
        [("search", {"q": "x", "exact": True, "lang": None, "n": False})],
    ),
    (
        "JSON literals true / null / false",
        '[{"name": "search", "arguments": {"q": "x", "exact": true, "lang": null, "n": false}}]',
        [("search", {"q": "x", "exact": True, "lang": None, "n": False})],
    ),
    (
        "Python quotes with an escaped apostrophe",
        "[{'name': 'search', 'arguments': {'q': 'it\\'s'}}]",
        [("search", {"q": "it's"})],
    ),
    (
        "trailing commas everywhere",
        '[{"name": "add", "arguments": {"a": 1, "b": 2,},},]',
        ADD_1,
    ),
    (
        "OpenAI nesting with object arguments",
        '{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}',
        ADD_1,
    ),
    (
        "OpenAI nesting with string arguments",
        '{"type": "function", "function": '
        '{"name": "add", "arguments": "{\\"a\\": 1, \\"b\\": 2}"}}',
        ADD_1,
    ),
    (
        "OpenAI nesting inside an array",
        '[{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]',
        ADD_1,
    ),
    (
        "Hermes tag",
        '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
        ADD_1,
    ),
    (
        "Hermes tag after prose",
        'Thinking... <tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>',
        ADD_1,
    ),
    (
        "Hermes tag holding an array",
        '<tool_call>[{"name": "add", "arguments": {"a": 1, "b": 2}}]</tool_call>',
        ADD_1,
    ),
    (
        "Hermes tag with Python literals and a trailing comma",
        "<tool_call>{'name': 'search', 'arguments': {'q': 'x', 'exact': True,}}</tool_call>",
        [("search", {"q": "x", "exact": True})],
    ),
    (
        "several Hermes tags",
        '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        [("add", {"a": 1, "b": 2}), ("get_weather", {"city": "Oslo"})],
    ),
    (
        "several calls in one array",
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}, '
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        [("add", {"a": 1, "b": 2}), ("get_weather", {"city": "Oslo"})],
    ),
    (
        "the same call twice in one array",
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}, '
        '{"name": "add", "arguments": {"a": 1, "b": 2}}]',
        [("add", {"a": 1, "b": 2}), ("add", {"a": 1, "b": 2})],
    ),
    (
        "one object per line",
        '{"name": "add", "arguments": {"a": 1, "b": 2}}\n'
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        [("add", {"a": 1, "b": 2}), ("get_weather", {"city": "Oslo"})],
    ),
    (
        "two arrays separated by prose",
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}] and then '
        '[{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        [("add", {"a": 1, "b": 2}), ("get_weather", {"city": "Oslo"})],
    ),
    (
        "brackets and braces inside string arguments",
        '[{"name": "search", "arguments": {"q": "x ] } [ { \\" y"}}]',
        [("search", {"q": 'x ] } [ { " y'})],
    ),
    (
        "non-ASCII arguments",
        '[{"name": "get_weather", "arguments": {"city": "Zürich 東京"}}]',
        [("get_weather", {"city": "Zürich 東京"})],
    ),
    (
        "nested argument values",
        '[{"name": "search", "arguments": {"q": {"all": [1, {"c": null}]}}}]',
        [("search", {"q": {"all": [1, {"c": None}]}})],
    ),
    ("null arguments", '[{"name": "search", "arguments": null}]', [("search", {})]),
    ("empty string arguments", '[{"name": "search", "arguments": ""}]', [("search", {})]),
    ("no arguments key, known tool", '{"name": "search"}', [("search", {})]),
    ("empty arguments", '{"name": "search", "arguments": {}}', [("search", {})]),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CALLS])
def test_calls_are_found(text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.errors == []
    assert [(c.name, c.arguments) for c in reply.calls] == expected
    assert not reply.is_final


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CALLS])
@pytest.mark.parametrize("fmt", [StableLMFormat(), HermesFormat()], ids=["stablelm", "hermes"])
def test_every_format_shares_the_lenient_parser(
    fmt: StableLMFormat | HermesFormat, text: str, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    reply = fmt.parse(text, tool_names=TOOLS)
    assert [(c.name, c.arguments) for c in reply.calls] == expected
    assert reply.errors == []


def test_prose_around_calls_is_kept_as_text() -> None:
    reply = parse_reply(
        'Let me check. [{"name": "get_weather", "arguments": {"city": "Oslo"}}]', tool_names=TOOLS
    )
    assert reply.text == "Let me check."
    hermes = HermesFormat().parse(
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
        "Let me know.",
        tool_names=TOOLS,
    )
    assert hermes.text == "Let me know."


def test_a_bare_call_leaves_no_text() -> None:
    assert parse_reply('[{"name": "add", "arguments": {}}]', tool_names=TOOLS).text == ""


def test_each_call_gets_its_own_id() -> None:
    reply = parse_reply(
        '[{"name": "add", "arguments": {"a": 1}}, {"name": "add", "arguments": {"a": 1}}]',
        tool_names=TOOLS,
    )
    ids = [c.id for c in reply.calls]
    assert all(ids) and len(set(ids)) == 2


def test_calls_are_found_without_knowing_the_tools() -> None:
    # The explicit call shape ("name" + "arguments") is a call even for names the parser was not
    # told about: the loop then answers with an unknown-tool error rather than a final answer.
    reply = parse_reply('[{"name": "launch", "arguments": {"x": 1}}]')
    assert [(c.name, c.arguments) for c in reply.calls] == [("launch", {"x": 1})]


# -- attempted calls that cannot be used: parse errors, never final answers ------------------------

BROKEN: list[tuple[str, str]] = [
    ("cut off inside arguments", '[{"name": "add", "arguments": {"a": 1'),
    ("cut off inside a key", '[{"name": "add", "argu'),
    ("cut off right after the opener", '[{"na'),
    ("cut off single object", '{"name": "add", "arguments": {"a": 1}'),
    (
        "cut off after prose",
        'Let me check. [{"name": "get_weather", "arguments": {"city": "Par',
    ),
    ("cut off inside a code fence", '```json\n[{"name": "add", "arguments": {"a": 1,'),
    ("cut off inside a Hermes tag", '<tool_call>{"name": "add", "arguments": {"a": 1}'),
    ("Hermes tag without JSON", "<tool_call>not json</tool_call>"),
    ("empty Hermes tag", "<tool_call></tool_call>"),
    ("arguments not an object", '{"name": "add", "arguments": 5}'),
    ("arguments a list", '{"name": "add", "arguments": [1, 2]}'),
    ("arguments string not JSON", '{"name": "add", "arguments": "{bad"}'),
    ("name not a string", '[{"name": 5, "arguments": {}}]'),
    ("Python expression, not a literal", "[{'name': 'add', 'arguments': {'a': 1 if 1 else 2}}]"),
    ("function call inside", "[{'name': 'add', 'arguments': {'a': __import__('os')}}]"),
    (
        "integer beyond the JSON digit limit",
        '{"name": "add", "arguments": {"a": 9' + "9" * 5000 + "}}",
    ),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in BROKEN])
def test_broken_calls_are_parse_errors(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.errors, "an attempted call must be reported"
    assert reply.calls == []
    assert not reply.is_final


@pytest.mark.parametrize(
    "text",
    [
        '[{"arguments": {"a": 1}, "name": "add"}]',
        '{"arguments": {"a": 1}, "name": "add"}',
        '[{"id": "c1", "name": "add", "arguments": {"a": 1}}]',
    ],
    ids=["array, arguments first", "object, arguments first", "id first"],
)
def test_calls_are_found_whatever_the_key_order(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert [(c.name, c.arguments) for c in reply.calls] == [("add", {"a": 1})]


def test_a_call_without_a_name_is_a_parse_error() -> None:
    reply = parse_reply('[{"arguments": {"a": 1}}]', tool_names=TOOLS)
    assert reply.errors and not reply.is_final


@pytest.mark.parametrize(
    "text",
    [
        '[{"name": "add", "arguments": {"a": 1',
        '{"name": "add", "arguments": {"a": 1}',
        '<tool_call>{"name": "add", "arguments": {"a": 1}',
    ],
)
def test_truncation_is_named_in_the_error(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert any("cut off" in e or "truncated" in e for e in reply.errors)


def test_a_truncated_second_call_keeps_the_first_and_reports_the_second() -> None:
    reply = parse_reply(
        '[{"name": "add", "arguments": {"a": 1}}, {"name": "add", "arguments": {"a": 2',
        tool_names=TOOLS,
    )
    assert [(c.name, c.arguments) for c in reply.calls] == [("add", {"a": 1})]
    assert len(reply.errors) == 1
    assert not reply.is_final


def test_a_good_call_beside_a_bad_item_reports_both() -> None:
    reply = parse_reply('[{"name": "add", "arguments": {"a": 1}}, 5]', tool_names=TOOLS)
    assert [c.name for c in reply.calls] == ["add"]
    assert len(reply.errors) == 1


def test_errors_say_what_was_wrong() -> None:
    reply = parse_reply('{"name": "add", "arguments": "{bad"}', tool_names=TOOLS)
    assert "add" in reply.errors[0] and "JSON" in reply.errors[0]
    reply = parse_reply('{"name": "add", "arguments": 5}', tool_names=TOOLS)
    assert "object" in reply.errors[0]


# -- final answers: prose, even with brackets, and structured JSON answers ------------------------

FINAL: list[tuple[str, str]] = [
    ("plain prose", "The weather in Oslo is sunny."),
    ("empty reply", ""),
    ("list and braces in prose", "The answer is [1, 2, 3] and {x} for sure."),
    ("maths", "Use f(x) = [a, b] {c}."),
    ("markdown link and table", "See [the docs](https://x.y/z?a=[1]) | col | {braces} |"),
    ("structured answer", '{"name": "Alice", "age": 3}'),
    ("structured answer after prose", 'Here is the data: {"name": "Alice", "age": 3}'),
    ("structured answer in a fence", '```json\n{"name": "Alice", "age": 3}\n```'),
    ("object with a name only, not a tool", '{"name": "Alice"}'),
    ("JSON object without a name", '{"result": 42}'),
    ("JSON object in prose", 'The answer: {"a": 1, "b": [1, 2]}'),
    ("JSON array of numbers", "[1, 2, 3]"),
    ("empty array", "[]"),
    ("empty object", "{}"),
    ("a name mentioned in prose", 'I think {"name": "Bob"} is the person.'),
    ("code", "```python\nprint([1, 2])\nd = {'a': 1}\n```"),
    ("lone brackets", "[[[ {{{ ]]] }}}"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in FINAL])
def test_prose_and_structured_answers_are_final(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.is_final
    assert reply.calls == [] and reply.errors == []
    assert reply.text == text.strip()


def test_a_list_of_records_is_a_final_answer() -> None:
    text = '[{"name": "Alice", "age": 3}, {"name": "Bob", "age": 4}]'
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.is_final
    assert reply.text == text


# -- the parser must never raise -------------------------------------------------------------------


def test_deeply_nested_arguments_do_not_crash() -> None:
    text = '[{"name": "add", "arguments": {"a": ' + "[" * 5000 + "]" * 5000 + "}}]"
    reply = parse_reply(text, tool_names=TOOLS)
    assert not reply.is_final


@pytest.mark.parametrize(
    "text",
    [
        "{'name': 'add', 'arguments': {1: 2}}",
        "{'name': 'add', 'arguments': {(1, 2): 2}}",
    ],
)
def test_non_string_argument_keys_are_a_parse_error(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.errors and reply.calls == []


@pytest.mark.parametrize("value", ["b'1'", "{1, 2}", "1j"], ids=["bytes", "set", "complex"])
def test_parsed_arguments_are_always_json(value: str) -> None:
    reply = parse_reply(f"[{{'name': 'add', 'arguments': {{'a': {value}}}}}]", tool_names=TOOLS)
    for call in reply.calls:
        json.dumps(call.arguments)
    assert reply.errors


def test_parsed_reply_is_final_only_without_calls_and_errors() -> None:
    assert ParsedReply(text="hi").is_final
    assert not ParsedReply(text="", errors=["x"]).is_final
