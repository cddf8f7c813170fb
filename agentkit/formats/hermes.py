"""Hermes-style function calling: `<tool_call>` tags (Qwen2.5, Hermes 2 Pro, SmolLM2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentkit.formats._base import ToolChoice, ToolFormat, dumps
from agentkit.messages import ChatMessage, Message, ToolCall
from agentkit.tools import Tool

__all__ = ["HermesFormat"]

WORD_JOINER = "\u2060"
"""Put inside a tag found in untrusted text: invisible, and it keeps the tag from one token."""


class HermesFormat(ToolFormat):
    """Hermes dialect: tools in `<tools>`, calls in `<tool_call>`, results in `<tool_response>`.

    Qwen2.5's tokenizer holds `<tool_call>` and `</tool_call>` as single added tokens, which
    the model writes instead of the text. `with_tag_tokens` (of every format) gives a copy whose
    grammar accepts them (a local backend binds its tokenizer's ids); the parser and the stream
    scanner find a call whether the tags come back as text or were dropped in decoding.

    The same tokenizer would also read a tag written in a user message or a tool result as
    that token (it is not a special token, so chat prompts do not split it), which makes a
    forged call look like the model's own. So tags in that text get an invisible word joiner
    after their `<`: they read the same and stay plain text.

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
        """A `<tool_response>` block with the tool name and its result (tags in it defused)."""
        body = dumps({"name": result.name, "content": self._defused(result.content)})
        return f"<tool_response>\n{body}\n</tool_response>"

    def render_message(self, msg: Message) -> ChatMessage:
        """As every format does, with the call tags in a user message defused.

        A retry message (agentkit's own, `is_error`) keeps its call example as written.
        """
        if msg.role != "user":
            return super().render_message(msg)
        keep = self.call_example if msg.is_error else ""
        return ChatMessage("user", self._defused(msg.content, keep=keep))

    def _defused(self, text: str, *, keep: str = "") -> str:
        r"""`text` with a word joiner inside each call tag, except in the pieces equal to `keep`.

        Example:
            >>> HermesFormat()._defused("<tool_call>{}") == "<\u2060tool_call>{}"
            True
        """
        if not any(tag in text for tag in self.tags):
            return text
        if keep and keep in text:
            return keep.join(self._defused(piece) for piece in text.split(keep))
        for tag in self.tags:
            text = text.replace(tag, f"{tag[0]}{WORD_JOINER}{tag[1:]}")
        return text

    def reply_schema(
        self, tools: Sequence[Tool], *, tool_choice: ToolChoice = "auto"
    ) -> dict[str, Any] | None:
        """One call object (each `<tool_call>` block holds one)."""
        return self.call_schema(tools, tool_choice=tool_choice)

    @property
    def call_example(self) -> str:
        """A call in this format."""
        return '<tool_call>\n{"name": "<function name>", "arguments": {<arguments>}}\n</tool_call>'
