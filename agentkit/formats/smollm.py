"""SmolLM2's own function-calling format: one `<tool_call>[...]</tool_call>` JSON array."""

from __future__ import annotations

from collections.abc import Sequence

from agentkit.formats._base import ToolFormat, dumps
from agentkit.messages import Message, ToolCall
from agentkit.tools import Tool

__all__ = ["SmolLM2Format"]


class SmolLM2Format(ToolFormat):
    """The format SmolLM2-Instruct was tuned on: a JSON array of calls inside `<tool_call>` tags.

    Example:
        >>> reply = '<tool_call>[{"name": "f", "arguments": {}}]</tool_call>'
        >>> SmolLM2Format().parse(reply).calls[0].name
        'f'
    """

    name = "smollm2"
    stop = ("<|im_end|>",)
    call_open = "<tool_call>"
    call_close = "</tool_call>"

    def tools_prompt(self, tools: Sequence[Tool]) -> str:
        """SmolLM2's tool system prompt."""
        listed = dumps([t.schema["function"] for t in tools])
        return (
            "You are an expert in composing functions. You are given a question and a set of "
            "possible functions. Based on the question, you will need to make one or more "
            "function/tool calls to achieve the purpose. If none of the functions can be used, "
            "answer the question directly.\n\n"
            f"You have access to the following tools:\n<tools>{listed}</tools>\n\n"
            "To call functions, reply with only this format:\n"
            '<tool_call>[{"name": "func_name1", "arguments": {"argument1": "value1"}}]</tool_call>'
        )

    def render_calls(self, calls: Sequence[ToolCall]) -> str:
        """The calls as one tagged JSON array."""
        body = dumps([{"name": c.name, "arguments": c.arguments} for c in calls])
        return f"<tool_call>{body}</tool_call>"

    def render_result(self, result: Message) -> str:
        """The tool name and its result as JSON."""
        return dumps({"name": result.name, "content": result.content})

    @property
    def call_example(self) -> str:
        """A call in this format."""
        return '<tool_call>[{"name": "<function name>", "arguments": {<arguments>}}]</tool_call>'
