"""The one small interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentkit.errors import ModelError
from agentkit.formats import StableLMFormat, ToolChoice, ToolFormat
from agentkit.messages import ChatMessage, Message, ToolCall
from agentkit.tools import Tool

__all__ = ["Model", "ModelRequest", "ModelResponse", "final_response"]


@dataclass(frozen=True)
class ModelRequest:
    """Everything a model needs for one turn.

    Bundled in one object so that new features never change `Model`'s methods.

    Attributes:
        messages: the chat messages as the format rendered them: what a chat template receives.
        transcript: the provider-neutral transcript (for backends with native tool calling).
        tools: the tools at hand.
        format: the format that rendered `messages` and will parse the reply.
        tool_choice: `"auto"`, `"required"`, `"none"` or a tool name.
        output_schema: the JSON schema of a structured final answer, if one is expected.
        run_id: the run this turn belongs to.
        step: the turn's index in the run, from 0.
        retry: how many failed turns in a row came just before this one (0: a first try). A
            backend may answer differently on a retry, e.g. sample where it decoded greedily.
    """

    messages: list[ChatMessage]
    transcript: list[Message] = field(default_factory=list)
    tools: Sequence[Tool] = ()
    format: ToolFormat = field(default_factory=StableLMFormat)
    tool_choice: ToolChoice = "auto"
    output_schema: dict[str, Any] | None = None
    run_id: str = ""
    step: int = 0
    retry: int = 0


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
        finish_reason: `"stop"`, `"length"` or a backend's own reason.
    """

    text: str = ""
    calls: list[ToolCall] | None = None
    prompt_tokens: int | None = None
    prefilled_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


class Model(ABC):
    """A model backend: receives a `ModelRequest`, returns a `ModelResponse`.

    Only `complete` is required. `stream` yields text deltas then the response; the default
    yields the whole text at once.

    Attributes:
        format: the `ToolFormat` this model speaks.
    """

    format: ToolFormat

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Produce one turn."""

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Yield text deltas as they are generated, then the final `ModelResponse`."""
        response = await self.complete(request)
        if response.text:
            yield response.text
        yield response


async def final_response(parts: AsyncIterator[str | ModelResponse]) -> ModelResponse:
    """Drain a `Model.stream` and return its final `ModelResponse`."""
    response: ModelResponse | None = None
    async for part in parts:
        if isinstance(part, ModelResponse):
            response = part
    if response is None:
        raise ModelError("the model's stream ended without a response")
    return response
