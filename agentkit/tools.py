"""Tools: plain Python functions the model can call.

`@tool` turns a typed function into a `Tool`; its arguments become a Pydantic model, whose JSON
schema is what the model sees and which validates what the model sends, so the two never
disagree. A `Toolbox` is a named set of tools and gives the model's JSON function list.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel, ValidationError

from agentkit import _schema
from agentkit._calls import (
    DEFAULT_MAX_RESULT_CHARS,
    in_thread,
    is_async_callable,
    serialize_result,
)
from agentkit.errors import ArgumentsError, ToolDefinitionError
from agentkit.messages import Message, Usage

__all__ = ["ArgumentsError", "RunContext", "Tool", "Toolbox", "serialize_result", "tool"]

logger = logging.getLogger("agentkit.tools")

DepsT = TypeVar("DepsT")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


@dataclass
class RunContext(Generic[DepsT]):
    """What a tool may receive from the run instead of from the model.

    A parameter annotated `RunContext` (or `RunContext[MyDeps]`) is left out of the schema and
    filled at call time.

    Attributes:
        deps: the object passed as `agent.run(..., deps=...)` (a database handle, a user id...).
        messages: the transcript so far.
        usage: the run's usage so far.
        run_id: identifies the run.
        call_id: the id of the call being executed.
    """

    deps: DepsT
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    run_id: str = ""
    call_id: str = ""


def _is_context(annotation: Any) -> bool:
    """Whether a parameter asks for the `RunContext` (also as `RunContext | None`)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_context(arg) for arg in typing.get_args(annotation))
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, RunContext)


