"""Fuzzing: no model reply crashes or stalls the parser, the streaming scanner or the loop.

Every model reply ends as a call, a parse error (a retry) or a final answer, and every run ends
with a `RunResult` or a typed `AgentkitError`. Hypothesis properties cover arbitrary and
JSON-like text; the hostile classes of `bench/fuzz.py` (deep nesting, huge replies, many
objects, surrogates, unterminated strings and tags, mixed formats, 10k calls, noise) run here
with a few small inputs each, and there at any count and seed. Replies that once crashed are
kept at the bottom as regressions.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from agentkit import Agent, Message, RunResult, tool
from agentkit.errors import MaxStepsExceeded, RetriesExhausted
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat, parse_reply
from agentkit.models import ModelRequest, ScriptedModel
from bench.fuzz import CLASSES, check_parse, fuzz_one

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RUN_FUZZ = settings(FUZZ, max_examples=80)
TOOLS = ("add", "echo", "boom")
# Markers the parser treats as call wrappers; inside JSON strings they are data.
MARKERS = ("<tool_call>", "</tool_call>", "<|python_tag|>", "[TOOL_CALLS]", "<functioncall>")

# -- strategies ------------------------------------------------------------------------------------

keys = st.one_of(
    st.sampled_from(["name", "arguments", "parameters", "function", "type", "id", "a", "text"]),
    st.text(max_size=8),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["add", "echo", "boom", "function", "[", "{", "}", "]", '"', "'"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)
    ),
    max_leaves=6,
)
call_names = st.one_of(st.sampled_from(TOOLS), st.text(min_size=1, max_size=10))
argument_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=3)


@st.composite
def call_objects(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(call_names)
    arguments: Any = draw(argument_dicts)
    shape = draw(st.sampled_from(["plain", "parameters", "string args", "openai", "no args"]))
    if shape == "parameters":
        return {"name": name, "parameters": arguments}
    if shape == "string args":
        return {"name": name, "arguments": json.dumps(arguments)}
    if shape == "openai":
        return {"type": "function", "function": {"name": name, "arguments": arguments}}
    if shape == "no args":
        return {"name": name}
    return {"name": name, "arguments": arguments}


def render(value: Any, style: str) -> str:
    return repr(value) if style == "python" else json.dumps(value)


prose = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="[]{}<>`'\"\\|"), max_size=30
)


@st.composite
def jsonish_replies(draw: st.DrawFn) -> str:
    """Text that looks like a call, a JSON answer, or a broken version of either."""
    value = draw(
        st.one_of(
            json_values,
            call_objects(),
            st.lists(call_objects(), min_size=1, max_size=3),
        )
    )
    body = render(value, draw(st.sampled_from(["json", "python"])))
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    wrapper = draw(st.sampled_from(["none", "fence", "tag", "tag-unclosed"]))
    if wrapper == "fence":
        body = f"```json\n{body}\n```"
    elif wrapper == "tag":
        body = f"<tool_call>\n{body}\n</tool_call>"
    elif wrapper == "tag-unclosed":
        body = f"<tool_call>{body}"
    return draw(prose) + body + draw(prose)


any_reply = st.one_of(st.text(max_size=200), jsonish_replies())


def check_shape(text: str) -> None:
    reply = parse_reply(text, tool_names=TOOLS)
    assert isinstance(reply.text, str)
    assert all(isinstance(e, str) and e for e in reply.errors)
    for call in reply.calls:
        assert isinstance(call.name, str)
        assert isinstance(call.arguments, dict)
    assert reply.is_final == (not reply.calls and not reply.errors)


# -- the parser ------------------------------------------------------------------------------------


@FUZZ
@given(st.text())
def test_parse_reply_never_raises_on_arbitrary_text(text: str) -> None:
    check_shape(text)
    reply = parse_reply(text, tool_names=TOOLS)
    if reply.is_final:
        assert reply.text == text.strip()


@FUZZ
@given(jsonish_replies())
def test_parse_reply_never_raises_on_jsonish_text(text: str) -> None:
    check_shape(text)


@FUZZ
@given(any_reply, st.randoms(use_true_random=False))
def test_formats_and_their_scanners_never_raise(text: str, rng: random.Random) -> None:
    for fmt in (StableLMFormat(), HermesFormat(), SmolLM2Format()):
        check_parse(fmt, text, rng)  # the scanner, fed random pieces, ends where parse does


@FUZZ
@given(
    st.lists(st.tuples(call_names, argument_dicts), min_size=1, max_size=3),
    st.sampled_from(["json", "python", "fence", "prose", "tags", "objects"]),
)
def test_complete_calls_are_found(items: list[tuple[str, dict[str, Any]]], style: str) -> None:
    objects = [{"name": n, "arguments": a} for n, a in items]
    if style == "python":
        text = repr(objects)
    elif style == "fence":
        text = f"```json\n{json.dumps(objects)}\n```"
    elif style == "prose":
        text = f"Let me do that. {json.dumps(objects)}"
    elif style == "tags":
        text = "\n".join(f"<tool_call>\n{json.dumps(o)}\n</tool_call>" for o in objects)
    elif style == "objects":
        text = "\n".join(json.dumps(o) for o in objects)
    else:
        text = json.dumps(objects)
    reply = parse_reply(text, tool_names=TOOLS)
    assert reply.errors == []
    assert [(c.name, c.arguments) for c in reply.calls] == items


@FUZZ
@given(call_names, argument_dicts, st.sampled_from(["json", "python"]), st.data())
def test_truncated_calls_are_never_final_answers(
    name: str, arguments: dict[str, Any], style: str, data: st.DataObject
) -> None:
    text = render([{"name": name, "arguments": arguments}], style)
    # Cut anywhere after `[{"name":`, the first point where the reply is surely a call.
    start = text.index(":") + 1
    cut = data.draw(st.integers(start, len(text) - 1))
    reply = parse_reply(text[:cut], tool_names=TOOLS)
    assert not reply.is_final, text[:cut]


# -- the loop --------------------------------------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@tool
def boom() -> str:
    """Always fails."""
    raise RuntimeError("boom")


class Answer(BaseModel):
    value: int


def cycling(replies: list[str]) -> Any:
    def reply(request: ModelRequest) -> str:
        return replies[request.step % len(replies)]

    return reply


def run_outcome(agent: Agent[Any], prompt: str) -> RunResult[Any] | Exception:
    try:
        return agent.run(prompt)
    except (RetriesExhausted, MaxStepsExceeded) as exc:
        return exc


@RUN_FUZZ
@given(st.lists(any_reply, min_size=1, max_size=6))
def test_any_replies_end_in_a_result_or_a_typed_error(replies: list[str]) -> None:
    agent = Agent(
        ScriptedModel(cycling(replies)), tools=[add, echo, boom], max_steps=6, max_retries=2
    )
    outcome = run_outcome(agent, "Go")
    if isinstance(outcome, RunResult):
        assert isinstance(outcome.output, str)
        assert parse_reply(outcome.output, tool_names=TOOLS).is_final
        restored = [Message.model_validate_json(m.model_dump_json()) for m in outcome.messages]
        assert len(restored) == len(outcome.messages)
    elif isinstance(outcome, RetriesExhausted):
        assert len(outcome.errors) >= 3  # three failed turns in a row, one error or more each


@RUN_FUZZ
@given(st.lists(any_reply, min_size=1, max_size=4))
def test_any_replies_with_structured_output(replies: list[str]) -> None:
    agent = Agent(ScriptedModel(cycling(replies)), tools=[add], output_type=Answer, max_steps=4)
    outcome = run_outcome(agent, "Go")
    if isinstance(outcome, RunResult):
        assert isinstance(outcome.output, Answer)


@RUN_FUZZ
@given(st.lists(any_reply, min_size=1, max_size=4))
def test_any_replies_through_hermes(replies: list[str]) -> None:
    model = ScriptedModel(cycling(replies), format=HermesFormat(result_role="user"))
    outcome = run_outcome(Agent(model, tools=[add, echo], max_steps=4), "Go")
    assert isinstance(outcome, RunResult | RetriesExhausted | MaxStepsExceeded)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=12))
def test_concurrent_fuzzed_runs_stay_isolated(runs: int) -> None:
    def reply(request: ModelRequest) -> str:
        last = request.transcript[-1]
        if last.role == "tool":
            return f"got {last.content}"
        return json.dumps([{"name": "echo", "arguments": {"text": last.content}}])

    agent = Agent(ScriptedModel(reply), tools=[echo])

    async def main() -> list[RunResult[str]]:
        return await asyncio.gather(*(agent.run_async(f"n{i}") for i in range(runs)))

    assert [r.output for r in asyncio.run(main())] == [f"got n{i}" for i in range(runs)]


# -- hostile replies, per class --------------------------------------------------------------------

HOSTILE_SIZE = 20_000  # bench/fuzz.py goes to 1 MB; here a few small inputs per class
PER_INPUT_SECONDS = 30.0  # generous: a quadratic scan of these sizes takes minutes


@pytest.mark.parametrize("name", list(CLASSES))
def test_hostile_replies_never_crash_or_hang(name: str) -> None:
    count = 1 if name == "10k calls" else 3
    for seed in range(count):
        start = time.perf_counter()
        crash = fuzz_one(CLASSES[name], seed, HOSTILE_SIZE, loop=True)
        assert crash == "", crash
        assert time.perf_counter() - start < PER_INPUT_SECONDS


def test_a_reply_past_the_size_limit_is_a_failed_turn() -> None:
    huge = '[{"name": "echo", "arguments": {"text": "' + "x" * 1_000_000 + '"}}]'
    model = ScriptedModel([huge, "Done."])
    result = Agent(model, tools=[echo], max_retries=1).run("Go")
    assert result.output == "Done." and result.tool_calls == []
    assert "too long" in model.requests[1].transcript[-1].content


# -- replies that once crashed ---------------------------------------------------------------------

CRASHES = [
    pytest.param(
        '[{"name": "add", "arguments": {"a": ' + "[" * 5000 + "]" * 5000 + "}}]",
        id="deep nesting: RecursionError",
    ),
    pytest.param("[{'name': 'add', 'arguments': {1: 2}}]", id="int key: ValidationError"),
    pytest.param("[{'name': 'echo', 'arguments': {'text': b'x'}}]", id="bytes: TypeError"),
    pytest.param("[{'name': 'add', 'arguments': {'a': {1}, 'b': 2}}]", id="set: TypeError"),
    pytest.param("[{'name': 'add', 'arguments': {'a': 1j, 'b': 2}}]", id="complex: TypeError"),
    pytest.param(
        '[{"name": "add", "arguments": {"a": ' + "[" * 500 + "]" * 500 + "}}]",
        id="500 levels: RecursionError",
    ),
    pytest.param('[{"name": "echo", "arguments": {"text": "\\ud800"}}]', id="lone surrogate"),
]


@pytest.mark.parametrize("reply", CRASHES)
def test_once_crashing_replies_end_in_a_result(reply: str) -> None:
    agent = Agent(ScriptedModel([reply, "Done."]), tools=[add, echo], max_retries=1)
    outcome = run_outcome(agent, "Go")
    assert isinstance(outcome, RunResult)
    for message in outcome.messages:
        message.model_dump_json()


@pytest.mark.parametrize("text", ['[{"name"', '{"name"', "[{'name'", 'Sure: [{"name"'])
def test_cut_right_after_the_name_key_is_not_final(text: str) -> None:
    assert not parse_reply(text, tool_names=TOOLS).is_final


@pytest.mark.parametrize(
    ("marker", "wrap"),
    [
        *[(m, "{}") for m in MARKERS if not m.startswith("</")],
        ("</tool_call>", "<tool_call>{}</tool_call>"),
    ],
)
def test_markers_inside_string_arguments(marker: str, wrap: str) -> None:
    arguments = {"text": f"say {marker} now"}
    text = wrap.format(json.dumps([{"name": "echo", "arguments": arguments}]))
    reply = parse_reply(text, tool_names=TOOLS)
    assert [(c.name, c.arguments) for c in reply.calls] == [("echo", arguments)]


def test_an_empty_array_in_a_call_block_is_a_parse_error() -> None:
    assert not parse_reply("<tool_call>[]</tool_call>", tool_names=TOOLS).is_final
