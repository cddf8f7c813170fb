"""StableLM 2 Chat's function calling: a JSON function list in the system prompt, JSON arrays."""

from __future__ import annotations

from collections.abc import Sequence

from agentkit.formats._base import ToolFormat, dumps
from agentkit.messages import Message, ToolCall
from agentkit.tools import Tool

__all__ = ["StableLMFormat"]

PREAMBLE = (
    "You are a helpful assistant with access to the following functions. "
    "You must use them if required -\n"
)


class StableLMFormat(ToolFormat):
    """The reference dialect (StableLM 2 12B Chat, ChatML).

    The system prompt is `PREAMBLE` followed by the JSON function list, after the user's own
    system prompt if any. The model calls with a bare JSON array
    `[{"name": ..., "arguments": {...}}]`, which is also how its calls are written back into the
    transcript (the template fails on empty content). Results go back as ChatML `tool` turns, or
    with `result_role="user"` as a user turn starting `FUNCTION RESPONSE:`.

    Example:
        >>> StableLMFormat().parse('[{"name": "f", "arguments": {}}]').calls[0].name
        'f'
    """

    name = "stablelm"
    stop = ("<|im_end|>",)

    def tools_prompt(self, tools: Sequence[Tool]) -> str:
        """`PREAMBLE` and the JSON function list."""
        return PREAMBLE + dumps([t.schema for t in tools])

    def render_calls(self, calls: Sequence[ToolCall]) -> str:
        """The calls as one JSON array."""
        return dumps([{"name": c.name, "arguments": c.arguments} for c in calls])

    def render_result(self, result: Message) -> str:
        """The result text; under the user role, prefixed by the tool name."""
        if self.result_role == "user":
            return dumps({"name": result.name, "content": result.content})
        return result.content

    @property
    def call_example(self) -> str:
        """A call in this format."""
        return '[{"name": "<function name>", "arguments": {<arguments>}}]'
