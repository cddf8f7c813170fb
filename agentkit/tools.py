"""Tools: plain Python functions the model can call.

`@tool` turns a typed function into a `Tool` whose arguments are a Pydantic model: its JSON
schema is what the model sees and it validates what the model sends. A `Toolbox` is a named set
of tools. `@tool` on `def add(a: int) -> int` gives a `Tool[[int], int]` for type checkers.
Sync tools run on a bounded pool of worker threads (`configure_workers`); what a tool may raise
is described in `ToolCrashed`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, overload

from pydantic import ValidationError
from typing_extensions import ParamSpec, TypeVar, Unpack

import agentkit._schema as _schema
from agentkit._calls import (
    DEFAULT_MAX_RESULT_CHARS,
    ToolCrashed,
    await_contained,
    call_contained,
    in_thread,
    is_async_callable,
    serialize_result,
    small_result,
)
from agentkit._context import RunContext, is_context, loose_name
from agentkit._options import ApprovalCheck, ToolOptions, check_options
from agentkit._workers import WorkerLimits, WorkersExhausted, configure_workers
from agentkit.errors import ArgumentsError, ToolDefinitionError

if TYPE_CHECKING:
    from agentkit._from_schema import SchemaValidator
    from agentkit.guardrails import Guardrail

__all__ = [
    "ApprovalCheck",
    "ArgumentsError",
    "RunContext",
    "Tool",
    "ToolCrashed",
    "ToolOptions",
    "Toolbox",
    "WorkerLimits",
    "WorkersExhausted",
    "configure_workers",
    "serialize_result",
    "tool",
]

P = ParamSpec("P", default=...)
R = TypeVar("R", default=Any)
_P = ParamSpec("_P")
_R = TypeVar("_R")


class Tool(Generic[P, R]):
    """A callable the model can use: a name, a description, a JSON schema of its parameters.

    Build one with `@tool`, `Tool.from_function` or `Tool.from_schema`. Calling a `Tool` calls
    the function unchanged. Each option of `ToolOptions` (`name`, `description`, `timeout`,
    `strict`, `inline`, `max_result_chars`, `guardrails`, `requires_approval`, `isolated`) is an
    attribute, described there; the class attributes are the defaults.

    Attributes:
        parameters: the JSON schema of the arguments (self-contained, no titles).
        fn: the underlying function, or None for a tool known only by its schema.
    """

    name: str
    description: str = ""
    timeout: float | None = None
    strict: bool = False
    inline: bool = False
    max_result_chars: int = DEFAULT_MAX_RESULT_CHARS
    guardrails: tuple[Guardrail, ...] = ()
    requires_approval: bool | ApprovalCheck = False
    isolated: bool = False

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        fn: Callable[P, R] | None = None,
        arguments: _schema.Arguments | None = None,
        **options: Unpack[ToolOptions],
    ) -> None:
        vars(self).update(check_options(options, Tool))
        if fn is not None and not callable(fn):
            raise ToolDefinitionError(f"tool {self.name!r}: {fn!r} is not callable")
        self.parameters: dict[str, Any] = dict(parameters)
        self.fn = fn
        self._arguments = arguments
        self._validator: SchemaValidator | None = None
        self._is_async = fn is not None and is_async_callable(fn)
        if self.isolated:
            from agentkit._isolated import check_isolatable

            context = arguments is not None and bool(arguments.context_params)
            check_isolatable(self.name, fn, has_context=context, inline=self.inline)
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_function(cls, fn: Callable[_P, _R], **options: Unpack[ToolOptions]) -> Tool[_P, _R]:
        """Make a tool from a typed function (sync or async).

        The description defaults to the docstring; parameter descriptions come from the docstring
        (Google, NumPy or reST) and from `Field(description=...)`. Positional-only parameters
        are passed by position; parameters Pydantic reserves (`_x`, `model_config`, `json`...)
        keep their names in the schema.

        Raises:
            ToolDefinitionError: the function cannot become a tool (a `*args` parameter, a type
                without a JSON schema, no usable name, a bad option...).
        """
        if not callable(fn):
            raise ToolDefinitionError(f"@tool needs a function, got {fn!r}")
        name = options.get("name") or getattr(fn, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            raise ToolDefinitionError(f"{fn!r} has no usable name: pass @tool(name=...)")
        doc, param_docs = _schema.describe_function(fn)
        arguments = _schema.build_arguments_model(fn, model_name=name, skip=is_context)
        options["name"] = name
        if options.get("description") is None:
            options["description"] = doc
        parameters = _schema.model_schema(arguments, param_docs)
        return Tool(parameters=parameters, fn=fn, arguments=arguments, **options)

    @classmethod
    def from_schema(
        cls,
        schema: Mapping[str, Any],
        fn: Callable[..., Any] | None = None,
        **options: Unpack[ToolOptions],
    ) -> Tool[..., Any]:
        """Make a tool from a JSON function description.

        Accepts an OpenAI function-list entry `{"type": "function", "function": {...}}` or a bare
        `{"name", "description", "parameters"}` (BFCL style). Arguments are checked with
        `jsonschema` (regular expressions within a time budget); `fn`, if given, receives them
        as keyword arguments.

        Raises:
            ToolDefinitionError: the description cannot work: not an object, no name, an
                invalid schema, a `$ref` that does not resolve or loops, a `false` subschema
                where a value is expected, a pattern that does not compile, deep nesting.
        """
        from agentkit._from_schema import SchemaValidator, read_entry

        name, description, parameters = read_entry(schema)
        options["name"] = options.get("name") or name
        if options.get("description") is None:
            options["description"] = description
        made: Tool[..., Any] = Tool(parameters=parameters, fn=fn, **options)
        made._validator = SchemaValidator(made.name, parameters)
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

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
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
        if not isinstance(arguments, Mapping):
            problem = f"the arguments must be an object, got {type(arguments).__name__}"
            raise ArgumentsError(self.name, [problem])
        if self._validator is not None:
            return self._validator.validate(arguments)
        if self._arguments is None:
            return dict(arguments)
        try:
            model = self._arguments.model.model_validate(dict(arguments), strict=self.strict)
        except ValidationError as exc:
            problems = _schema.pydantic_problems(exc, self.name, self.parameters)
            raise ArgumentsError(self.name, problems) from None
        except RecursionError:
            raise ArgumentsError(self.name, ["the arguments are nested too deeply"]) from None
        return self._arguments.to_kwargs(model)

    async def call(self, arguments: Mapping[str, Any], context: RunContext[Any]) -> tuple[Any, str]:
        """Run the function on validated arguments; return its value and the text the model sees.

        A sync function runs on a worker thread (unless `inline`), where its value is also
        formatted; an async function's value is formatted on a worker thread unless it is a
        short string. So a huge result never holds up the event loop. An `isolated` tool runs
        in a worker process (see `agentkit._isolated`): its value comes back as JSON, and a
        call given up (its timeout) kills the process.

        Raises:
            ToolCrashed: the function raised `SystemExit`, `StopIteration` or another exception
                that must not escape a call (carried as `.original`).
            WorkersExhausted: no worker thread can take the call.
        """
        value, text = await self._run(arguments, context, formatted=True)
        return value, text if text is not None else await self._format(value)

    async def invoke(self, arguments: Mapping[str, Any], context: RunContext[Any]) -> Any:
        """Run the function on validated arguments and return its value (see `call`)."""
        value, _ = await self._run(arguments, context, formatted=False)
        return value

    @property
    def runs_inline(self) -> bool:
        """Whether calls run on the event loop itself (a sync function marked `inline`)."""
        return self.inline and not self._is_async

    def format_result(self, value: Any) -> str:
        """The text the model sees for a return value (see `serialize_result`)."""
        return serialize_result(value, max_chars=self.max_result_chars)

    async def _run(
        self, arguments: Mapping[str, Any], context: RunContext[Any], *, formatted: bool
    ) -> tuple[Any, str | None]:
        """The function's value and, if `formatted` and done on the worker thread, its text."""
        if self.isolated and self.fn is not None:  # in a worker process, as JSON both ways
            from agentkit._isolated import call_isolated

            return await call_isolated(self.name, self.fn, arguments, self.max_result_chars)
        job = self._job(arguments, context)
        if self._is_async or self.inline:
            value, text = call_contained(job, self.name), None
        else:
            work = functools.partial(self._in_worker, job, formatted)
            value, text = await in_thread(work, self.name)
        if inspect.isawaitable(value):
            value = await await_contained(value, self.name)
        return value, text

    def _in_worker(self, job: Callable[[], Any], formatted: bool) -> tuple[Any, str | None]:
        """Run a sync function and, unless it gave an awaitable, format its value."""
        value = job()
        if not formatted or inspect.isawaitable(value):
            return value, None
        return value, self.format_result(value)

    async def _format(self, value: Any) -> str:
        if small_result(value, self.max_result_chars):  # cheaper here than a thread hand-off
            return self.format_result(value)
        work = functools.partial(self.format_result, value)
        text: str = await in_thread(work, self.name, refuse_when_stuck=False)
        return text

    def _job(self, arguments: Mapping[str, Any], context: RunContext[Any]) -> Callable[[], Any]:
        """The function bound to its arguments: context filled in, positional-only by position."""
        if self.fn is None:
            raise ToolDefinitionError(f"tool {self.name!r} has no function to call")
        kwargs = dict(arguments)
        args = []
        if self._arguments is not None:
            for param in self._arguments.context_params:
                kwargs[param] = context
            for param in self._arguments.positional:
                if param not in kwargs:
                    break
                args.append(kwargs.pop(param))
        return functools.partial(self.fn, *args, **kwargs)


