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

# An object whose first key names a function: the start of an attempted call.
_CALL_START = re.compile(
    r"""(\[\s*)?\{\s*(?:["']?(?:name|function|tool_name|tool)["']?\s*:"""
    r"""|["']type["']\s*:\s*["']function["'])"""
)
# A reply that ends in the first characters of a call ("[{"na") was cut off.
_PARTIAL_START = re.compile(r"""(?:\[\s*\{|^\s*\{)\s*["']?\w*\s*$""")
_ARG_KEYS = ("arguments", "parameters", "args", "tool_input", "input")
_NAME_KEYS = ("name", "tool_name", "tool")
# Opening marker -> closing marker (None: the call runs to the end of the reply).
_WRAPPERS: dict[str, str | None] = {
    "<tool_call>": "</tool_call>",
    "<|python_tag|>": None,
    "[TOOL_CALLS]": None,
    "<functioncall>": None,
}
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
        first = exc
    try:
        return _python_literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, tokenize.TokenError):
        raise ValueError(f"{first.msg} at line {first.lineno} column {first.colno}") from None


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit // 2 - 2] + " ... " + text[-limit // 2 :]


def _to_call(item: Any, *, explicit: bool, tool_names: Collection[str]) -> ToolCall | str | None:
    """One decoded item as a call, an error message, or None when it is not a call at all."""
    if not isinstance(item, dict):
        return f"each call must be a JSON object, got {_snippet(json.dumps(item, default=str))}"
    if isinstance(item.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        item = item["function"]
    name = next((item[k] for k in _NAME_KEYS if isinstance(item.get(k), str)), None)
    arg_key = next((k for k in _ARG_KEYS if k in item), None)
    if name is None:
        return 'a call needs a "name" (a string)' if explicit or arg_key else None
    if arg_key is None and not (explicit or name in tool_names):
        return None
    arguments: Any = item.get(arg_key, {}) if arg_key else {}
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = decode_json_lenient(arguments) if arguments.strip() else {}
        except ValueError as exc:
            return f'the "arguments" string of {name} is not valid JSON: {exc}'
    if not isinstance(arguments, dict):
        return f'the "arguments" of {name} must be a JSON object, got {_snippet(repr(arguments))}'
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
    items = value if isinstance(value, list) else [value]
    in_array = isinstance(value, list)
    results = [_to_call(it, explicit=explicit or in_array, tool_names=tool_names) for it in items]
    if not items or all(r is None for r in results):
        return explicit
    for r in results:
        if isinstance(r, ToolCall):
            out.calls.append(r)
        elif isinstance(r, str):
            out.errors.append(r)
    return True


def _scan(text: str, *, explicit: bool, tool_names: Collection[str], out: ParsedReply) -> str:
    """Find calls in `text`; return the prose left once they are removed."""
    prose: list[str] = []
    pos = 0
    found_any = False
    while True:
        match = _CALL_START.search(text, pos)
        if match is None:
            break
        start = match.start()
        end = find_json_end(text, start)
        if end is None:
            # An array opener may belong to a longer list; retry from the object itself.
            if match.group(1) and (end := find_json_end(text, match.start() + len(match.group(1)))):
                start = match.start() + len(match.group(1))
            else:
                out.errors.append(f"the call is cut off (truncated): {_snippet(text[start:])}")
                prose.append(text[pos:start])
                pos = len(text)
                found_any = True
                break
        if _parse_value(text[start:end], explicit=explicit, tool_names=tool_names, out=out):
            prose.append(text[pos:start])
            found_any = True
        else:
            prose.append(text[pos:end])
        pos = end
    rest = text[pos:]
    if explicit and not found_any and rest.strip():
        stripped = rest.strip()
        if stripped[0] in "[{" and find_json_end(stripped, 0) is None:
            out.errors.append(f"the call is cut off (truncated): {_snippet(stripped)}")
        else:
            _parse_value(stripped, explicit=True, tool_names=tool_names, out=out)
        rest = ""
    prose.append(rest)
    return "".join(prose)


def _split_wrappers(text: str) -> list[tuple[str, bool]]:
    """Split text into (chunk, inside_wrapper) pieces."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    pattern = re.compile("|".join(re.escape(k) for k in _WRAPPERS))
    while (match := pattern.search(text, pos)) is not None:
        pieces.append((text[pos : match.start()], False))
        close = _WRAPPERS[match.group(0)]
        body_start = match.end()
        if close is None:
            end = len(text)
            nxt = pattern.search(text, body_start)
            if nxt is not None and nxt.group(0) == match.group(0):
                end = nxt.start()
            pieces.append((text[body_start:end], True))
            pos = end
            continue
        close_at = text.find(close, body_start)
        if close_at < 0:
            pieces.append((text[body_start:], True))
            pos = len(text)
        else:
            pieces.append((text[body_start:close_at], True))
            pos = close_at + len(close)
    pieces.append((text[pos:], False))
    return pieces


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
    out = ParsedReply(text="")
    prose: list[str] = []
    for chunk, inside in _split_wrappers(text):
        if inside:
            if not chunk.strip():
                out.errors.append("an empty call block: write the call inside it")
                continue
            prose.append(_scan(chunk, explicit=True, tool_names=tool_names, out=out))
        else:
            prose.append(_scan(chunk, explicit=False, tool_names=tool_names, out=out))
    left = "".join(prose)
    if not out.calls and not out.errors and _PARTIAL_START.search(left):
        out.errors.append(f"the reply ends in a cut-off call: {_snippet(left[-40:])}")
    out.text = _EMPTY_FENCE.sub("", left).strip() if (out.calls or out.errors) else left.strip()
    return out
