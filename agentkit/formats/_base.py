"""The `ToolFormat` interface: how one model family writes tools, calls and results as chat text."""

from __future__ import annotations

import copy
import json
import operator
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, Self

from agentkit.errors import UsageError
from agentkit.formats._grammar import reply_grammar
from agentkit.formats._parse import DEFAULT_MAX_REPLY_CHARS, CallScanner, ParsedReply, parse_reply
from agentkit.messages import ChatMessage, Message, ToolCall
from agentkit.tools import Tool

__all__ = ["ToolChoice", "ToolFormat"]

ToolChoice = Literal["auto", "required", "none"] | str
"""`"auto"` (call or answer), `"required"` (must call), `"none"` (text only), or a tool name."""

ResultRole = Literal["tool", "user"]
RenderMemo = dict[int, tuple[list[Message], list[ChatMessage]]]
"""Rendered messages of one run, by the identity of the first message of each group."""


def dumps(value: Any) -> str:
    """JSON as the formats write it: `json.dumps` spacing, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False)


def _positive_int(setting: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{setting} must be an integer of at least 1, got {value!r}")
    return value


class ToolFormat(ABC):
    """A dialect of function calling.

    A format renders a provider-neutral transcript into chat messages for a chat template
    (the function list in the system prompt, calls written as text, results under the configured
    role), parses completion text back into prose, calls and parse errors, and states the JSON
    schema of a valid call payload for constrained decoding.

    Args:
        result_role: how tool results go back: `"tool"` (a ChatML `tool` turn) or `"user"`
            (a user turn prefixed by `result_prefix`).
        max_calls: the most calls one reply may hold, in the reply schema.
        max_reply_chars: the longest reply parsed; a longer one is a parse error (no calls)
            without being scanned.

    Raises:
        UsageError: a setting out of range.
    """

    name: str = "base"
    result_prefix: str = "FUNCTION RESPONSE:"
    stop: tuple[str, ...] = ()
    call_open: str = ""
    call_close: str = ""
    tags: tuple[str, ...] = ()
    """Markers of calls that a tokenizer may hold as single tokens (Qwen's `<tool_call>`)."""
    tag_tokens: Mapping[str, int] = MappingProxyType({})
    """The `tags` written as one token by the tokenizer in use, by id (see `with_tag_tokens`)."""
    one_call_per_block: bool = False
    """Each call is its own tagged block (Hermes) rather than an item of one JSON array."""

    def __init__(
        self,
        *,
        result_role: ResultRole = "tool",
        max_calls: int = 4,
        max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS,
    ) -> None:
        if result_role not in ("tool", "user"):
            raise UsageError(f"result_role must be 'tool' or 'user', got {result_role!r}")
        self.result_role: ResultRole = result_role
        self.max_calls = _positive_int("max_calls", max_calls)
        self.max_reply_chars = _positive_int("max_reply_chars", max_reply_chars)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(result_role={self.result_role!r})"

    # -- the parts each dialect defines ------------------------------------------------------------
    @abstractmethod
    def tools_prompt(self, tools: Sequence[Tool]) -> str:
        """The system-prompt text that lists the tools and says how to call them."""

    @abstractmethod
    def render_calls(self, calls: Sequence[ToolCall]) -> str:
        """The assistant's calls written as the model writes them."""

    @abstractmethod
    def render_result(self, result: Message) -> str:
        """One tool result as text."""

    def reply_schema(
        self, tools: Sequence[Tool], *, tool_choice: ToolChoice = "auto"
    ) -> dict[str, Any] | None:
        """JSON schema of the call payload (None when no call is allowed).

        By default a JSON array of 1 to `max_calls` call objects; formats that write one call
        per block override this.
        """
        one = self.call_schema(tools, tool_choice=tool_choice)
        if one is None:
            return None
        return {"type": "array", "items": one, "minItems": 1, "maxItems": self.max_calls}

    @property
    @abstractmethod
    def call_example(self) -> str:
        """How a call looks in this format, for error messages."""

    # -- shared behaviour ------------------------------------------------------------------------
    def parse(self, text: str, *, tool_names: Collection[str] = ()) -> ParsedReply:
        """Split a completion into prose, calls and parse errors (never raises for bad text).

        Linear in the length of `text`; a text longer than `max_reply_chars` is one parse
        error. A format that overrides this overrides `stream_scanner` to match.
        """
        return parse_reply(text, tool_names=tool_names, max_chars=self.max_reply_chars)

    def stream_scanner(self, tool_names: Collection[str] = ()) -> CallScanner:
        """A scanner that announces the calls of a reply while it streams in.

        `scanner.feed(delta)` returns the calls completed by `delta`: always the first calls
        that `parse` finds in the text so far (same names, arguments and order), never others;
        `scanner.finish()` returns what `parse` returns for the whole text, with the calls
        already announced as the same objects.

        Example:
            >>> from agentkit.formats import HermesFormat
            >>> scanner = HermesFormat().stream_scanner(["add"])
            >>> scanner.feed('<tool_call>{"name": "add", "argu')
            []
            >>> [call.name for call in scanner.feed('ments": {}}</tool_call>')]
            ['add']
            >>> [call.name for call in scanner.finish().calls]
            ['add']
        """
        return CallScanner(tool_names, max_chars=self.max_reply_chars)

    def output_prompt(self, schema: dict[str, Any]) -> str:
        """The instruction that states the schema of a structured final answer."""
        return (
            "When you give your final answer, reply with only a JSON object that matches this "
            f"JSON schema: {dumps(schema)}"
        )

    def call_schema(
        self, tools: Sequence[Tool], *, tool_choice: ToolChoice = "auto"
    ) -> dict[str, Any] | None:
        """JSON schema of one call `{"name": ..., "arguments": {...}}`, allowed tools only."""
        if tool_choice == "none":
            return None
        allowed = [t for t in tools if tool_choice in ("auto", "required") or t.name == tool_choice]
        if not allowed:
            return None
        variants = [
            {
                "type": "object",
                "properties": {"name": {"const": t.name}, "arguments": t.parameters},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for t in allowed
        ]
        return variants[0] if len(variants) == 1 else {"anyOf": variants}

    def grammar(
        self,
        tools: Sequence[Tool],
        *,
        tool_choice: ToolChoice = "auto",
        output_schema: dict[str, Any] | None = None,
    ) -> str:
        """The grammar of a valid reply (llguidance Lark), for constrained decoding.

        `"auto"`: a call or a final answer; `"required"` or a tool name: a call; `"none"`: a
        final answer only. A final answer is JSON of `output_schema` when one is given.
        """
        payload = self.reply_schema(tools, tool_choice=tool_choice) if tools else None
        return reply_grammar(
            payload,
            call_open=self.call_open,
            call_close=self.call_close,
            allow_text=tool_choice in ("auto", "none") or payload is None,
            output_schema=output_schema,
            tag_tokens=self.tag_tokens,
        )

    def planned_grammar(self, calls: Sequence[dict[str, Any]]) -> str:
        """The grammar of a reply that holds exactly these calls, in this order.

        Args:
            calls: one JSON schema per call object (`{"name": ..., "arguments": ...}`), as a
                router's plan decides them (`agentkit.models.shaping`).

        Raises:
            UsageError: no calls.
        """
        if not calls:
            raise UsageError("a planned reply needs at least one call")
        n = len(calls)
        blocks = (
            list(calls)
            if self.one_call_per_block
            else [{"type": "array", "prefixItems": list(calls), "items": False,
                   "minItems": n, "maxItems": n}]
        )  # fmt: skip
        return reply_grammar(
            None,
            call_open=self.call_open,
            call_close=self.call_close,
            allow_text=False,
            tag_tokens=self.tag_tokens,
            blocks=blocks,
        )

    def with_tag_tokens(self, tag_tokens: Mapping[str, int]) -> Self:
        """A copy whose grammar accepts each of its `tags` found in `tag_tokens` as that token.

        Example:
            >>> from agentkit.formats import HermesFormat
            >>> HermesFormat().with_tag_tokens({"<tool_call>": 151657, "<x>": 1}).tag_tokens
            {'<tool_call>': 151657}
        """
        bound = copy.copy(self)
        bound.tag_tokens = {tag: tag_tokens[tag] for tag in self.tags if tag in tag_tokens}
        return bound

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool],
        *,
        output_schema: dict[str, Any] | None = None,
        memo: RenderMemo | None = None,
    ) -> list[ChatMessage]:
        """Render a transcript as the chat messages a template receives.

        Args:
            messages: the transcript.
            tools: the tools at hand (listed in the system prompt).
            output_schema: the schema of a structured final answer, if one is expected.
            memo: a dict kept across the turns of one run, so that messages rendered on an
                earlier turn are not rendered again (a run's transcript only grows).
        """
        system_parts: list[str] = []
        rest = list(messages)
        if rest and rest[0].role == "system":
            system_parts.append(rest.pop(0).content)
        if tools:
            system_parts.append(self._cached_tools_prompt(tuple(tools)))
        if output_schema is not None:
            system_parts.append(self.output_prompt(output_schema))
        out: list[ChatMessage] = []
        if system_parts:
            out.append(ChatMessage("system", "\n\n".join(p for p in system_parts if p)))
        pending: list[Message] = []
        for msg in rest:
            if msg.role == "tool":
                pending.append(msg)
                continue
            if pending:
                out.extend(self._remembered(pending, memo))
                pending = []
            out.extend(self._remembered([msg], memo))
        if pending:
            out.extend(self._remembered(pending, memo))
        return out

    def _remembered(self, group: list[Message], memo: RenderMemo | None) -> list[ChatMessage]:
        """Render a message, or a group of tool results, through the memo."""
        key = id(group[0])
        hit = memo.get(key) if memo is not None else None
        if hit is not None and len(hit[0]) == len(group) and all(map(operator.is_, hit[0], group)):
            return hit[1]
        rendered = (
            self.render_results(group)
            if group[0].role == "tool"
            else [self.render_message(group[0])]
        )
        if memo is not None:
            memo[key] = (group, rendered)  # the group is kept, so its ids cannot be reused
        return rendered

    def _cached_tools_prompt(self, tools: tuple[Tool, ...]) -> str:
        """`tools_prompt`, computed once per set of tools (it is part of every turn's prompt)."""
        cache: dict[tuple[Tool, ...], str] = self.__dict__.setdefault("_tools_prompts", {})
        prompt = cache.get(tools)
        if prompt is None:
            if len(cache) > 64:
                cache.clear()
            prompt = cache[tools] = self.tools_prompt(tools)
        return prompt

    def render_message(self, msg: Message) -> ChatMessage:
        """A system, user or assistant message (never with empty content for calls)."""
        if msg.role == "assistant" and msg.tool_calls:
            calls = self.render_calls(msg.tool_calls)
            text = f"{msg.content}\n{calls}" if msg.content.strip() else calls
            return ChatMessage("assistant", text)
        return ChatMessage(msg.role, msg.content)

    def render_results(self, results: Sequence[Message]) -> list[ChatMessage]:
        """The results of one turn's calls, under the configured role."""
        if self.result_role == "tool":
            return [ChatMessage("tool", self.render_result(r)) for r in results]
        body = "\n".join(self.render_result(r) for r in results)
        return [ChatMessage("user", f"{self.result_prefix}\n{body}")]

    def error_prompt(self, problems: Sequence[str], *, show_syntax: bool = False) -> str:
        """The retry message for a reply that could not be acted on."""
        listed = "\n".join(f"- {p}" for p in problems)
        syntax = (
            f"\nWrite function calls exactly like this: {self.call_example}" if show_syntax else ""
        )
        return f"Your last reply could not be used:\n{listed}{syntax}\nFix this and reply again."
