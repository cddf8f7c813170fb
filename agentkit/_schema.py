"""Function signature + docstring -> Pydantic argument model -> compact JSON schema."""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, PydanticSchemaGenerationError, create_model

from agentkit.errors import ToolDefinitionError

JsonSchema = dict[str, Any]

# Keys whose value is a map of name -> schema, a single schema, or a list of schemas.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_ONE = (
    "items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
)  # fmt: skip
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def describe_function(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """Return the description of `fn` and the descriptions of its parameters, from its docstring.

    Google, NumPy and reST (Sphinx) styles are understood.
    """
    doc = inspect.getdoc(fn)
    if not doc:
        return "", {}
    import docstring_parser  # imported here: only tool definition needs it

    parsed = docstring_parser.parse(doc)
    parts = [p for p in (parsed.short_description, parsed.long_description) if p]
    params = {p.arg_name: " ".join(p.description.split()) for p in parsed.params if p.description}
    return "\n\n".join(parts).strip(), params


def build_arguments_model(
    fn: Callable[..., Any],
    *,
    model_name: str,
    skip: Callable[[Any], bool],
) -> tuple[type[BaseModel], list[str]]:
    """Build the Pydantic model of `fn`'s arguments.

    Args:
        fn: the function.
        model_name: a name for the model (it never reaches the schema).
        skip: tells, from a parameter's annotation, whether the model must not fill it.

    Returns:
        The model and the names of the skipped (injected) parameters.
    """
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for unresolvable forward references, and others
        raise ToolDefinitionError(f"cannot resolve the type hints of {fn!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    skipped: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"tool {model_name!r}: *{param.name} / **{param.name} cannot be described to a "
                "model; use named parameters"
            )
        annotation = hints.get(param.name, Any)
        if skip(annotation):
            skipped.append(param.name)
            continue
        if param.default is param.empty:
            fields[param.name] = (annotation, ...)
        else:
            fields[param.name] = (annotation, param.default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    try:
        model = create_model(model_name, __config__=config, **fields)
    except (PydanticSchemaGenerationError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {model_name!r}: {exc}") from exc
    return model, skipped


def model_schema(model: type[BaseModel], param_docs: dict[str, str] | None = None) -> JsonSchema:
    """The compact JSON schema of an argument model, with docstring descriptions added."""
    try:
        schema = model.model_json_schema()
    except (PydanticSchemaGenerationError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot build a JSON schema: {exc}") from exc
    schema = compact_schema(schema)
    schema.pop("description", None)  # the function's docstring is the tool's description
    properties = schema.setdefault("properties", {})
    for name, doc in (param_docs or {}).items():
        field = model.model_fields.get(name)
        if name in properties and field is not None and field.description is None:
            rest = {k: v for k, v in properties[name].items() if k != "description"}
            properties[name] = {"description": doc, **rest}
    schema.setdefault("type", "object")
    return schema


def compact_schema(schema: JsonSchema) -> JsonSchema:
    """Inline every `$ref` except recursive ones and drop `title` keys.

    Small models do not follow references, and titles only cost prompt tokens. Recursive
    definitions cannot be inlined: they stay in a local `$defs`.
    """
    schema = copy.deepcopy(schema)
    defs: dict[str, JsonSchema] = {**schema.pop("definitions", {}), **schema.pop("$defs", {})}
    recursive = _recursive_defs(defs)
    kept: dict[str, JsonSchema] = {}

    def resolve(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and (name := _ref_name(ref)) in defs:
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if name in recursive:
                if name not in kept and name not in stack:
                    kept[name] = {}  # placeholder: breaks the cycle while resolving
                    kept[name] = resolve(defs[name], (*stack, name))
                return {"$ref": f"#/$defs/{name}", **_clean_node(siblings, stack, resolve)}
            inlined = resolve(defs[name], (*stack, name))
            return {**inlined, **_clean_node(siblings, stack, resolve)}
        return _clean_node(node, stack, resolve)

    result: JsonSchema = resolve(schema, ())
    if kept:
        result["$defs"] = kept
    return result


def _clean_node(
    node: JsonSchema, stack: tuple[str, ...], resolve: Callable[[Any, tuple[str, ...]], Any]
) -> JsonSchema:
    out: JsonSchema = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: resolve(sub, stack) for name, sub in value.items()}
        elif key in _SCHEMA_ONE or key in _SCHEMA_LISTS:
            out[key] = resolve(value, stack)
        else:
            out[key] = value
    return out


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _refs_in(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield _ref_name(ref)
        for value in node.values():
            yield from _refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs_in(item)


def _recursive_defs(defs: dict[str, JsonSchema]) -> set[str]:
    graph = {name: set(_refs_in(body)) & defs.keys() for name, body in defs.items()}
    recursive: set[str] = set()
    for start in graph:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            name = todo.pop()
            if name == start:
                recursive.add(start)
                break
            if name not in seen:
                seen.add(name)
                todo.extend(graph[name])
    return recursive


# BFCL and other hand-written function lists use Python type names.
_TYPE_NAMES = {
    # Python's names
    "dict": "object",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
    "str": "string",
    "list": "array",
    "tuple": "array",
    # Java's and JavaScript's, as function lists written for them spell them
    "String": "string",
    "char": "string",
    "Boolean": "boolean",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "Bigint": "integer",
    "double": "number",
    "Array": "array",
    "ArrayList": "array",
    "Queue": "array",
    "Stack": "array",
    "HashMap": "object",
    "Hashtable": "object",
}
_ANY_TYPES = {"any", "Any", ""}
VALUE_KEYS = ("default", "enum", "const", "examples")
"""Schema keywords whose value is data, not a schema (the walkers leave them as they are)."""


def standard_types(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a schema with other languages' type names mapped to JSON Schema's.

    Python's (`dict` -> `object`), Java's and JavaScript's (`HashMap` -> `object`, `long` ->
    `integer`); `any` drops the type. Values (`default`, `enum`, ...) are kept as they are, but
    a parameter that happens to be named `default` or `enum` is still a schema.
    """

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "type" and isinstance(value, str):
                if value in _ANY_TYPES:
                    continue
                out[key] = _TYPE_NAMES.get(value, value)
            elif key == "properties" and isinstance(value, Mapping):
                out[key] = {name: fix(sub) for name, sub in value.items()}
            elif key in VALUE_KEYS:
                out[key] = value
            else:
                out[key] = fix(value)
        return out

    fixed: dict[str, Any] = fix(schema)
    return fixed


_SCALARS: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "number": float,
    "boolean": lambda s: {"true": True, "false": False}[s.strip().lower()],
}


def coerce_scalars(arguments: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Lax coercion of top-level string arguments to the scalar type their schema asks for."""
    properties = schema.get("properties", {})
    out = dict(arguments)
    for name, value in arguments.items():
        kind = properties.get(name, {}).get("type") if isinstance(properties, dict) else None
        if isinstance(value, str) and isinstance(kind, str) and kind in _SCALARS:
            try:
                out[name] = _SCALARS[kind](value)
            except (ValueError, KeyError):
                pass
    return out
