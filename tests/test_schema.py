"""JSON schema generation from typed signatures, for every supported type."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Optional, Union

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agentkit import RunContext, Tool, tool
from agentkit.errors import ToolDefinitionError
from agentkit.tools import ArgumentsError

# -- helpers ---------------------------------------------------------------------------------------

_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_ONE = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema node (not property-name maps, not values such as defaults or enums)."""
    if not isinstance(node, dict):
        return
    yield node
    for key in _MAPS:
        for sub in (node.get(key) or {}).values():
            yield from schema_nodes(sub)
    for key in _ONE:
        yield from schema_nodes(node.get(key))
    for key in _LISTS:
        for sub in node.get(key) or []:
            yield from schema_nodes(sub)


def assert_compact(schema: dict[str, Any], *, refs_allowed: bool = False) -> None:
    """No title in any schema node; no $ref unless allowed; a valid JSON schema."""
    for node in schema_nodes(schema):
        assert "title" not in node, node
        if not refs_allowed:
            assert "$ref" not in node, node
    if not refs_allowed:
        assert "$defs" not in schema and "definitions" not in schema
    jsonschema.Draft202012Validator.check_schema(schema)


def prop(t: Tool, name: str) -> dict[str, Any]:
    return t.parameters["properties"][name]


def agrees(t: Tool, arguments: dict[str, Any]) -> bool:
    """Whether the schema the model sees and the tool's own validation agree on `arguments`."""
    by_schema = jsonschema.Draft202012Validator(t.parameters).is_valid(arguments)
    try:
        t.validate(arguments)
        by_tool = True
    except ArgumentsError:
        by_tool = False
    return by_schema == by_tool


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    """A postal address."""

    street: str
    zip_code: int = 0
    color: Color = Color.RED


class Person(BaseModel):
    name: str
    title: str  # a property named "title" is data, not noise
    home: Address
    past: list[Address] = []
    by_label: dict[str, Address] = {}


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


class Ping(BaseModel):
    pong: Pong | None = None


class Pong(BaseModel):
    ping: Ping | None = None


Ping.model_rebuild()


# -- scalar and container types --------------------------------------------------------------------


def test_scalars() -> None:
    @tool
    def f(s: str, i: int, x: float, b: bool) -> None:
        """F."""

    assert f.parameters == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "x": {"type": "number"},
            "b": {"type": "boolean"},
        },
        "required": ["s", "i", "x", "b"],
        "additionalProperties": False,
    }
    assert_compact(f.parameters)


def test_literal_and_enums() -> None:
    @tool
    def f(mode: Literal["fast", "slow"], color: Color, level: Level = Level.LOW) -> None:
        """F."""

    assert prop(f, "mode")["enum"] == ["fast", "slow"]
    assert prop(f, "color")["enum"] == ["red", "green"]
    assert prop(f, "level")["enum"] == [1, 2]
    assert prop(f, "level")["default"] == 1
    assert f.validate({"mode": "fast", "color": "green"})["color"] is Color.GREEN
    assert_compact(f.parameters)
    for args in ({"mode": "fast", "color": "red"}, {"mode": "medium", "color": "red"}):
        assert agrees(f, args)


