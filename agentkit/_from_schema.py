"""Tools known by a JSON function description: reading, checking and validating against it.

A description is checked once, when the tool is made, for what could never work: a schema
nested too deeply, a `false` subschema where a value is expected, a `$ref` that does not
resolve inside the schema or that refers to itself without reaching a value, a pattern that
does not compile. `true` subschemas become `{}` (the same meaning), so that code reading the
schema finds a mapping wherever a schema is expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import jsonschema

from agentkit import _patterns
from agentkit._type_names import coerce_scalars, standard_types
from agentkit.errors import ArgumentsError, ToolDefinitionError

__all__ = ["MAX_DEPTH", "SchemaValidator", "read_entry"]

MAX_DEPTH = 64
"""The deepest nesting of objects and arrays a function description may have."""
MAX_NODES = 100_000
"""The most objects and arrays a function description may hold."""

# How each keyword holding subschemas applies them: to the value itself ("here"), to parts of
# it ("inside"), or not at all: definitions, reached only by `$ref`.
_HERE, _INSIDE, _DEFINED = "here", "inside", "defined"
_KEYWORDS = {
    **dict.fromkeys(("not", "if", "then", "else", "allOf", "anyOf", "oneOf"), _HERE),
    "dependentSchemas": _HERE,
    **dict.fromkeys(("properties", "patternProperties", "prefixItems", "items"), _INSIDE),
    **dict.fromkeys(("additionalProperties", "contains", "propertyNames"), _INSIDE),
    **dict.fromkeys(("unevaluatedProperties", "unevaluatedItems", "additionalItems"), _INSIDE),
    **dict.fromkeys(("$defs", "definitions"), _DEFINED),
}
_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
# Where `true` / `false` are the usual way to say "anything more" / "nothing more".
_BOOLEANS_KEPT = ("additionalProperties", "unevaluatedProperties", "items", "additionalItems")
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")

Path = tuple[str, ...]


def read_entry(schema: Any) -> tuple[str, str, dict[str, Any]]:
    """Name, description and checked parameters of an OpenAI or BFCL function description.

    Raises:
        ToolDefinitionError: the description is not an object, has no name, or its parameters
            cannot work.
    """
    if not isinstance(schema, Mapping):
        raise ToolDefinitionError(f"a function description must be an object, got {schema!r:.80}")
    entry = schema.get("function", schema) if schema.get("type") == "function" else schema
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ToolDefinitionError(f"a function description needs a 'name': {schema!r:.200}")
    name: str = entry["name"]
    parameters = entry.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise ToolDefinitionError(f"tool {name!r}: 'parameters' must be an object")
    try:
        return name, str(entry.get("description") or ""), _checked(parameters)
    except ToolDefinitionError as exc:
        raise ToolDefinitionError(f"tool {name!r}: {exc}") from None


def _checked(parameters: Mapping[str, Any]) -> dict[str, Any]:
    _check_size(parameters)
    schema = standard_types(parameters)
    nodes = _schema_nodes(schema)
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        raise ToolDefinitionError(f"the arguments are an object, but the schema says {kind!r}")
    for path, node in nodes:
        _check_node(schema, path, node)
    if any("unevaluatedProperties" in n for _, n in nodes):
        if any("patternProperties" in n for _, n in nodes):
            raise ToolDefinitionError("unevaluatedProperties with patternProperties is unsupported")
    _check_ref_cycles(schema, nodes)
    return schema


def _check_size(parameters: Mapping[str, Any]) -> None:
    todo: list[tuple[Any, int]] = [(parameters, 1)]
    count = 0
    while todo:
        node, depth = todo.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            limit = f"nested deeper than {MAX_DEPTH}" if depth > MAX_DEPTH else "too large"
            raise ToolDefinitionError(f"the parameters schema is {limit}")
        children = node.values() if isinstance(node, Mapping) else node
        todo.extend((c, depth + 1) for c in children if isinstance(c, Mapping | list))


def _schema_nodes(schema: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    """Every subschema with its path; `true` subschemas become `{}` in place.

    Raises:
        ToolDefinitionError: a `false` subschema where a value is expected.
    """
    found: list[tuple[Path, dict[str, Any]]] = []
    todo: list[tuple[Path, dict[str, Any]]] = [((), schema)]
    while todo:
        path, node = todo.pop()
        found.append((path, node))
        for key in [k for k in node if k in _KEYWORDS]:
            for container, index, below, sub in _slots(node, key):
                if isinstance(sub, bool) and key not in _BOOLEANS_KEPT:
                    if not sub:
                        where = "/".join(("#", *path, key, *below))
                        raise ToolDefinitionError(f"'{where}' is false: no value could be valid")
                    container[index] = sub = {}
                if isinstance(sub, dict):
                    todo.append(((*path, key, *below), sub))
    return found


def _slots(node: dict[str, Any], key: str) -> Iterator[tuple[Any, Any, Path, Any]]:
    """(container, index in it, path below the keyword, subschema) for a keyword's subschemas."""
    value = node[key]
    if key in _MAPS:
        if isinstance(value, dict):
            for name, sub in value.items():
                yield value, name, (name,), sub
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield value, index, (str(index),), sub
    else:
        yield node, key, (), value


