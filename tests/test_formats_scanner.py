"""The streaming scanner announces exactly what parsing the text so far finds, in linear time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkit.errors import UsageError
from agentkit.formats import (
    CallScanner,
    HermesFormat,
    SmolLM2Format,
    StableLMFormat,
    ToolFormat,
)
from agentkit.messages import ToolCall

FORMATS = [StableLMFormat(), HermesFormat(), SmolLM2Format()]
FORMAT_IDS = [f.name for f in FORMATS]
TOOLS = ("add", "echo")
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- replies: each format's own calls, cut, wrapped in prose, mixed with the other dialects --------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.text(max_size=12),
    st.sampled_from(["[", "]", "{", "}", '"', "'", "\\", "<tool_call>", "</tool_call>"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
calls = st.builds(
    lambda name, arguments: ToolCall(name=name, arguments=arguments),
    st.one_of(st.sampled_from(TOOLS), st.text(min_size=1, max_size=6)),
    st.dictionaries(st.text(max_size=5), values, max_size=3),
)
prose = st.text(alphabet="ab ,.'\"\n:[]{}<>", max_size=12)
HANDWRITTEN = [
    '[{"name": "add", "arguments": {"a": 1}}, 5, {"name": "echo"}]',
    '{"name": "add", "arguments": {"a": 1}}\n{"name": "echo", "arguments": {}}',
    "[{'name': 'add', 'arguments': {'a': True,}},]",
    '[{"name": "add", "arguments": {}} is what I would run]',
    '{"result": {"name": "add", "arguments": {}}}',
    '[{"name": "Bob"}, {"name": "add", "arguments": {}}]',
    '<|python_tag|>{"name": "add", "arguments": {}}; {"name": "echo", "arguments": {}} done',
    '[TOOL_CALLS] [{"name": "add", "arguments": {}}]',
    "<tool_call>not json</tool_call> then <tool_call></tool_call>",
    '```json\n[{"name": "add", "arguments": {"a": "x ] } [ {"}}]\n```',
    '{"type": "function", "function": {"name": "add", "arguments": "{\\"a\\": 1}"}}',
]


@st.composite
def replies(draw: st.DrawFn, fmt: ToolFormat) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["own", "other", "python", "handwritten", "prose"]))
        if kind == "own":
            parts.append(fmt.render_calls(draw(st.lists(calls, min_size=1, max_size=3))))
        elif kind == "other":
            other = draw(st.sampled_from(FORMATS))
            parts.append(other.render_calls(draw(st.lists(calls, min_size=1, max_size=2))))
        elif kind == "python":
            call = draw(calls)
            parts.append(repr([{"name": call.name, "arguments": call.arguments}]))
        elif kind == "handwritten":
            parts.append(draw(st.sampled_from(HANDWRITTEN)))
        else:
            parts.append(draw(prose))
        parts.append(draw(prose))
    text = "".join(parts)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def pieces(text: str, sizes: list[int]) -> list[str]:
    out, pos = [], 0
    for size in sizes:
        if pos >= len(text):
            break
        out.append(text[pos : pos + size])
        pos += size
    if pos < len(text):
        out.append(text[pos:])
    return out


def key(calls: list[ToolCall]) -> list[tuple[str, str]]:
    return [(c.name, json.dumps(c.arguments, sort_keys=True)) for c in calls]


def check_stream(fmt: ToolFormat, text: str, sizes: list[int]) -> list[ToolCall]:
    """Feed `text` in pieces; every announcement must agree with parsing the text so far."""
    scanner = fmt.stream_scanner(TOOLS)
    announced: list[ToolCall] = []
    seen = ""
    for piece in pieces(text, sizes):
        announced += scanner.feed(piece)
        seen += piece
        so_far = fmt.parse(seen, tool_names=TOOLS).calls
        assert key(announced) == key(so_far[: len(announced)]), seen
    final = scanner.finish()
    whole = fmt.parse(text, tool_names=TOOLS)
    assert key(final.calls) == key(whole.calls)
    assert (final.text, final.errors) == (whole.text, whole.errors)
    assert all(a is b for a, b in zip(announced, final.calls, strict=False))
    return announced


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@PROPERTY
@given(data=st.data(), sizes=st.lists(st.integers(1, 9), max_size=40))
def test_scanner_agrees_with_parse_under_any_chunking(
    fmt: ToolFormat, data: st.DataObject, sizes: list[int]
) -> None:
    check_stream(fmt, data.draw(replies(fmt)), sizes)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@PROPERTY
@given(text=st.text(max_size=120), sizes=st.lists(st.integers(1, 5), max_size=40))
def test_scanner_agrees_with_parse_on_any_text(
    fmt: ToolFormat, text: str, sizes: list[int]
) -> None:
    check_stream(fmt, text, sizes)


@pytest.mark.parametrize("text", HANDWRITTEN)
def test_scanner_agrees_one_character_at_a_time(text: str) -> None:
    check_stream(StableLMFormat(), text, [1] * len(text))


# -- announcements come as soon as they are sure --------------------------------------------------


def feed_all(scanner: CallScanner, deltas: list[str]) -> list[list[str]]:
    return [[c.name for c in scanner.feed(d)] for d in deltas]


def test_each_tagged_call_is_announced_when_its_json_closes() -> None:
    scanner = HermesFormat().stream_scanner(TOOLS)
    deltas = [
        '<tool_call>\n{"name": "add", "arguments": {"a": 1}',
        "}\n</tool_call>\n<tool_call>",
        '{"name": "echo", "arguments": {}}',
        "\n</tool_call>",
    ]
    assert feed_all(scanner, deltas) == [[], ["add"], ["echo"], []]


def test_one_object_per_line_is_announced_object_by_object() -> None:
    scanner = StableLMFormat().stream_scanner(TOOLS)
    deltas = ['{"name": "add", "arguments": {}}', '\n{"name": "echo", "arguments": {}}', "\n"]
    assert feed_all(scanner, deltas) == [["add"], ["echo"], []]


def test_the_calls_of_a_list_are_announced_item_by_item() -> None:
    scanner = StableLMFormat().stream_scanner(TOOLS)
    deltas = ['[{"name": "add", "arguments": {}}, ', '{"name": "echo", "arguments": {}}', "]"]
    assert feed_all(scanner, deltas) == [["add"], ["echo"], []]


def test_an_item_that_is_a_call_only_inside_a_closed_list_waits_for_the_end() -> None:
    # `{"name": "Bob"}` is a call as an item of a list of calls, prose on its own: until the
    # `]` comes (or the reply ends) neither it nor the calls after it can be announced.
    deltas = ['[{"name": "Bob"}, ', '{"name": "add", "arguments": {}}']
    scanner = StableLMFormat().stream_scanner(TOOLS)
    assert feed_all(scanner, deltas) == [[], []]
    assert [c.name for c in scanner.finish().calls] == ["add"]
    scanner = StableLMFormat().stream_scanner(TOOLS)
    assert feed_all(scanner, [*deltas, "]"]) == [[], [], ["Bob", "add"]]


def test_a_finished_scanner_refuses_more_text() -> None:
    scanner = CallScanner()
    scanner.finish()
    with pytest.raises(UsageError):
        scanner.feed("more")


def test_a_reply_past_the_size_limit_is_one_error() -> None:
    scanner = StableLMFormat(max_reply_chars=100).stream_scanner(TOOLS)
    assert scanner.feed('{"name": "add", "arguments": {}}\n') != []
    assert scanner.feed("x" * 100) == []
    reply = scanner.finish()
    assert reply.calls == [] and "too long" in reply.errors[0]


# -- linear time ----------------------------------------------------------------------------------


def cpu_seconds(work: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return max(best, 1e-4)


def one_big_call(size: int) -> str:
    return json.dumps([{"name": "echo", "arguments": {"text": "{[x]} " * (size // 6)}}])


def streamed(text: str, step: int = 4) -> Callable[[], Any]:
    def work() -> None:
        scanner = HermesFormat().stream_scanner(TOOLS)
        for i in range(0, len(text), step):
            scanner.feed(text[i : i + step])
        scanner.finish()

    return work


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "<tool_call>" + one_big_call(n) + "</tool_call>", id="one call"),
        pytest.param(lambda n: "<tool_call>{}</tool_call>" * (n // 24), id="empty tags"),
        pytest.param(lambda n: 'I think {"name": "Bob"} is right. ' * (n // 34), id="prose"),
    ],
)
def test_streaming_in_small_deltas_is_linear(make: Callable[[int], str]) -> None:
    # Eight times the text must take far less than 64 times as long (a quadratic scan).
    small, large = cpu_seconds(streamed(make(10_000))), cpu_seconds(streamed(make(80_000)))
    assert large / small < 24, (small, large)