def test_optional_and_unions() -> None:
    @tool
    def f(
        a: Optional[int],  # noqa: UP045 - the typing spelling must work too
        b: int | None = None,
        c: Union[int, str] = 1,  # noqa: UP007 - the typing spelling must work too
        d: str | list[str] = "x",
    ) -> None:
        """F."""

    assert f.parameters["required"] == ["a"]
    assert prop(f, "a") == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert prop(f, "b") == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert prop(f, "c")["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert {"type": "array", "items": {"type": "string"}} in prop(f, "d")["anyOf"]
    assert_compact(f.parameters)
    assert f.validate({"a": None}) == {"a": None, "b": None, "c": 1, "d": "x"}


def test_defaults_are_stated_and_not_required() -> None:
    @tool
    def f(a: int, b: str = "x", c: float = 1.5, d: bool = False) -> None:
        """F."""

    assert f.parameters["required"] == ["a"]
    assert [prop(f, n)["default"] for n in "bcd"] == ["x", 1.5, False]
    assert f.validate({"a": 1}) == {"a": 1, "b": "x", "c": 1.5, "d": False}


def test_lists_dicts_tuples() -> None:
    @tool
    def f(
        xs: list[int],
        m: dict[str, float],
        pair: tuple[int, str],
        rest: tuple[int, ...] = (),
    ) -> None:
        """F."""

    assert prop(f, "xs") == {"type": "array", "items": {"type": "integer"}}
    assert prop(f, "m") == {"type": "object", "additionalProperties": {"type": "number"}}
    pair = prop(f, "pair")
    assert pair["type"] == "array"
    assert pair["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert pair["minItems"] == pair["maxItems"] == 2
    assert prop(f, "rest")["items"] == {"type": "integer"}
    assert_compact(f.parameters)
    kwargs = f.validate({"xs": [1, 2], "m": {"k": 1.5}, "pair": [1, "a"]})
    assert kwargs["pair"] == (1, "a")
    for args in (
        {"xs": [1], "m": {}, "pair": [1, "a"]},
        {"xs": [1], "m": {}, "pair": [1, "a", 2]},
        {"xs": "nope", "m": {}, "pair": [1, "a"]},
    ):
        assert agrees(f, args)


def test_dates_and_datetimes() -> None:
    @tool
    def f(
        day: datetime.date,
        at: datetime.datetime | None = None,
        since: datetime.date = datetime.date(2020, 1, 2),
    ) -> None:
        """F."""

    assert prop(f, "day") == {"type": "string", "format": "date"}
    assert {"type": "string", "format": "date-time"} in prop(f, "at")["anyOf"]
    assert prop(f, "since")["default"] == "2020-01-02"
    kwargs = f.validate({"day": "2024-05-06", "at": "2024-05-06T07:08:09Z"})
    assert kwargs["day"] == datetime.date(2024, 5, 6)
    assert kwargs["at"] == datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    with pytest.raises(ArgumentsError):
        f.validate({"day": "not a date"})


# -- models ----------------------------------------------------------------------------------------


def test_nested_models_are_inlined() -> None:
    @tool
    def f(person: Person, extra: Address | None = None) -> None:
        """F."""

    assert_compact(f.parameters)
    person = prop(f, "person")
    assert person["type"] == "object"
    assert person["required"] == ["name", "title", "home"]
    home = person["properties"]["home"]
    assert home["properties"]["street"] == {"type": "string"}
    assert home["properties"]["color"]["enum"] == ["red", "green"]
    assert home["description"] == "A postal address."
    assert person["properties"]["past"]["items"]["properties"]["zip_code"]["type"] == "integer"
    by_label = person["properties"]["by_label"]["additionalProperties"]
    assert by_label["required"] == ["street"]
    assert prop(f, "extra")["anyOf"][0]["properties"]["street"] == {"type": "string"}

    kwargs = f.validate({"person": {"name": "A", "title": "Dr", "home": {"street": "Main"}}})
    assert isinstance(kwargs["person"], Person)
    assert kwargs["person"].home == Address(street="Main")
    good = {"person": {"name": "A", "title": "Dr", "home": {"street": "Main", "zip_code": 1}}}
    bad = {"person": {"name": "A", "title": "Dr", "home": {"zip_code": 1}}}
    assert agrees(f, good) and agrees(f, bad)


def test_a_property_named_title_survives() -> None:
    @tool
    def f(title: str, person: Person) -> None:
        """F."""

    assert prop(f, "title") == {"type": "string"}
    assert "title" in prop(f, "person")["properties"]
    assert "title" in f.parameters["required"]
    assert_compact(f.parameters)


class Titled(BaseModel):
    name: str = Field(title="The Name")


def test_explicit_field_titles_are_dropped() -> None:
    @tool
    def f(item: Titled, n: Annotated[int, Field(title="N")] = 1) -> None:
        """F."""

    assert_compact(f.parameters)


def test_recursive_models_keep_local_defs_and_validate() -> None:
    @tool
    def f(tree: Tree, ping: Ping | None = None) -> None:
        """F."""

    schema = f.parameters
    assert_compact(schema, refs_allowed=True)
    assert set(schema["$defs"]) >= {"Tree", "Ping", "Pong"}
    for node in schema_nodes(schema):
        if "$ref" in node:
            assert node["$ref"].startswith("#/$defs/")
            assert node["$ref"].rsplit("/", 1)[-1] in schema["$defs"]
    validator = jsonschema.Draft202012Validator(schema)
    good = {
        "tree": {"label": "root", "children": [{"label": "a", "children": [{"label": "b"}]}]},
        "ping": {"pong": {"ping": {"pong": None}}},
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({"tree": {"label": "root", "children": [{"children": []}]}})
    kwargs = f.validate(good)
    assert kwargs["tree"].children[0].children[0].label == "b"
    assert agrees(f, good)
    assert agrees(f, {"tree": {"label": "root", "children": [{"label": 5}]}})


def test_annotated_field_constraints() -> None:
    @tool
    def f(
        n: Annotated[int, Field(description="How many.", ge=1, le=5)],
        code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="A code.")] = "ABC",
        ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5,
        tags: Annotated[list[str], Field(max_length=2)] = [],  # noqa: B006
    ) -> None:
        """F."""

    assert prop(f, "n") == {
        "type": "integer",
        "description": "How many.",
        "minimum": 1,
        "maximum": 5,
    }
    assert prop(f, "code")["pattern"] == "^[A-Z]{3}$"
    assert prop(f, "code")["description"] == "A code."
    assert prop(f, "ratio")["exclusiveMinimum"] == 0
    assert prop(f, "ratio")["exclusiveMaximum"] == 1
    assert prop(f, "tags")["maxItems"] == 2
    assert_compact(f.parameters)
    for args in (
        {"n": 3},
        {"n": 0},
        {"n": 6},
        {"n": 3, "code": "abc"},
        {"n": 3, "code": "XYZ"},
        {"n": 3, "ratio": 1.0},
        {"n": 3, "tags": ["a", "b", "c"]},
    ):
        assert agrees(f, args), args


def test_keyword_only_parameters() -> None:
    @tool
    def f(a: int, *, b: str, c: bool = True) -> str:
        """F."""
        return f"{a}{b}{c}"

    assert list(f.parameters["properties"]) == ["a", "b", "c"]
    assert f.parameters["required"] == ["a", "b"]
    assert f(1, b="x") == "1xTrue"


def test_unknown_arguments_are_refused_by_schema_and_validation() -> None:
    @tool
    def f(a: int) -> None:
        """F."""

    assert f.parameters["additionalProperties"] is False
    assert agrees(f, {"a": 1, "z": 2})


# -- descriptions from docstrings ------------------------------------------------------------------


def test_google_docstring() -> None:
    @tool
    def f(city: str, days: int = 1, unit: str = "C") -> str:
        """Forecast the weather.

        Uses the national service.

        Args:
            city: The city name.
            days (int): How many
                days ahead.
            unit: Celsius or Fahrenheit.

        Returns:
            The forecast.
        """
        return ""

    assert f.description == "Forecast the weather.\n\nUses the national service."
    assert prop(f, "city")["description"] == "The city name."
    assert prop(f, "days")["description"] == "How many days ahead."
    assert prop(f, "unit")["description"] == "Celsius or Fahrenheit."
    assert "Returns" not in f.description and "Args" not in f.description


def test_numpy_docstring() -> None:
    @tool
    def f(city: str, days: int = 1) -> str:
        """Forecast the weather.

        Parameters
        ----------
        city : str
            The city name.
        days : int, optional
            How many days.

        Returns
        -------
        str
            The forecast.
        """
        return ""

    assert f.description == "Forecast the weather."
    assert prop(f, "city")["description"] == "The city name."
    assert prop(f, "days")["description"] == "How many days."


def test_rest_docstring() -> None:
    @tool
    def f(city: str, days: int = 1) -> str:
        """Forecast the weather.

        :param city: The city name.
        :param days: How many days.
        :returns: The forecast.
        """
        return ""

    assert f.description == "Forecast the weather."
    assert prop(f, "city")["description"] == "The city name."
    assert prop(f, "days")["description"] == "How many days."


def test_field_description_wins_over_docstring() -> None:
    @tool
    def f(a: Annotated[int, Field(description="From the field.")]) -> None:
        """F.

        Args:
            a: From the docstring.
        """

    assert prop(f, "a")["description"] == "From the field."


def test_no_docstring_no_descriptions() -> None:
    @tool
    def f(a: int) -> None:
        pass

    assert f.description == ""
    assert prop(f, "a") == {"type": "integer"}


def test_explicit_description_and_name() -> None:
    @tool(name="weather_now", description="Current weather.")
    def f(city: str) -> str:
        """Ignored."""
        return city

    assert f.name == "weather_now"
    assert f.description == "Current weather."
    assert f.schema["function"]["name"] == "weather_now"


# -- parameters the model does not fill, and signatures that cannot be tools -----------------------


def test_run_context_is_left_out_of_the_schema() -> None:
    @tool
    def f(ctx: RunContext[dict[str, str]], q: str, *, other: RunContext) -> str:
        """F.

        Args:
            ctx: the run.
            q: the query.
        """
        return q

    assert list(f.parameters["properties"]) == ["q"]
    assert f.parameters["required"] == ["q"]
    assert "ctx" not in str(f.parameters)


def test_an_optional_run_context_is_left_out_of_the_schema() -> None:
    @tool
    def f(q: str, ctx: RunContext | None = None) -> str:
        """F."""
        return q

    assert list(f.parameters["properties"]) == ["q"]


@pytest.mark.parametrize(
    "source",
    [
        "def f(*args: int) -> None: ...",
        "def f(**kwargs: int) -> None: ...",
        "def f(a: int, *rest: str) -> None: ...",
    ],
)
def test_variadic_parameters_are_refused(source: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    with pytest.raises(ToolDefinitionError):
        tool(namespace["f"])


def test_types_without_a_schema_are_refused() -> None:
    class Opaque:
        pass

    def f(x: Opaque) -> None:
        """F."""

    with pytest.raises(ToolDefinitionError):
        tool(f)


def test_unresolvable_annotations_are_refused() -> None:
    def f(x: DoesNotExist) -> None:  # type: ignore[name-defined]  # noqa: F821
        """F."""

    with pytest.raises(ToolDefinitionError):
        tool(f)


def test_tool_definition_error_is_an_agentkit_error() -> None:
    from agentkit.errors import AgentkitError

    assert issubclass(ToolDefinitionError, AgentkitError)


# -- odd signatures --------------------------------------------------------------------------------


def call_tool(t: Tool, arguments: dict[str, Any]) -> Any:
    import asyncio

    return asyncio.run(t.call(t.validate(arguments), RunContext(deps=None)))[0]


def test_positional_only_parameters_are_passed_by_position() -> None:
    # Regression: the call passed them by keyword, so such a tool could never run.
    def f(a: int, b: int = 2, /, c: int = 3) -> list[int]:
        """F."""
        return [a, b, c]

    t = tool(f)
    assert t.parameters["required"] == ["a"]
    assert call_tool(t, {"a": 1, "c": 5}) == [1, 2, 5]
    assert call_tool(t, {"a": 1, "b": 4}) == [1, 4, 3]


def test_positional_only_context_is_filled_in() -> None:
    def f(ctx: RunContext[Any], a: int, /) -> str:
        """F."""
        return f"{ctx.deps}:{a}"

    assert call_tool(tool(f), {"a": 1}) == "None:1"


@pytest.mark.parametrize(
    "name", ["_private", "__dunder", "model_config", "model_dump_json", "json", "schema", "copy"]
)
def test_names_pydantic_reserves_still_work(name: str) -> None:
    # Regression: `_private` and `model_config` vanished from the schema (the tool could never
    # run); `json`, `schema` and `model_dump_json` raised warnings.
    namespace: dict[str, Any] = {}
    exec(
        f"def f({name}: int, other: str = 'x') -> str:\n    return f'{{{name}}}:{{other}}'",
        namespace,
    )
    t = tool(namespace["f"])
    assert t.parameters["properties"] == {
        name: {"type": "integer"},
        "other": {"default": "x", "type": "string"},
    }
    assert t.parameters["required"] == [name]
    assert t.validate({name: "3"}) == {name: 3, "other": "x"}
    assert call_tool(t, {name: 3}) == "3:x"
    with pytest.raises(ArgumentsError, match=f"`{name}`"):
        t.validate({name: "three"})


def test_docstrings_describe_renamed_parameters() -> None:
    def f(_x: int) -> int:
        """F.

        Args:
            _x: The value.
        """
        return _x

    assert tool(f).parameters["properties"]["_x"] == {
        "description": "The value.",
        "type": "integer",
    }


def test_an_alias_chosen_by_the_function_is_what_the_model_sends() -> None:
    def f(a: Annotated[int, Field(alias="alpha")]) -> int:
        """F."""
        return a

    t = tool(f)
    assert list(t.parameters["properties"]) == ["alpha"]
    assert call_tool(t, {"alpha": 2}) == 2


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0, True, "5"])
def test_timeouts_that_cannot_work_are_refused(timeout: Any) -> None:
    # Regression: nan passed the `timeout <= 0` check and no call could ever finish in time.
    def f() -> None:
        """F."""

    with pytest.raises(ToolDefinitionError, match="timeout"):
        tool(timeout=timeout)(f)