@overload
def tool(fn: Callable[_P, _R], /) -> Tool[_P, _R]: ...
@overload
def tool(
    fn: None = None, /, **options: Unpack[ToolOptions]
) -> Callable[[Callable[_P, _R]], Tool[_P, _R]]: ...
def tool(
    fn: Callable[_P, _R] | None = None, /, **options: Unpack[ToolOptions]
) -> Tool[_P, _R] | Callable[[Callable[_P, _R]], Tool[_P, _R]]:
    """Turn a typed function into a `Tool`; use as `@tool` or `@tool(name=..., timeout=...)`.

    The options are those of `ToolOptions`.

    Example:
        >>> @tool
        ... def add(a: int, b: int = 1) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> add.parameters["required"], add(2, 3)
        (['a'], 5)
    """

    def make(f: Callable[_P, _R]) -> Tool[_P, _R]:
        return Tool.from_function(f, **options)

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
    def tool(self, fn: Callable[_P, _R], /) -> Tool[_P, _R]: ...
    @overload
    def tool(
        self, fn: None = None, /, **options: Unpack[ToolOptions]
    ) -> Callable[[Callable[_P, _R]], Tool[_P, _R]]: ...
    def tool(
        self, fn: Callable[_P, _R] | None = None, /, **options: Unpack[ToolOptions]
    ) -> Tool[_P, _R] | Callable[[Callable[_P, _R]], Tool[_P, _R]]:
        """Register a function as a tool of this box; use as `@box.tool` or `@box.tool(...)`.

        The options are those of `ToolOptions`.
        """

        def register(f: Callable[_P, _R]) -> Tool[_P, _R]:
            made = Tool.from_function(f, **options)
            self.add(made)
            return made

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
        key = loose_name(name)
        matches = [t for n, t in self._tools.items() if loose_name(n) == key]
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
