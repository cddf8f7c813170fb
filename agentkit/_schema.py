"""Function signature + docstring -> Pydantic argument model -> compact JSON schema."""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticSchemaGenerationError,
    ValidationError,
    create_model,
)

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


@dataclass(frozen=True)
class Arguments:
    """How a function's parameters map onto its argument model.

    Attributes:
        model: the Pydantic model of the arguments the model fills.
        context_params: parameters filled with the `RunContext`, not by the model.
        positional: positional-only parameters, in order (they are passed by position).
        renamed: model field -> parameter, for parameters whose name Pydantic reserves (a
            leading `_`, `model_...`, a `BaseModel` attribute): their field has another name
            and the parameter's name as its alias.
    """

    model: type[BaseModel]
    context_params: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)

    def to_kwargs(self, validated: BaseModel) -> dict[str, Any]:
        """The validated arguments, keyed by parameter name."""
        fields = type(validated).model_fields
        return {self.renamed.get(name, name): getattr(validated, name) for name in fields}


def build_arguments_model(
    fn: Callable[..., Any],
    *,
    model_name: str,
    skip: Callable[[Any], bool],
) -> Arguments:
    """Build the Pydantic model of `fn`'s arguments.

    Args:
        fn: the function.
        model_name: a name for the model (it never reaches the schema).
        skip: tells, from a parameter's annotation, whether the model must not fill it.
    """
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
        parameters = list(inspect.signature(fn).parameters.values())
    except Exception as exc:  # NameError for unresolvable forward references, and others
        raise ToolDefinitionError(f"cannot read the signature of {fn!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    skipped: list[str] = []
    renamed: dict[str, str] = {}
    for param in parameters:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"tool {model_name!r}: *{param.name} / **{param.name} cannot be described to a "
                "model; use named parameters"
            )
        annotation = hints.get(param.name, Any)
        if skip(annotation):
            skipped.append(param.name)
            continue
        default = ... if param.default is param.empty else param.default
        key = param.name
        if _reserved(key):
            key = _field_name(key, {p.name for p in parameters} | fields.keys())
            renamed[key] = param.name
            annotation = Annotated[annotation, Field(alias=param.name)]
        fields[key] = (annotation, default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)
    try:
        model = create_model(model_name, __config__=config, **fields)
    except (PydanticSchemaGenerationError, TypeError, ValueError, NameError) as exc:
        raise ToolDefinitionError(f"tool {model_name!r}: {exc}") from exc
    positional = tuple(p.name for p in parameters if p.kind == p.POSITIONAL_ONLY)
    return Arguments(model, tuple(skipped), positional, renamed)


def _reserved(name: str) -> bool:
    """Whether Pydantic would not take `name` as a field name as it is."""
    return name.startswith(("_", "model_")) or hasattr(BaseModel, name)


def _field_name(name: str, taken: Iterable[str]) -> str:
    used = set(taken)
    key = "arg_" + name.lstrip("_")
    while _reserved(key) or key in used:
        key += "_"
    return key


def model_schema(arguments: Arguments, param_docs: Mapping[str, str] | None = None) -> JsonSchema:
    """The compact JSON schema of an argument model, with docstring descriptions added."""
    model = arguments.model
    try:
        schema = model.model_json_schema()
    except (PydanticSchemaGenerationError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot build a JSON schema: {exc}") from exc
    schema = compact_schema(schema)
    schema.pop("description", None)  # the function's docstring is the tool's description
    properties = schema.setdefault("properties", {})
    fields = {arguments.renamed.get(n, n): f for n, f in model.model_fields.items()}
    for name, doc in (param_docs or {}).items():
        found = fields.get(name)
        key = found.alias or name if found is not None else name
        if key in properties and found is not None and found.description is None:
            rest = {k: v for k, v in properties[key].items() if k != "description"}
            properties[key] = {"description": doc, **rest}
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


VALUE_KEYS = ("default", "enum", "const", "examples")
"""Schema keywords whose value is data, not a schema (the walkers leave them as they are)."""


def pydantic_problems(exc: ValidationError, tool: str, parameters: JsonSchema) -> list[str]:
    """One message per validation error, addressed to the model, with the expected schema."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        top = str(err["loc"][0]) if err["loc"] else ""
        if err["type"] == "missing":
            text = f"`{loc}` is required but missing"
        elif err["type"] == "extra_forbidden":
            known = ", ".join(parameters.get("properties", {})) or "none"
            problems.append(f"`{loc}` is not a parameter of {tool} (parameters: {known})")
            continue
        else:
            text = f"`{loc}`: {err['msg']} (got {_short(err.get('input'))})"
        expected = param_schema(parameters, top)
        problems.append(f"{text}; expected {expected}" if expected else text)
    return problems


def param_schema(parameters: JsonSchema, name: str) -> str:
    """The JSON text of one parameter's schema, or "" when there is none."""
    properties = parameters.get("properties")
    fragment = properties.get(name) if isinstance(properties, dict) else None
    return json.dumps(fragment, ensure_ascii=False) if fragment is not None else ""


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # a value may fail even to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