def _check_node(root: dict[str, Any], path: Path, node: dict[str, Any]) -> None:
    if path and "$id" in node:
        raise ToolDefinitionError(f"'{'/'.join(path)}': a nested $id is unsupported")
    for key in _REFS:
        if key in node:
            _resolve(root, node[key])
    patterns = list(node.get("patternProperties") or ())
    if isinstance(node.get("pattern"), str):
        patterns.append(node["pattern"])
    for pattern in patterns:
        try:
            _patterns.compile_pattern(pattern)
        except Exception as exc:  # regex.error, and TypeError for a non-string
            raise ToolDefinitionError(f"pattern {pattern!r} does not compile: {exc}") from None


def _resolve(root: dict[str, Any], ref: Any) -> Path:
    """The path a local `$ref` points to.

    Raises:
        ToolDefinitionError: not a reference inside this schema, or nothing there.
    """
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise ToolDefinitionError(f"$ref {ref!r}: only references inside the schema ('#/...')")
    if ref not in ("#", "#/") and not ref.startswith("#/"):
        raise ToolDefinitionError(f"$ref {ref!r}: anchors are unsupported; use '#/$defs/...'")
    path = tuple(
        unquote(part).replace("~1", "/").replace("~0", "~")
        for part in ref[2:].split("/")
        if ref[2:]
    )
    node: Any = root
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ToolDefinitionError(f"$ref {ref!r} does not resolve in the schema")
    if not isinstance(node, dict | bool):
        raise ToolDefinitionError(f"$ref {ref!r} points to something that is not a schema")
    return path


def _check_ref_cycles(root: dict[str, Any], nodes: list[tuple[Path, dict[str, Any]]]) -> None:
    """Refuse references that lead back to themselves without entering the value.

    `{"properties": {"child": {"$ref": "#"}}}` is a tree and fine; `{"$ref": "#"}`, or two
    definitions referring to each other directly, would send validation round forever.
    """
    by_path = dict(nodes)
    edges: dict[Path, list[Path]] = {}
    for path, node in nodes:
        targets = [_resolve(root, node[key]) for key in _REFS if key in node]
        for key in node:
            if _KEYWORDS.get(key) == _HERE:
                targets += [(*path, key, *below) for _, _, below, _ in _slots(node, key)]
        edges[path] = [t for t in targets if t in by_path]
    state: dict[Path, int] = {}  # 1: on the current walk, 2: done
    for start in edges:
        if start not in state:
            _walk(start, edges, state)


def _walk(start: Path, edges: dict[Path, list[Path]], state: dict[Path, int]) -> None:
    stack: list[tuple[Path, Iterator[Path]]] = [(start, iter(edges.get(start, ())))]
    state[start] = 1
    while stack:
        path, successors = stack[-1]
        following = next(successors, None)
        if following is None:
            state[path] = 2
            stack.pop()
        elif state.get(following) == 1:
            shown = " -> ".join("#/" + "/".join(p) for p in (*(p for p, _ in stack), following))
            raise ToolDefinitionError(f"$ref cycle that never reaches a value: {shown}")
        elif following not in state:
            state[following] = 1
            stack.append((following, iter(edges.get(following, ()))))


class SchemaValidator:
    """Checks a call's arguments against a function description's parameters."""

    def __init__(self, tool: str, parameters: dict[str, Any]) -> None:
        base = jsonschema.validators.validator_for(parameters)
        try:
            base.check_schema(parameters)
        except jsonschema.SchemaError as exc:
            raise ToolDefinitionError(f"tool {tool!r}: invalid schema: {exc.message}") from exc
        bounded = jsonschema.validators.extend(base, _patterns.KEYWORDS)
        self._validator = bounded(parameters)
        self._tool = tool
        self._parameters = parameters

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments, scalars coerced from strings where the schema asks.

        Raises:
            ArgumentsError: one problem per error.
        """
        coerced = coerce_scalars(dict(arguments), self._parameters)
        try:
            with _patterns.budget():
                errors = sorted(self._validator.iter_errors(coerced), key=lambda e: list(e.path))
        except RecursionError:
            raise ArgumentsError(self._tool, ["the arguments are nested too deeply"]) from None
        if errors:
            raise ArgumentsError(self._tool, [self._problem(e) for e in errors])
        return coerced

    def _problem(self, err: jsonschema.ValidationError) -> str:
        from agentkit._schema import param_schema

        path = ".".join(str(p) for p in err.path)
        if not path:
            return str(err.message)
        expected = param_schema(self._parameters, str(err.path[0]))
        text = f"`{path}`: {err.message}"
        return f"{text}; expected {expected}" if expected else text
