"""One lenient parser for tool calls in completion text, shared by every format.

It finds calls written as a bare JSON array or object, after prose, in a code fence or inside
wrapper tags (`<tool_call>`, `<|python_tag|>`, `[TOOL_CALLS]`); accepts `arguments` as a JSON
string, `parameters` instead of `arguments`, OpenAI's `{"function": {...}}` nesting, Python-literal
quotes and trailing commas. Prose that merely contains brackets stays prose; an attempted call
that is cut off or unparseable becomes a parse error, never a final answer.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from agentkit.messages import ToolCall

__all__ = ["ParsedReply", "decode_json_lenient", "find_json_end", "parse_reply"]

# An object whose first key is one a call has: the start of an attempted call.
_CALL_START = re.compile(
    r"""(\[\s*)?\{\s*(?:["']?(?:name|function|tool_name|tool|arguments|parameters|id)["']?\s*:"""
    r"""|["']type["']\s*:\s*["']function["'])"""
)
# A reply that ends in the first characters of a call ("[{"na", '{"name"') was cut off.
_PARTIAL_START = re.compile(r"""(?:\[\s*\{|^\s*\{)\s*(?:["']\w*["']?\s*:?\s*)?$""")
_ARG_KEYS = ("arguments", "parameters", "args", "tool_input", "input")
_NAME_KEYS = ("name", "tool_name", "tool")
_BARE_KEYS = {"name", "id", "type"}
# Opening marker -> closing marker (None: the calls run to the end of the reply).
_WRAPPERS: dict[str, str | None] = {
    "<tool_call>": "</tool_call>",
    "<|python_tag|>": None,
    "[TOOL_CALLS]": None,
    "<functioncall>": None,
}
_WRAPPER_START = re.compile("|".join(re.escape(k) for k in _WRAPPERS))
_EMPTY_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*```")


@dataclass
class ParsedReply:
    """What a completion contains.

    Attributes:
        text: the prose (the final answer when there are no calls and no errors).
        calls: the calls found, in order.
        errors: problems with attempted calls (truncated, invalid JSON, bad shape).
    """

    text: str
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        """True when the reply is a final answer: no calls, no attempted calls."""
        return not self.calls and not self.errors


def find_json_end(text: str, start: int) -> int | None:
    """Index just past the bracketed value starting at `start`, or None if it never closes.

    Strings in either quote style are skipped, with backslash escapes.
    """
    depth = 0
    quote: str | None = None
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _python_literal(text: str) -> Any:
    """Read JSON-ish text as a Python literal: single quotes, trailing commas, true/false/null."""
    names = {"true": "True", "false": "False", "null": "None"}
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        tokens.append(tok)
    return ast.literal_eval(tokenize.untokenize(tokens).strip())


def decode_json_lenient(text: str) -> Any:
    """Decode JSON, else read it as a Python literal; raise ValueError with JSON's message."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        raise ValueError("nested too deeply") from None
    try:
        return _python_literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, tokenize.TokenError):
        raise ValueError(first) from None


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit // 2 - 2] + " ... " + text[-limit // 2 :]


def _is_json(value: Any) -> bool:
    """Whether a decoded value is plain JSON (a Python-literal reading may yield sets, bytes...)."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _arguments(raw: Any) -> Any:
    """Arguments as given, decoded when written as a JSON string; a ValueError if that fails."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            return decode_json_lenient(raw) if raw.strip() else {}
        except ValueError as exc:
            return exc
    return raw


def _to_call(
    item: Any, *, explicit: bool, in_array: bool, tool_names: Collection[str], strict: bool
) -> ToolCall | str | None:
    """One decoded item as a call, an error message, or None when it is not a call at all."""
    if not isinstance(item, dict):
        return f"each call must be a JSON object, got {_snippet(repr(item))}"
    if isinstance(item.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        item = item["function"]
    name = next((item[k] for k in _NAME_KEYS if isinstance(item.get(k), str)), None)
    arg_key = next((k for k in _ARG_KEYS if k in item), None)
    if name is None:
        return 'a call needs a "name" (a string)' if explicit or arg_key else None
    bare = in_array and set(item) <= _BARE_KEYS
    if arg_key is None and not (explicit or bare or name in tool_names):
        return None
    arguments = _arguments(item.get(arg_key) if arg_key else None)
    if isinstance(arguments, ValueError):
        return f'the "arguments" string of {name} is not valid JSON: {arguments}'
    if not isinstance(arguments, dict):
        return f'the "arguments" of {name} must be a JSON object, got {_snippet(repr(arguments))}'
    if not (strict or _is_json(arguments)):  # a Python-literal reading may hold sets, bytes...
        return f'the "arguments" of {name} must be JSON (string keys, plain values)'
    call_id = item.get("id")
    if isinstance(call_id, str) and call_id:
        return ToolCall(name=name, arguments=arguments, id=call_id)
    return ToolCall(name=name, arguments=arguments)


def _parse_value(
    span: str, *, explicit: bool, tool_names: Collection[str], out: ParsedReply
) -> bool:
    """Decode one bracketed span into calls; return False when it is not a call (plain prose)."""
    try:
        value = decode_json_lenient(span)
    except ValueError as exc:
        out.errors.append(f"the call is not valid JSON ({exc}): {_snippet(span)}")
        return True
    return _add_calls(value, explicit=explicit, tool_names=tool_names, out=out, strict=False)


def _add_calls(
    value: Any, *, explicit: bool, tool_names: Collection[str], out: ParsedReply, strict: bool
) -> bool:
    """Add the calls a decoded value holds; return False when it is not a call (plain prose)."""
    in_array = isinstance(value, list)
    items = value if in_array else [value]
    if not items:
        if explicit:
            out.errors.append("an empty list of calls: write at least one call")
        return explicit
    results = [
        _to_call(it, explicit=explicit, in_array=in_array, tool_names=tool_names, strict=strict)
        for it in items
    ]
    if all(r is None for r in results) or (
        not explicit
        and not any(isinstance(r, ToolCall) for r in results)
        and all(r is None or not isinstance(it, dict) for r, it in zip(results, items, strict=True))
    ):
        return False
    for r in results:
        if isinstance(r, ToolCall):
            out.calls.append(r)
        elif isinstance(r, str):
            out.errors.append(r)
    return True


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


class _Scanner:
    """Walks a completion once, left to right, so markers inside JSON strings stay data."""

    def __init__(self, text: str, tool_names: Collection[str]) -> None:
        self.text = text
        self.tool_names = tool_names
        self.out = ParsedReply(text="")
        self.prose: list[str] = []

    def run(self) -> ParsedReply:
        text, pos = self.text, 0
        while pos < len(text):
            call = _CALL_START.search(text, pos)
            wrap = _WRAPPER_START.search(text, pos)
            if call is None and wrap is None:
                break
            if wrap is not None and (call is None or wrap.start() <= call.start()):
                self.prose.append(text[pos : wrap.start()])
                pos = self._wrapped(wrap.end(), _WRAPPERS[wrap.group(0)])
            else:
                assert call is not None
                pos = self._bare(call, pos)
        self.prose.append(text[pos:])
        return self._finish()

    def _bare(self, match: re.Match[str], pos: int) -> int:
        """A call written without a wrapper; return where scanning goes on."""
        text, start = self.text, match.start()
        end = find_json_end(text, start)
        if end is None and match.group(1):  # the `[` may open a longer list: try the object
            inner = match.start() + len(match.group(1))
            if (end := find_json_end(text, inner)) is not None:
                start = inner
        self.prose.append(text[pos:start])
        if end is None:
            self.out.errors.append(f"the call is cut off (truncated): {_snippet(text[start:])}")
            return len(text)
        span = text[start:end]
        if not _parse_value(span, explicit=False, tool_names=self.tool_names, out=self.out):
            self.prose.append(span)
        return end

    def _wrapped(self, pos: int, close: str | None) -> int:
        """Calls after a marker such as `<tool_call>`; return where scanning goes on."""
        text, found = self.text, False
        while True:
            pos = _skip_space(text, pos)
            closing = close is not None and text.startswith(close, pos)
            if closing or pos >= len(text):
                if not found:
                    self.out.errors.append("an empty call block: write the call inside it")
                return pos + (len(close) if closing and close else 0)
            if text[pos] not in "[{":
                if found and close is None:
                    return pos  # prose after the calls
                stop = text.find(close, pos) if close else -1
                stop = len(text) if stop < 0 else stop
                self.out.errors.append(f"the call is not valid JSON: {_snippet(text[pos:stop])}")
                return stop + (len(close) if close and stop < len(text) else 0)
            end = find_json_end(text, pos)
            if end is None:
                self.out.errors.append(f"the call is cut off (truncated): {_snippet(text[pos:])}")
                return len(text)
            _parse_value(text[pos:end], explicit=True, tool_names=self.tool_names, out=self.out)
            found = True
            pos = _skip_space(text, end)
            if close is None and text[pos : pos + 1] in (",", ";"):
                pos += 1

    def _finish(self) -> ParsedReply:
        out = self.out
        left = "".join(self.prose)
        if not out.calls and not out.errors and _PARTIAL_START.search(left):
            out.errors.append(f"the reply ends in a cut-off call: {_snippet(left[-40:])}")
        out.text = _EMPTY_FENCE.sub("", left).strip() if (out.calls or out.errors) else left.strip()
        return out


def parse_reply(text: str, *, tool_names: Collection[str] = ()) -> ParsedReply:
    """Split a completion into prose, tool calls and parse errors.

    Args:
        text: the raw completion.
        tool_names: the tools at hand; a bare `{"name": ...}` object counts as a call only when
            it names one of them (otherwise it is JSON prose, e.g. a structured answer).

    Example:
        >>> r = parse_reply('Sure. [{"name": "add", "arguments": {"a": 1}}]')
        >>> r.text, r.calls[0].name, r.calls[0].arguments
        ('Sure.', 'add', {'a': 1})
    """
    stripped = text.strip()
    if not any(ch in stripped for ch in "[{<"):  # plain prose: nothing to look for
        return ParsedReply(text=stripped)
    if stripped[:1] in ("[", "{"):  # the common case: the whole reply is one JSON value
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):  # not strict JSON: the lenient scanner decides
            pass
        else:
            out = ParsedReply(text="")
            if _add_calls(value, explicit=False, tool_names=tool_names, out=out, strict=True):
                return out
            return ParsedReply(text=stripped)
    return _Scanner(text, tool_names).run()
