"""A model that replays raw completion text: for tests and scripted agents."""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeAlias

from agentkit.errors import ModelError, UsageError
from agentkit.formats import StableLMFormat, ToolFormat
from agentkit.models._base import Model, ModelRequest, ModelResponse

__all__ = ["ScriptedModel"]

Reply: TypeAlias = str | Callable[[ModelRequest], str | Awaitable[str]]


class ScriptedModel(Model):
    """Replays completion text exactly as a model would have produced it.

    Args:
        replies: the raw completions, used up in order (a list serves one run at a time), or one
            callable that receives each `ModelRequest` and returns the text (it serves any number
            of runs). A list may also hold callables for single turns.
        format: the format that parses the text (StableLM 2's by default).

    Attributes:
        requests: every `ModelRequest` received, in order; `requests[i].messages` is what a chat
            template would have received at turn `i`.

    Example:
        >>> model = ScriptedModel(['[{"name": "add", "arguments": {"a": 1, "b": 2}}]', "It is 3."])
    """

    def __init__(
        self,
        replies: Iterable[Reply] | Callable[[ModelRequest], str | Awaitable[str]],
        *,
        format: ToolFormat | None = None,
    ) -> None:
        self.format = format or StableLMFormat()
        self._fn: Callable[[ModelRequest], str | Awaitable[str]] | None = None
        self._replies: list[Reply] = []
        if callable(replies):
            self._fn = replies
        elif isinstance(replies, str):
            raise UsageError("ScriptedModel needs a list of replies, not a single string")
        else:
            self._replies = list(replies)
        self._next = 0
        self._lock = threading.Lock()
        self.requests: list[ModelRequest] = []

    @property
    def remaining(self) -> int:
        """Replies not yet used (0 for a callable)."""
        return len(self._replies) - self._next

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Yield the next scripted completion (whole), then its `ModelResponse`."""
        with self._lock:
            self.requests.append(request)
            if self._fn is not None:
                reply: Reply = self._fn
            elif self._next < len(self._replies):
                reply = self._replies[self._next]
                self._next += 1
            else:
                raise ModelError(
                    f"ScriptedModel ran out of replies after {len(self._replies)} turns"
                )
        text = reply(request) if callable(reply) else reply
        if inspect.isawaitable(text):
            text = await text
        if not isinstance(text, str):
            raise ModelError(f"a scripted reply must be a string, got {type(text).__name__}")
        if text:
            yield text
        yield ModelResponse(text=text, finish_reason="stop")
