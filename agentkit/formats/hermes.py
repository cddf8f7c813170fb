"""Hermes-style function calling: `<tool_call>` tags (Qwen2.5, Hermes 2 Pro, SmolLM2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentkit.formats._base import ToolChoice, ToolFormat, dumps
from agentkit.messages import Message, ToolCall
from agentkit.tools import Tool

__all__ = ["HermesFormat"]


class HermesFormat(ToolFormat):
    """Hermes dialect: tools in `<tools>`, calls in `<tool_call>`, results in `<tool_response>`.

    Qwen2.5's tokenizer holds `<tool_call>` and `</tool_call>` as single added tokens, which
    the model writes instead of the text. `with_tag_tokens` (of every format) gives a copy whose
    grammar accepts them (a local backend binds its tokenizer's ids); the parser and the stream
    scanner find a call whether the tags come back as text or were dropped in decoding.

    Example:
        >>> reply = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
        >>> HermesFormat().parse(reply).calls[0].name
        'f'
    """

    name = "hermes"
    stop = ("<|im_end|>",)
    result_prefix = ""
    call_open = "<tool_call>\n"
    call_close = "\n</tool_call>"
    tags = ("<tool_call>", "</tool_call>")
    one_call_per_block = True

    def tools_prompt(self, tools: Sequence[Tool]) -> str:
        """The Hermes/Qwen tool system prompt."""
        listed = "\n".join(dumps(t.schema) for t in tools)
        return (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            f"<tools>\n{listed}\n</tools>\n\n"
            "For each function call, return a json object with function name and arguments "
            "within <tool_call></tool_call> XML tags:\n"
            '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
        )

    def render_calls(self, calls: Sequence[ToolCall]) -> str:
        """One `<tool_call>` block per call."""
        return "\n".join(
            f"<tool_call>\n{dumps({'name': c.name, 'arguments': c.arguments})}\n</tool_call>"
            for c in calls
        )

    def render_result(self, result: Message) -> str:
        """A `<tool_response>` block with the tool name and its result."""
        body = dumps({"name": result.name, "content": result.content})
        return f"<tool_response>\n{body}\n</tool_response>"

    def reply_schema(
        self, tools: Sequence[Tool], *, tool_choice: ToolChoice = "auto"
    ) -> dict[str, Any] | None:
        """One call object (each `<tool_call>` block holds one)."""
        return self.call_schema(tools, tool_choice=tool_choice)

    @property
    def call_example(self) -> str:
        """A call in this format."""
        return '<tool_call>\n{"name": "<function name>", "arguments": {<arguments>}}\n</tool_call>'