class Tool:
    """A callable the model can use: a name, a description, a JSON schema of its parameters.

    Build one with `@tool`, `Tool.from_function` or `Tool.from_schema`. Calling a `Tool` calls
    the function unchanged.

    Attributes:
        name: the name the model calls.
        description: what the tool does, for the model.
        parameters: the JSON schema of the arguments (self-contained, no titles).
        timeout: seconds a call may take, or None to use the agent's default.
        strict: validate arguments strictly (no "3" -> 3 coercion).
        inline: run a sync function on the event loop instead of a worker thread. For fast,
            non-blocking functions (pure computation): it saves a thread hand-off per call, but
            such a call cannot be interrupted by its timeout nor run beside others.
        fn: the underlying function, or None for a tool known only by its schema.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: Callable[..., Any] | None = None,
        arguments_model: type[BaseModel] | None = None,
        timeout: float | None = None,
        strict: bool = False,
        inline: bool = False,
        context_params: Iterable[str] = (),
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> None:
        if not _NAME_RE.match(name):
            raise ToolDefinitionError(
                f"invalid tool name {name!r}: use letters, digits, '_', '.', '-' (at most 64)"
            )
        if timeout is not None and timeout <= 0:
            raise ToolDefinitionError(f"tool {name!r}: timeout must be positive, got {timeout}")
        self.name = name
        self.description = description
        self.parameters: dict[str, Any] = dict(parameters)
        self.fn = fn
        self.timeout = timeout
        self.strict = strict
        self.inline = inline
        self.max_result_chars = max_result_chars
        self._arguments_model = arguments_model
        self._context_params = tuple(context_params)
        self._is_async = fn is not None and is_async_callable(fn)
        self._validator: Any = None
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
        inline: bool = False,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> Tool:
        """Make a tool from a typed function (sync or async).

        The description defaults to the docstring; parameter descriptions come from the docstring
        (Google, NumPy or reST) and from `Field(description=...)`.
        """
        if not callable(fn):
            raise ToolDefinitionError(f"@tool needs a function, got {fn!r}")
        tool_name = name or getattr(fn, "__name__", None)
        if not tool_name or tool_name == "<lambda>":
            raise ToolDefinitionError(f"{fn!r} has no usable name: pass @tool(name=...)")
        doc, param_docs = _schema.describe_function(fn)
        model, skipped = _schema.build_arguments_model(fn, model_name=tool_name, skip=_is_context)
        return cls(
            name=tool_name,
            description=doc if description is None else description,
            parameters=_schema.model_schema(model, param_docs),
            fn=fn,
            arguments_model=model,
            timeout=timeout,
            strict=strict,
            inline=inline,
            context_params=skipped,
            max_result_chars=max_result_chars,
        )

    @classmethod
    def from_schema(
        cls,
        schema: Mapping[str, Any],
        fn: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Tool:
        """Make a tool from a JSON function description.

        Accepts an OpenAI function-list entry `{"type": "function", "function": {...}}` or a bare
        `{"name", "description", "parameters"}` (BFCL style). Arguments are checked with
        `jsonschema`; `fn`, if given, receives them as keyword arguments.
        """
        entry = schema.get("function", schema) if schema.get("type") == "function" else schema
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ToolDefinitionError(f"a function description needs a 'name': {dict(schema)!r}")
        parameters = entry.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise ToolDefinitionError(f"tool {entry['name']!r}: 'parameters' must be an object")
        parameters = _schema.standard_types(parameters)
        import jsonschema

        try:
            validator_cls = jsonschema.validators.validator_for(parameters)
            validator_cls.check_schema(parameters)
        except jsonschema.SchemaError as exc:
            raise ToolDefinitionError(f"tool {entry['name']!r}: invalid schema: {exc}") from exc
        made = cls(
            name=entry["name"],
            description=str(entry.get("description") or ""),
            parameters=parameters,
            fn=fn,
            timeout=timeout,
        )
        made._validator = validator_cls(parameters)
        return made

    # -- what the model sees ---------------------------------------------------------------------
    @property
    def schema(self) -> dict[str, Any]:
        """The function-list entry.

        `{"type": "function", "function": {"name", "description", "parameters"}}`.
        """
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly."""
        if self.fn is None:
            raise ToolDefinitionError(f"tool {self.name!r} has no function to call")
        return self.fn(*args, **kwargs)

    # -- validation and execution ----------------------------------------------------------------
    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Check the model's arguments; return the keyword arguments for the function.

        Raises:
            ArgumentsError: with one precise problem per bad argument.
        """
        if self._arguments_model is not None:
            try:
                model = self._arguments_model.model_validate(dict(arguments), strict=self.strict)
            except ValidationError as exc:
                raise ArgumentsError(self.name, self._pydantic_problems(exc)) from None
            return {name: getattr(model, name) for name in type(model).model_fields}
        if self._validator is not None:
            coerced = _schema.coerce_scalars(dict(arguments), self.parameters)
            errors = sorted(self._validator.iter_errors(coerced), key=lambda e: list(e.path))
            if errors:
                raise ArgumentsError(self.name, [self._jsonschema_problem(e) for e in errors])
            return coerced
        return dict(arguments)

    async def invoke(self, arguments: Mapping[str, Any], context: RunContext[Any]) -> Any:
        """Run the function on validated arguments (sync functions run in a worker thread)."""
        if self.fn is None:
            raise ToolDefinitionError(f"tool {self.name!r} has no function to call")
        kwargs = dict(arguments)
        for param in self._context_params:
            kwargs[param] = context
        if self._is_async:
            return await self.fn(**kwargs)
        if self.inline:
            result = self.fn(**kwargs)
        else:
            result = await in_thread(functools.partial(self.fn, **kwargs), self.name)
        if inspect.isawaitable(result):
            return await result
        return result

    @property
    def runs_inline(self) -> bool:
        """Whether calls run on the event loop itself (a sync function marked `inline`)."""
        return self.inline and not self._is_async

    def format_result(self, value: Any) -> str:
        """The text the model sees for a return value (see `serialize_result`)."""
        return serialize_result(value, max_chars=self.max_result_chars)

    def _param_schema(self, name: str) -> str:
        fragment = self.parameters.get("properties", {}).get(name)
        return json.dumps(fragment, ensure_ascii=False) if fragment is not None else ""

    def _pydantic_problems(self, exc: ValidationError) -> list[str]:
        problems = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(part) for part in err["loc"]) or "(arguments)"
            top = str(err["loc"][0]) if err["loc"] else ""
            if err["type"] == "missing":
                text = f"`{loc}` is required but missing"
            elif err["type"] == "extra_forbidden":
                known = ", ".join(self.parameters.get("properties", {})) or "none"
                problems.append(f"`{loc}` is not a parameter of {self.name} (parameters: {known})")
                continue
            else:
                text = f"`{loc}`: {err['msg']} (got {_short(err.get('input'))})"
            expected = self._param_schema(top)
            problems.append(f"{text}; expected {expected}" if expected else text)
        return problems

    def _jsonschema_problem(self, err: Any) -> str:
        path = ".".join(str(p) for p in err.path)
        if not path:
            return str(err.message)
        expected = self._param_schema(str(err.path[0]))
        text = f"`{path}`: {err.message}"
        return f"{text}; expected {expected}" if expected else text


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
    inline: bool = False,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
    inline: bool = False,
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a `Tool`; use as `@tool` or `@tool(name=..., timeout=...)`.

    Example:
        >>> @tool
        ... def add(a: int, b: int = 1) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> add.parameters["required"], add(2, 3)
        (['a'], 5)
    """

    def make(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            f,
            name=name,
            description=description,
            timeout=timeout,
            strict=strict,
            inline=inline,
            max_result_chars=max_result_chars,
        )

    return make if fn is None else make(fn)


