"""From decoded JSON to tool calls: what counts as a call, and the errors of attempted calls."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from agentkit.formats._json import (
    MAX_ARGUMENT_DEPTH,
    check_json,
    clean_strings,
    decode_json_lenient,
    describe,
    replace_surrogates,
    snippet,
)
from agentkit.messages import ToolCall

__all__ = ["CALL_OBJECT", "MAX_ERRORS", "MAX_OPENER", "OPENER", "WRAPPERS", "ListItem"]
__all__ += ["ParsedReply", "ReplyBuilder"]

MAX_ERRORS = 8
"""The most parse errors one reply reports (the rest are counted in one last line)."""

# Opening marker -> closing marker (None: the calls run to the end of the reply).
WRAPPERS: dict[str, str | None] = {
    "<tool_call>": "</tool_call>",
    "<|python_tag|>": None,
    "[TOOL_CALLS]": None,
    "<functioncall>": None,
}
_WS_RUN = 64
_S = rf"\s{{0,{_WS_RUN}}}"  # the whitespace a call opener may hold between its parts
_KEY = rf"""["']?(?:name|function|tool_name|tool|arguments|parameters|id)["']?{_S}:"""
_TYPE = rf"""["']type["']{_S}:{_S}["']function["']"""
_CALL = rf"\{{{_S}(?:{_KEY}|{_TYPE})"
CALL_OBJECT = re.compile(_CALL)
"""The start of an object whose first key is one a call has: an attempted call."""
OPENER = re.compile(
    "(?P<wrap>" + "|".join(re.escape(k) for k in WRAPPERS) + rf")|(?P<array>\[{_S})?{_CALL}"
)
"""A wrapper tag, or a call object (maybe opening a list): where calls start."""
MAX_OPENER = 4 * _WS_RUN + 40
"""No match of `OPENER` is longer."""
_ARG_KEYS = ("arguments", "parameters", "args", "tool_input", "input")
_NAME_KEYS = ("name", "tool_name", "tool")
_BARE_KEYS = {"name", "id", "type"}
# After the last `{`, the first characters of a call ('"na', '"name":'), right-stripped.
_AFTER_BRACE = re.compile(r"""\s*(?:["']\w*["']?\s*:?)?""")
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


@dataclass
class ListItem:
    """An item of a list that starts with a call object, read both ways.

    Attributes:
        start: where the item starts in the text of the list.
        stop: where it ends.
        in_list: what it is as an item of a list of calls: a call, an error, or nothing.
        alone: what it is on its own, for when the `[` turns out not to open a list.
        is_object: whether it is a JSON object.
    """

    start: int
    stop: int
    in_list: ToolCall | str | None
    alone: ToolCall | str | None
    is_object: bool

    @property
    def agrees(self) -> bool:
        """Whether it is a call either way, or a call neither way."""
        return isinstance(self.in_list, ToolCall) == isinstance(self.alone, ToolCall)


def _ends_in_call_start(text: str) -> bool:
    """Whether `text` ends in the first characters of a call (`[{"na`, `{"name"`): cut off.

    Example:
        >>> _ends_in_call_start('Sure: [{"name"'), _ends_in_call_start('Sure: {"name"')
        (True, False)
    """
    text = text.rstrip()
    brace = text.rfind("{")
    if brace < 0 or not _AFTER_BRACE.fullmatch(text, brace + 1):
        return False
    before = text[:brace].rstrip()
    return not before or before.endswith("[")


def _label(name: str) -> str:
    """A tool name as error messages quote it (a model may write a huge one)."""
    return name if len(name) <= 64 else snippet(name, 64)


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


def _checked_arguments(name: str, raw: Any) -> dict[str, Any] | str:
    """The arguments of a call as a JSON object, or the error message."""
    arguments = _arguments(raw)
    if isinstance(arguments, ValueError):
        return f'the "arguments" string of {_label(name)} is not valid JSON: {arguments}'
    if not isinstance(arguments, dict):
        return f'the "arguments" of {_label(name)} must be a JSON object, got {describe(arguments)}'
    problem, surrogates = check_json(arguments, max_depth=MAX_ARGUMENT_DEPTH)
    if problem is not None and problem.startswith("nested"):
        return f'the "arguments" of {_label(name)} are {problem}'
    if problem is not None:
        return f'the "arguments" of {_label(name)} must be JSON (string keys, plain values)'
    return clean_strings(arguments) if surrogates else arguments


def to_call(
    item: Any, *, explicit: bool, in_array: bool, tool_names: Collection[str]
) -> ToolCall | str | None:
    """One decoded item as a call, an error message, or None when it is not a call at all."""
    if not isinstance(item, dict):
        return f"each call must be a JSON object, got {describe(item)}"
    if isinstance(item.get("function"), dict):  # OpenAI: {"type": "function", "function": {...}}
        item = item["function"]
    name = next((item[k] for k in _NAME_KEYS if isinstance(item.get(k), str)), None)
    arg_key = next((k for k in _ARG_KEYS if k in item), None)
    if name is None:
        return 'a call needs a "name" (a string)' if explicit or arg_key else None
    bare = in_array and set(item) <= _BARE_KEYS
    if arg_key is None and not (explicit or bare or name in tool_names):
        return None
    name = replace_surrogates(name)
    arguments = _checked_arguments(name, item.get(arg_key) if arg_key else None)
    if isinstance(arguments, str):
        return arguments
    call_id = item.get("id")
    if isinstance(call_id, str) and call_id:
        return ToolCall(name=name, arguments=arguments, id=replace_surrogates(call_id))
    return ToolCall(name=name, arguments=arguments)


class ReplyBuilder:
    """Collects the prose, calls and errors of one reply as a scan finds them."""

    def __init__(self, tool_names: Collection[str]) -> None:
        self.tool_names = tool_names
        self.prose: list[str] = []
        self.calls: list[ToolCall] = []
        self.errors: list[str] = []
        self.more_errors = 0

    def error(self, message: str) -> None:
        """Record a problem (past `MAX_ERRORS`, only counted)."""
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)
        else:
            self.more_errors += 1

    def add_span(self, span: str, *, explicit: bool) -> bool:
        """Decode one bracketed span into calls; False when it is not a call (plain prose)."""
        try:
            value = decode_json_lenient(span)
        except ValueError as exc:
            self.error(f"the call is not valid JSON ({exc}): {snippet(span)}")
            return True
        return self.add_value(value, explicit=explicit)

    def add_value(self, value: Any, *, explicit: bool) -> bool:
        """Add the calls a decoded value holds; False when it is not a call (plain prose)."""
        in_array = isinstance(value, list)
        items = value if in_array else [value]
        if not items:
            if explicit:
                self.error("an empty list of calls: write at least one call")
            return explicit
        names = self.tool_names
        results = [
            to_call(it, explicit=explicit, in_array=in_array, tool_names=names) for it in items
        ]
        if all(r is None for r in results) or (
            not explicit
            and not any(isinstance(r, ToolCall) for r in results)
            and all(
                r is None or not isinstance(it, dict) for r, it in zip(results, items, strict=True)
            )
        ):
            return False
        for r in results:
            if isinstance(r, ToolCall):
                self.calls.append(r)
            elif isinstance(r, str):
                self.error(r)
        return True

    def list_item(self, text: str, start: int, stop: int) -> ListItem:
        """Read one item of a list that starts with a call object."""
        callish = CALL_OBJECT.match(text) is not None  # only call objects count alone
        try:
            value = decode_json_lenient(text)
        except ValueError as exc:
            error = f"the call is not valid JSON ({exc}): {snippet(text)}"
            attempted = text.startswith("{")  # an object that does not decode: a broken call
            return ListItem(start, stop, error, error if callish else None, is_object=attempted)
        names = self.tool_names
        alone = (
            to_call(value, explicit=False, in_array=False, tool_names=names) if callish else None
        )
        in_list = (
            alone
            if isinstance(alone, ToolCall)  # the same call either way: one object
            else to_call(value, explicit=False, in_array=True, tool_names=names)
        )
        return ListItem(start, stop, in_list, alone, is_object=isinstance(value, dict))

    def close_list(self, text: str, items: list[ListItem], announced: set[int]) -> None:
        """A list that closed: its calls and errors, or prose when it holds no call."""
        if not any(isinstance(item.in_list, ToolCall) for item in items) and all(
            item.in_list is None or not item.is_object for item in items
        ):
            self.prose.append(text)
            return
        for index, item in enumerate(items):
            if isinstance(item.in_list, str):
                self.error(item.in_list)
            elif item.in_list is not None and index not in announced:
                self.calls.append(item.in_list)

    def items_alone(self, text: str, items: list[ListItem], announced: set[int]) -> int:
        """A `[` that did not close as a list: each item on its own; where the items end."""
        last = 0
        for index, item in enumerate(items):
            self.prose.append(text[last : item.start])
            last = item.stop
            if isinstance(item.alone, str):
                self.error(item.alone)
            elif item.alone is None:
                self.prose.append(text[item.start : item.stop])
            elif index not in announced:
                self.calls.append(item.alone)
        return last

    def result(self) -> ParsedReply:
        """The reply as parsed so far, read as a whole reply."""
        errors = list(self.errors)
        left = "".join(self.prose)
        if not self.calls and not errors and _ends_in_call_start(left):
            errors.append(f"the reply ends in a cut-off call: {snippet(left[-40:])}")
        if self.more_errors:
            errors.append(f"... and {self.more_errors} more problems like these")
        attempted = bool(self.calls or errors)
        text = _EMPTY_FENCE.sub("", left).strip() if attempted else left.strip()
        return ParsedReply(text=text, calls=list(self.calls), errors=errors)
