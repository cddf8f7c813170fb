"""The one small interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.errors import ModelError
from agentkit.formats import StableLMFormat, ToolChoice, ToolFormat
from agentkit.formats._base import RenderMemo
from agentkit.messages import ChatMessage, Message, ToolCall
from agentkit.tools import Tool

__all__ = ["Model", "ModelRequest", "ModelResponse"]

_UNSET: Any = object()


class ModelRequest:
    """Everything a model needs for one turn.

    Bundled in one object so that new features never change `Model`'s methods. Text backends
    read `messages`; backends with native tool calling read `transcript` and `tools`, and the
    transcript is then never rendered.

    Attributes:
        messages: the chat messages as the format renders them: what a chat template receives.
            Rendered from the transcript on first access unless given.
        transcript: the provider-neutral transcript.
        tools: the tools at hand.
        format: the format that renders `messages` and parses the reply.
        tool_choice: `"auto"`, `"required"`, `"none"` or a tool name.
        output_schema: the JSON schema of a structured final answer, if one is expected.
        run_id: the run this turn belongs to.
        step: the turn's index in the run, from 0.
        retry: how many failed turns in a row came just before this one (0: a first try). A
            backend may answer differently on a retry, e.g. sample where it decoded greedily.

    Example:
        >>> request = ModelRequest(transcript=[Message.user("Hi")])
        >>> [m.role for m in request.messages]
        ['user']
    """

    __slots__ = (
        "_memo",
        "_messages",
        "format",
        "output_schema",
        "retry",
        "run_id",
        "step",
        "tool_choice",
        "tools",
        "transcript",
    )

    def __init__(
        self,
        messages: Sequence[ChatMessage] | None = None,
        *,
        transcript: Sequence[Message] = (),
        tools: Sequence[Tool] = (),
        format: ToolFormat | None = None,
        tool_choice: ToolChoice = "auto",
        output_schema: dict[str, Any] | None = None,
        run_id: str = "",
        step: int = 0,
        retry: int = 0,
        memo: RenderMemo | None = None,
    ) -> None:
        self._messages = list(messages) if messages is not None else None
        self.transcript = list(transcript)
        self.tools: Sequence[Tool] = list(tools)
        self.format: ToolFormat = format or StableLMFormat()
        self.tool_choice = tool_choice
        self.output_schema = output_schema
        self.run_id = run_id
        self.step = step
        self.retry = retry
        self._memo = memo

    @property
    def messages(self) -> list[ChatMessage]:
        """The chat messages as the format renders them (rendered once, on first access)."""
        if self._messages is None:
            self._messages = self.format.render(
                self.transcript, self.tools, output_schema=self.output_schema, memo=self._memo
            )
        return self._messages

    def replace(
        self,
        *,
        tools: Sequence[Tool] = _UNSET,
        tool_choice: ToolChoice = _UNSET,
        messages: Sequence[ChatMessage] | None = _UNSET,
    ) -> ModelRequest:
        """A copy with other tools or tool choice; its messages are rendered anew for them."""
        return ModelRequest(
            None if messages is _UNSET else messages,
            transcript=self.transcript,
            tools=self.tools if tools is _UNSET else tools,
            format=self.format,
            tool_choice=self.tool_choice if tool_choice is _UNSET else tool_choice,
            output_schema=self.output_schema,
            run_id=self.run_id,
            step=self.step,
            retry=self.retry,
        )

    def __repr__(self) -> str:
        return (
            f"ModelRequest(run_id={self.run_id!r}, step={self.step}, "
            f"messages={len(self.transcript)}, tools={[t.name for t in self.tools]!r}, "
            f"tool_choice={self.tool_choice!r})"
        )


@dataclass
class ModelResponse:
    """One model turn.

    Attributes:
        text: the completion text (text backends), or the prose of a native reply.
        calls: calls made through a native tool-calling API; None for text backends, whose
            text the format parses.
        prompt_tokens: prompt tokens, where known.
        prefilled_tokens: prompt tokens actually computed (fewer with KV-cache reuse), where known.
        completion_tokens: generated tokens, where known.
        finish_reason: `"stop"`, `"length"` (cut at the token limit) or a backend's own reason.
        token_ids: the generated token ids, where the backend sees them (local models).
    """

    text: str = ""
    calls: list[ToolCall] | None = None
    prompt_tokens: int | None = None
    prefilled_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    token_ids: list[int] | None = None

    @property
    def truncated(self) -> bool:
        """Whether the reply was cut at the token limit."""
        return self.finish_reason == "length"


class Model(ABC):
    """A model backend: streams one turn for a `ModelRequest`.

    Only `stream` is required: it yields text deltas as they are generated, then exactly one
    `ModelResponse` last. `complete` drains it. `release` lets a backend drop what it keeps
    for a run (a KV cache); the agent calls it when a run ends.

    Attributes:
        format: the `ToolFormat` this model speaks (the agent renders requests with it).

    Example:
        >>> class Echo(Model):
        ...     format = StableLMFormat()
        ...     async def stream(self, request):
        ...         text = request.transcript[-1].content
        ...         yield text
        ...         yield ModelResponse(text=text, finish_reason="stop")
        >>> import asyncio
        >>> asyncio.run(Echo().complete(ModelRequest(transcript=[Message.user("hi")]))).text
        'hi'
    """

    format: ToolFormat

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Yield text deltas as they are generated, then the final `ModelResponse`."""

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Produce one turn: the last item of `stream`.

        Raises:
            ModelError: the stream ended without a `ModelResponse`.
        """
        response: ModelResponse | None = None
        async for part in self.stream(request):
            if isinstance(part, ModelResponse):
                response = part
        if response is None:
            raise ModelError(f"{type(self).__name__}'s stream ended without a response")
        return response

    def release(self, run_id: str) -> None:  # noqa: B027 - an optional hook, empty by default
        """Drop whatever the backend keeps for a run; called once when the run ends."""