class Toolbox:
    """A set of tools with unique names.

    Example:
        >>> box = Toolbox()
        >>> @box.tool
        ... def ping() -> str:
        ...     '''Answer pong.'''
        ...     return "pong"
        >>> box["ping"].name, len(box.schemas())
        ('ping', 1)
    """

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | Callable[..., Any]) -> Tool:
        """Add a tool (a plain function is wrapped with `@tool`)."""
        made = item if isinstance(item, Tool) else Tool.from_function(item)
        if made.name in self._tools:
            raise ToolDefinitionError(f"two tools are named {made.name!r}")
        self._tools[made.name] = made
        return made

    @overload
    def tool(self, fn: Callable[..., Any], /) -> Tool: ...
    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
        inline: bool = False,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> Callable[[Callable[..., Any]], Tool]: ...
    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
        inline: bool = False,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> Tool | Callable[[Callable[..., Any]], Tool]:
        """Register a function as a tool of this box; use as `@box.tool` or `@box.tool(...)`."""

        def register(f: Callable[..., Any]) -> Tool:
            made = tool(
                name=name,
                description=description,
                timeout=timeout,
                strict=strict,
                inline=inline,
                max_result_chars=max_result_chars,
            )(f)
            return self.add(made)

        return register if fn is None else register(fn)

    def schemas(self) -> list[dict[str, Any]]:
        """The JSON function list, one `Tool.schema` per tool."""
        return [t.schema for t in self._tools.values()]

    @property
    def names(self) -> list[str]:
        """The tool names, in registration order."""
        return list(self._tools)

    def resolve(self, name: str) -> Tool | None:
        """Find a tool by a name as a model wrote it, repairing safe slips.

        Exact match first; then ignoring case, `-` versus `_`, and a `functions.` prefix, when
        that matches exactly one tool.
        """
        if name in self._tools:
            return self._tools[name]
        key = _loose(name)
        matches = [t for n, t in self._tools.items() if _loose(n) == key]
        return matches[0] if len(matches) == 1 else None

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"Toolbox({self.names!r})"


def _loose(name: str) -> str:
    name = name.strip().lower().replace("-", "_")
    for prefix in ("functions.", "function.", "tools."):
        name = name.removeprefix(prefix)
    return name
