"""What a tool may receive from the run instead of from the model."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

from agentkit.messages import Message, Usage

__all__ = ["RunContext", "is_context", "loose_name"]

DepsT = TypeVar("DepsT")


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


def is_context(annotation: Any) -> bool:
    """Whether a parameter asks for the `RunContext` (also as `RunContext | None`)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(is_context(arg) for arg in typing.get_args(annotation))
    origin = typing.get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, RunContext)


def loose_name(name: str) -> str:
    """A tool name as compared loosely: case, `-` versus `_` and a `functions.` prefix ignored."""
    name = name.strip().lower().replace("-", "_")
    for prefix in ("functions.", "function.", "tools."):
        name = name.removeprefix(prefix)
    return name
