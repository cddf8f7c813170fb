"""`Tool.from_schema` refuses descriptions that cannot work and bounds what can."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import Tool, tool
from agentkit.errors import ArgumentsError, ToolDefinitionError
from agentkit.formats._grammar import bounded_schema


def entry(parameters: Any, name: str = "f") -> dict[str, Any]:
    return {"name": name, "parameters": parameters}


def obj(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **more}


@pytest.mark.parametrize(
    "schema", [None, "f", 3, ["name", "f"], {"type": "function", "function": 1}]
)
def test_a_description_that_is_not_an_object_is_refused(schema: Any) -> None:
    # Regression: a string or list raised AttributeError.
    with pytest.raises(ToolDefinitionError):
        Tool.from_schema(schema)


# -- boolean subschemas ----------------------------------------------------------------------------


def test_a_true_subschema_means_any_value_and_reads_as_an_empty_schema() -> None:
    # Regression: {"a": true} made lax coercion raise AttributeError on every call.
    t = Tool.from_schema(entry(obj({"a": True, "n": {"type": "integer"}})))
    assert t.parameters["properties"]["a"] == {}
    assert t.validate({"a": [1, {"b": None}], "n": "2"}) == {"a": [1, {"b": None}], "n": 2}
    assert bounded_schema(t.parameters)["properties"]["a"] == {}


def test_usual_booleans_are_kept() -> None:
    t = Tool.from_schema(
        entry(obj({"a": {"type": "array", "items": True}}, additionalProperties=False))
    )
    assert t.parameters["additionalProperties"] is False
    assert t.parameters["properties"]["a"]["items"] is True
    with pytest.raises(ArgumentsError):
        t.validate({"b": 1})


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        (obj({"a": False}), "#/properties/a"),
        (obj({"a": {"anyOf": [{"type": "string"}, False]}}), "#/properties/a/anyOf/1"),
        ({**obj({}), "$defs": {"never": False}}, "#/$defs/never"),
    ],
)
def test_a_false_subschema_where_a_value_is_expected_is_refused(
    parameters: Any, where: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=re.escape(where)):
        Tool.from_schema(entry(parameters))


# -- references ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        {"$ref": "#"},
        obj({"a": {"$ref": "#/properties/a"}}),
        {
            **obj({"a": {"$ref": "#/$defs/x"}}),
            "$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"allOf": [{"$ref": "#/$defs/x"}]}},
        },
    ],
    ids=["root to itself", "property to itself", "defs in a cycle"],
)
def test_references_that_loop_without_reaching_a_value_are_refused(parameters: Any) -> None:
    # Regression: validating against these raised RecursionError on every call.
    with pytest.raises(ToolDefinitionError, match="cycle"):
        Tool.from_schema(entry(parameters))


@pytest.mark.parametrize(
    "ref",
    ["#/$defs/missing", "http://example.com/schema.json", "other.json#/a", "#anchor", 5],
)
def test_references_that_do_not_resolve_inside_the_schema_are_refused(ref: Any) -> None:
    with pytest.raises(ToolDefinitionError, match=r"\$ref"):
        Tool.from_schema(entry(obj({"a": {"$ref": ref}})))


def test_recursive_references_through_a_value_work() -> None:
    tree = {
        **obj({"root": {"$ref": "#/$defs/node"}}),
        "$defs": {
            "node": obj(
                {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                }
            )
        },
    }
    t = Tool.from_schema(entry(tree))
    assert t.validate({"root": {"value": 1, "children": [{"value": 2, "children": []}]}})
    with pytest.raises(ArgumentsError):
        t.validate({"root": {"value": 1, "children": [{"value": "x"}]}})


class Node(BaseModel):
    value: int
    children: list[Node] = []


def test_a_tools_own_recursive_schema_round_trips() -> None:
    @tool
    def walk(root: Node) -> int:
        """Walk a tree."""
        return root.value

    again = Tool.from_schema(walk.schema)
    assert again.validate({"root": {"value": 1, "children": [{"value": 2}]}})


def test_a_property_named_ref_is_not_a_reference() -> None:
    t = Tool.from_schema(entry(obj({"$ref": {"type": "string"}})))
    assert t.validate({"$ref": "x"}) == {"$ref": "x"}


# -- size and patterns -----------------------------------------------------------------------------


def test_schemas_nested_too_deeply_are_refused() -> None:
    # Regression: 100k levels raised RecursionError.
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(100_000):
        deep = {"type": "array", "items": deep}
    with pytest.raises(ToolDefinitionError, match="nested deeper"):
        Tool.from_schema(entry(obj({"a": deep})))


def test_arguments_must_be_an_object() -> None:
    with pytest.raises(ToolDefinitionError, match="object"):
        Tool.from_schema(entry({"type": "array"}))


def test_patterns_that_do_not_compile_are_refused() -> None:
    with pytest.raises(ToolDefinitionError):
        Tool.from_schema(entry(obj({"a": {"type": "string", "pattern": "(unclosed"}})))


def test_the_catastrophic_pattern_is_checked_fast() -> None:
    # Regression: `re` took minutes (doubling with each `a`) on the event loop.
    t = Tool.from_schema(entry(obj({"s": {"type": "string", "pattern": "^(a+)+$"}})))
    start = time.perf_counter()
    with pytest.raises(ArgumentsError, match="does not match"):
        t.validate({"s": "a" * 31 + "!"})
    assert time.perf_counter() - start < 0.5
    assert t.validate({"s": "aaa"}) == {"s": "aaa"}


def test_a_pattern_that_would_run_for_ever_is_cut_at_the_time_budget() -> None:
    t = Tool.from_schema(entry(obj({"s": {"type": "string", "pattern": "^(a|a)+$"}})))
    start = time.perf_counter()
    with pytest.raises(ArgumentsError, match="in time"):
        t.validate({"s": "a" * 40 + "!"})
    assert time.perf_counter() - start < 1.0


def test_pattern_properties_are_bounded_too() -> None:
    t = Tool.from_schema(
        entry(
            obj({}, patternProperties={"^(a|a)+$": {"type": "integer"}}, additionalProperties=False)
        )
    )
    assert t.validate({"aa": 1}) == {"aa": 1}
    with pytest.raises(ArgumentsError, match="Additional properties"):
        t.validate({"b": 1})
    start = time.perf_counter()
    with pytest.raises(ArgumentsError, match="in time"):
        t.validate({"a" * 40 + "!": 1})
    assert time.perf_counter() - start < 1.0


def test_arguments_nested_too_deeply_are_an_arguments_error() -> None:
    t = Tool.from_schema(
        entry(
            obj(
                {"a": {"$ref": "#/$defs/list"}},
                **{"$defs": {"list": {"type": "array", "items": {"$ref": "#/$defs/list"}}}},
            )
        )
    )
    value: list[Any] = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(ArgumentsError, match="nested too deeply"):
        t.validate({"a": value})


def test_unevaluated_properties_with_pattern_properties_are_refused() -> None:
    parameters = obj({}, patternProperties={"^x": {}}, unevaluatedProperties=False)
    with pytest.raises(ToolDefinitionError, match="unevaluatedProperties"):
        Tool.from_schema(entry(parameters))


def test_a_nested_id_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match=r"\$id"):
        Tool.from_schema(entry(obj({"a": {"$id": "http://example.com/a", "type": "string"}})))
