"""Type names of hand-written function lists, and lax coercion of string arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentkit._schema import VALUE_KEYS

__all__ = ["coerce_scalars", "standard_types"]

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
    properties = schema.get("properties")
    out = dict(arguments)
    for name, value in arguments.items():
        sub = properties.get(name) if isinstance(properties, dict) else None
        kind = sub.get("type") if isinstance(sub, dict) else None
        if isinstance(value, str) and isinstance(kind, str) and kind in _SCALARS:
            try:
                out[name] = _SCALARS[kind](value)
            except (ValueError, KeyError):
                pass
    return out
