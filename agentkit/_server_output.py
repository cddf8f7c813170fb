"""`response_format` as structured output: a variant of the served agent per JSON schema.

The variant is the same agent with an `output_type` whose JSON schema is the client's and whose
validation is `jsonschema`'s (through `Tool.from_schema`, which checks the schema and bounds its
regular expressions). So the agent states the schema to the model (local models constrain
decoding with it) and an answer that does not match it is a failed turn the model retries, as
with any `output_type`.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from agentkit._server_wire import ApiError
from agentkit.agent import Agent
from agentkit.errors import ArgumentsError, ToolDefinitionError
from agentkit.tools import Tool

__all__ = ["AgentVariants", "schema_output_type"]

MAX_VARIANTS = 32
"""Schemas whose agent variants are kept (the least recently used one goes first)."""


def schema_output_type(schema: dict[str, Any]) -> Any:
    """A type Pydantic validates as a JSON object matching `schema` (described by it, too).

    Raises:
        ApiError: 400 when the schema is not a usable object schema.

    Example:
        >>> from pydantic import TypeAdapter
        >>> kind = schema_output_type({"type": "object", "required": ["x"]})
        >>> TypeAdapter(kind).validate_python({"x": 1})
        {'x': 1}
    """
    kind = schema.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and "object" in kind):
        raise ApiError(
            400, "response_format: the schema must describe a JSON object", param="response_format"
        )
    try:
        checker = Tool.from_schema({"name": "response", "parameters": schema})
    except ToolDefinitionError as exc:
        message = str(exc).removeprefix("tool 'response': ")
        raise ApiError(400, f"response_format: {message}", param="response_format") from None

    def check(value: dict[str, Any]) -> dict[str, Any]:
        try:
            return checker.validate(value)
        except ArgumentsError as exc:
            raise ValueError("; ".join(exc.problems)) from None

    described = _inlined(schema)  # Pydantic cannot resolve a client's own `$ref`s
    return Annotated[dict[str, Any], WithJsonSchema(described), AfterValidator(check)]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local `$ref`s replaced by what they name (`$defs`/`definitions`).

    Raises:
        ApiError: 400 for a recursive or unresolvable reference (not usable as a description).
    """
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if not ref.startswith(("#/$defs/", "#/definitions/")) or name not in defs:
                raise ApiError(
                    400, f"response_format: unsupported $ref {ref!r}", param="response_format"
                )
            if name in seen:
                raise ApiError(
                    400,
                    "response_format: recursive schemas are not supported",
                    param="response_format",
                )
            rest = {k: walk(v, seen) for k, v in node.items() if k != "$ref"}
            return {**walk(defs[name], (*seen, name)), **rest}
        return {k: walk(v, seen) for k, v in node.items() if k not in ("$defs", "definitions")}

    inlined: dict[str, Any] = walk(schema, ())
    return inlined


class AgentVariants:
    """The served agent, or its variant for a `response_format` schema (a bounded cache)."""

    def __init__(self, agent: Agent[Any, Any]) -> None:
        self.agent = agent
        self._cache: OrderedDict[str, Agent[Any, Any]] = OrderedDict()

    def get(self, schema: dict[str, Any] | None) -> Agent[Any, Any]:
        """The agent whose answers match `schema` (the agent itself when there is none).

        Raises:
            ApiError: 400 when the schema cannot be used.
        """
        if schema is None:
            return self.agent
        key = json.dumps(schema, sort_keys=True)
        variant = self._cache.get(key)
        if variant is None:
            variant = copy.copy(self.agent)  # configuration only: sharing model and tools is safe
            variant.output_type = schema_output_type(schema)
            self._cache[key] = variant
            if len(self._cache) > MAX_VARIANTS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return variant
