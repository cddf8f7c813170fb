"""`@tool`, `Tool`, `Toolbox`, argument validation, context injection and result serialisation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import typing
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import Agent, RunContext, Tool, Toolbox, tool
from agentkit.errors import ToolDefinitionError
from agentkit.guardrails import Guardrail, GuardrailContext, Verdict, guardrail
from agentkit.models import ScriptedModel
from agentkit.tools import ArgumentsError, ToolOptions, serialize_result


def call(name: str, **arguments: Any) -> str:
    return json.dumps([{"name": name, "arguments": arguments}])


@tool
def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


# -- @tool -----------------------------------------------------------------------------------------


def test_tool_exposes_name_description_parameters_schema() -> None:
    assert isinstance(add, Tool)
    assert add.name == "add"
    assert add.description == "Add two integers."
    assert add.parameters["required"] == ["a"]
    assert add.schema == {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two integers.",
            "parameters": add.parameters,
        },
    }


def test_calling_a_tool_calls_the_function() -> None:
    assert add(2, 3) == 5
    assert add(a=2) == 3


def test_async_functions_become_tools() -> None:
    @tool
    async def fetch(url: str) -> str:
        """Fetch a page."""
        await asyncio.sleep(0)
        return f"<html>{url}</html>"

    assert fetch.name == "fetch"
    assert asyncio.run(fetch("x")) == "<html>x</html>"
    assert asyncio.run(fetch.invoke({"url": "y"}, RunContext(deps=None))) == "<html>y</html>"


def test_sync_tools_are_invoked_off_the_event_loop() -> None:
    import threading

    seen: list[str] = []

    @tool
    def where() -> str:
        """Report the thread."""
        seen.append(threading.current_thread().name)
        return "ok"

    async def main() -> None:
        await where.invoke({}, RunContext(deps=None))
        seen.append(threading.current_thread().name)

    asyncio.run(main())
    assert seen[0] != seen[1]


def test_tool_with_options() -> None:
    @tool(name="sum2", description="Sum.", timeout=2.5)
    def f(a: int) -> int:
        return a

    assert (f.name, f.description, f.timeout) == ("sum2", "Sum.", 2.5)


@pytest.mark.parametrize("name", ["has space", "1starts_with_digit", "x" * 65, "semi;colon"])
def test_invalid_tool_names_are_refused(name: str) -> None:
    def f() -> None:
        """F."""

    with pytest.raises(ToolDefinitionError):
        tool(name=name)(f)


def test_lambdas_need_a_name() -> None:
    with pytest.raises(ToolDefinitionError):
        tool(lambda x: x)
    assert tool(name="ident")(lambda x: x).name == "ident"


def test_a_timeout_must_be_positive() -> None:
    def f() -> None:
        """F."""

    with pytest.raises(ToolDefinitionError):
        tool(timeout=0)(f)


# -- options ---------------------------------------------------------------------------------------


def test_every_option_is_declared_once_and_has_a_default_on_tool() -> None:
    options = typing.get_type_hints(ToolOptions, localns={"Guardrail": Guardrail})
    assert set(options) == {
        "name", "description", "timeout", "strict", "inline", "max_result_chars",
        "guardrails", "requires_approval", "isolated",
    }  # fmt: skip
    for key in options:
        assert key == "name" or hasattr(Tool, key), key


def _run_sql(query: str, big: bool = False) -> str:
    """Run SQL."""
    return query


def test_new_options_are_stored_on_the_tool() -> None:
    @guardrail
    def no_deletes(text: str, context: GuardrailContext) -> Verdict:
        return Verdict.block("no") if "DELETE" in text else Verdict.allow()

    def needs_approval(arguments: Mapping[str, Any], context: RunContext[Any]) -> bool:
        return bool(arguments.get("big"))

    sql = tool(guardrails=[no_deletes], requires_approval=needs_approval, isolated=True)(
        _run_sql  # isolated tools are module-level functions: a worker process imports them
    )
    assert sql.guardrails == (no_deletes,)
    assert sql.requires_approval is needs_approval and sql.isolated is True
    assert (add.guardrails, add.requires_approval, add.isolated) == ((), False, False)
    box = Toolbox()

    @box.tool(requires_approval=True, inline=True)
    def ping() -> str:
        """Answer pong."""
        return "pong"

    assert ping.requires_approval is True and ping.inline is True and box["ping"] is ping
    made = Tool.from_schema(OPENAI_ENTRY, guardrails=[no_deletes], timeout=3)
    assert made.guardrails == (no_deletes,) and made.timeout == 3.0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"timout": 3}, "unknown tool option 'timout'"),
        ({"guardrails": "no"}, "guardrails"),
        ({"guardrails": [object()]}, "guardrails"),
        ({"requires_approval": "yes"}, "requires_approval"),
        ({"isolated": 1}, "isolated"),
        ({"strict": "false"}, "strict"),
        ({"max_result_chars": 0}, "max_result_chars"),
        ({"description": 5}, "description"),
    ],
)
def test_options_that_cannot_work_are_refused(options: dict[str, Any], match: str) -> None:
    def f() -> None:
        """F."""

    with pytest.raises(ToolDefinitionError, match=match):
        tool(**options)(f)
    with pytest.raises(ToolDefinitionError, match=match):
        Toolbox().tool(**options)(f)
    with pytest.raises(ToolDefinitionError, match=match):
        Tool.from_schema(OPENAI_ENTRY, **options)


# -- validation ------------------------------------------------------------------------------------


def test_lax_coercion_by_default() -> None:
    assert add.validate({"a": "3", "b": "4"}) == {"a": 3, "b": 4}


def test_strict_on_request() -> None:
    @tool(strict=True)
    def f(a: int) -> int:
        """F."""
        return a

    assert f.validate({"a": 3}) == {"a": 3}
    with pytest.raises(ArgumentsError) as info:
        f.validate({"a": "3"})
    assert "`a`" in info.value.problems[0]


def test_validation_problems_are_precise() -> None:
    with pytest.raises(ArgumentsError) as info:
        add.validate({"a": "x", "c": 1})
    err = info.value
    assert err.tool == "add"
    assert len(err.problems) == 2
    wrong_type, unknown = err.problems
    assert "`a`" in wrong_type and '{"description": "The first.", "type": "integer"}' in wrong_type
    assert "'x'" in wrong_type
    assert "`c`" in unknown and "a, b" in unknown


def test_missing_argument_names_it() -> None:
    with pytest.raises(ArgumentsError) as info:
        add.validate({})
    assert "`a`" in info.value.problems[0] and "missing" in info.value.problems[0]


def test_validation_returns_keyword_arguments_with_defaults() -> None:
    assert add.validate({"a": 1}) == {"a": 1, "b": 1}


# -- Tool.from_schema ------------------------------------------------------------------------------

OPENAI_ENTRY = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1},
            },
            "required": ["city"],
        },
    },
}

BARE_ENTRY = {
    "name": "geometry.area",
    "description": "Area of a triangle.",
    "parameters": {
        "type": "object",
        "properties": {"base": {"type": "number"}, "height": {"type": "number"}},
        "required": ["base", "height"],
    },
}


def test_from_openai_schema() -> None:
    t = Tool.from_schema(OPENAI_ENTRY)
    assert t.name == "get_weather"
    assert t.description == "Weather in a city."
    assert t.parameters == OPENAI_ENTRY["function"]["parameters"]
    assert t.schema == OPENAI_ENTRY


def test_from_bare_bfcl_style_schema() -> None:
    t = Tool.from_schema(BARE_ENTRY)
    assert t.name == "geometry.area"
    assert t.schema["function"]["parameters"] == BARE_ENTRY["parameters"]
    assert t.validate({"base": 3, "height": 4}) == {"base": 3, "height": 4}


def test_from_schema_maps_java_and_javascript_type_names() -> None:
    entry = {
        "name": "Store.put",
        "parameters": {
            "type": "dict",
            "properties": {
                "key": {"type": "String"},
                "count": {"type": "long"},
                "ratio": {"type": "double"},
                "tags": {"type": "ArrayList", "items": {"type": "String"}},
                "meta": {"type": "HashMap"},
                "flag": {"type": "Boolean"},
                "anything": {"type": "any"},
            },
            "required": ["key"],
        },
    }
    props = Tool.from_schema(entry).parameters["properties"]
    assert {name: p.get("type") for name, p in props.items()} == {
        "key": "string",
        "count": "integer",
        "ratio": "number",
        "tags": "array",
        "meta": "object",
        "flag": "boolean",
        "anything": None,
    }
    assert props["tags"]["items"] == {"type": "string"}


def test_from_schema_parameters_named_like_keywords_are_still_schemas() -> None:
    entry = {
        "name": "settings.set",
        "parameters": {
            "type": "dict",
            "properties": {
                "default": {"type": "int", "default": 3},
                "enum": {"type": "list", "items": {"type": "str"}, "enum": [["a"]]},
            },
        },
    }
    t = Tool.from_schema(entry)
    props = t.parameters["properties"]
    assert props["default"] == {"type": "integer", "default": 3}
    assert props["enum"]["type"] == "array" and props["enum"]["items"] == {"type": "string"}
    assert t.validate({"default": "4"}) == {"default": 4}


def test_from_schema_validates_with_jsonschema() -> None:
    t = Tool.from_schema(OPENAI_ENTRY)
    assert t.validate({"city": "Oslo", "days": "2"}) == {"city": "Oslo", "days": 2}
    with pytest.raises(ArgumentsError) as info:
        t.validate({"days": 0})
    problems = " ".join(info.value.problems)
    assert "city" in problems and "`days`" in problems
    with pytest.raises(ArgumentsError):
        t.validate({"city": 5})


def test_from_schema_with_a_function() -> None:
    t = Tool.from_schema(OPENAI_ENTRY, fn=lambda city, days=1: f"{city}:{days}")
    assert t("Oslo") == "Oslo:1"
    model = ScriptedModel([call("get_weather", city="Oslo", days=3), "Done."])
    result = Agent(model, tools=[t]).run("Weather?")
    assert result.tool_calls[0].result == "Oslo:3"


def test_from_schema_without_a_function_cannot_be_called() -> None:
    t = Tool.from_schema(OPENAI_ENTRY)
    with pytest.raises(ToolDefinitionError):
        t("Oslo")


@pytest.mark.parametrize(
    "entry",
    [
        {"description": "no name"},
        {"name": "x", "parameters": "not an object"},
        {"name": "x", "parameters": {"type": "object", "properties": {"a": {"type": 5}}}},
    ],
)
def test_bad_function_descriptions_are_refused(entry: dict[str, Any]) -> None:
    with pytest.raises(ToolDefinitionError):
        Tool.from_schema(entry)


def test_from_real_bfcl_entry() -> None:
    entry = {
        "name": "calculate_triangle_area",
        "description": "Calculate the area of a triangle given its base and height.",
        "parameters": {
            "type": "dict",
            "properties": {
                "base": {"type": "integer", "description": "The base of the triangle."},
                "height": {"type": "float", "description": "The height of the triangle."},
            },
            "required": ["base", "height"],
        },
    }
    t = Tool.from_schema(entry)
    assert t.validate({"base": 3, "height": 4.5}) == {"base": 3, "height": 4.5}


# -- context injection -----------------------------------------------------------------------------


def test_run_context_is_injected_at_call_time() -> None:
    seen: list[RunContext[Any]] = []

    @tool
    def whoami(ctx: RunContext[dict[str, str]], greeting: str) -> str:
        """Greet the current user."""
        seen.append(ctx)
        return f"{greeting}, {ctx.deps['user']}"

    model = ScriptedModel([call("whoami", greeting="Hi"), "Done."])
    result = Agent(model, tools=[whoami]).run("Who am I?", deps={"user": "ada"})
    assert result.tool_calls[0].result == "Hi, ada"
    ctx = seen[0]
    assert ctx.run_id == result.run_id
    assert ctx.call_id == result.tool_calls[0].id
    assert any(m.role == "user" and m.content == "Who am I?" for m in ctx.messages)


def test_the_model_cannot_fill_the_context() -> None:
    @tool
    def f(ctx: RunContext[Any], q: str) -> str:
        """F."""
        return q

    with pytest.raises(ArgumentsError):
        f.validate({"q": "x", "ctx": {"deps": 1}})


# -- Toolbox ---------------------------------------------------------------------------------------


def test_toolbox() -> None:
    def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    box = Toolbox([add, mul])
    assert box["add"] is add
    assert box["mul"].name == "mul"
    assert [s["function"]["name"] for s in box.schemas()] == ["add", "mul"]
    assert box.schemas()[0] == add.schema
    json.dumps(box.schemas())
    assert len(box) == 2
    assert "mul" in box
    assert [t.name for t in box] == ["add", "mul"]


def test_toolbox_decorator() -> None:
    box = Toolbox()

    @box.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    @box.tool(name="echo_text", timeout=1.0)
    def echo(text: str) -> str:
        """Echo."""
        return text

    assert isinstance(ping, Tool) and ping() == "pong"
    assert box["echo_text"] is echo
    assert echo.timeout == 1.0
    assert [s["function"]["name"] for s in box.schemas()] == ["ping", "echo_text"]


def test_toolbox_refuses_duplicate_names() -> None:
    def add() -> None:  # same name as the module-level tool
        """Another add."""

    with pytest.raises(ToolDefinitionError):
        Toolbox([globals()["add"], add])
    box = Toolbox()
    box.tool(name="x")(lambda: 1)
    with pytest.raises(ToolDefinitionError):
        box.tool(name="x")(lambda: 2)


def test_toolbox_unknown_name() -> None:
    with pytest.raises(KeyError):
        Toolbox([add])["nope"]


def test_agent_accepts_a_toolbox() -> None:
    box = Toolbox([add])
    model = ScriptedModel([call("add", a=1, b=2), "3"])
    assert Agent(model, tools=box).run("1+2").tool_calls[0].result == 3


# -- results ---------------------------------------------------------------------------------------


class Point(BaseModel):
    x: int
    y: int


@dataclasses.dataclass
class Pair:
    left: str
    right: str


class Custom:
    def __str__(self) -> str:
        return "custom!"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        (Point(x=1, y=2), {"x": 1, "y": 2}),
        ({"a": [1, 2], "b": None}, {"a": [1, 2], "b": None}),
        ({"p": Point(x=1, y=2)}, {"p": {"x": 1, "y": 2}}),
        ([1, "two"], [1, "two"]),
        (Pair("l", "r"), {"left": "l", "right": "r"}),
    ],
    ids=["str", "model", "dict", "dict of models", "list", "dataclass"],
)
def test_structured_results_become_json(value: Any, expected: Any) -> None:
    text = serialize_result(value)
    if isinstance(value, str):
        assert text == expected
    else:
        assert json.loads(text) == expected


def test_other_results_become_str() -> None:
    assert serialize_result(Custom()) == "custom!"
    assert serialize_result(42) == "42"


def test_long_results_are_cut_with_a_marker() -> None:
    text = serialize_result("x" * 50_000)
    assert len(text) < 21_000
    assert text.startswith("x" * 1000)
    assert "truncated" in text and "30000" in text
    short = serialize_result("y" * 100, max_chars=10)
    assert short.startswith("y" * 10) and "truncated" in short and "90" in short
    assert serialize_result("z" * 10, max_chars=10) == "z" * 10


def test_the_model_sees_the_serialised_result() -> None:
    @tool
    def where() -> Point:
        """Locate."""
        return Point(x=1, y=2)

    @tool(max_result_chars=5)
    def big() -> str:
        """Big."""
        return "abcdefghij"

    model = ScriptedModel(
        ['[{"name": "where", "arguments": {}}, {"name": "big", "arguments": {}}]', "Done."]
    )
    result = Agent(model, tools=[where, big]).run("Where?")
    assert result.tool_calls[0].result == Point(x=1, y=2)
    tool_messages = [m.content for m in result.messages if m.role == "tool"]
    assert json.loads(tool_messages[0]) == {"x": 1, "y": 2}
    assert tool_messages[1].startswith("abcde") and "truncated" in tool_messages[1]
    sent = [m.content for m in model.requests[1].messages if m.role == "tool"]
    assert sent == tool_messages
