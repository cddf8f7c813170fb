r"""One lenient parser for tool calls in completion text, shared by every format.

It finds calls written as a bare JSON array or object, after prose, in a code fence or inside
wrapper tags (`<tool_call>`, `<|python_tag|>`, `[TOOL_CALLS]`); accepts `arguments` as a JSON
string, `parameters` instead of `arguments`, OpenAI's `{"function": {...}}` nesting, Python-literal
quotes and trailing commas. Prose that merely contains brackets stays prose; an attempted call
that is cut off or unparseable becomes a parse error, never a final answer.

The rules, in the order the text is read:

- A reply that starts with a strict JSON value is that value as a whole: its calls, or prose
  (a structured answer), then the rest of the reply is read on.
- Elsewhere a call starts at a wrapper tag, or at an object whose first key is one a call has
  (`{"name": ...`, `{"arguments": ...`, `{"type": "function", ...`), maybe after a `[`. Such a
  `[` opens a list of calls when it closes as a list (each item decoded on its own); when it
  does not, its call objects count one by one. A value that is read is passed over whole: a
  call-like object inside a string or inside prose JSON is not a call.

Hostile text cannot make it slow or crash it:

- Parsing is linear in the length of the reply; a reply longer than `max_chars` (the format's
  `max_reply_chars`, 1,000,000 by default) is not scanned: it is one parse error, no calls.
- Nothing recurses on the nesting of the text: deep nesting is a parse error. Call arguments
  nested more than 64 levels (`MAX_ARGUMENT_DEPTH`) are a parse error ("nested too deeply"),
  so a call never fails later when it is written out.
- Lone surrogates (`"\ud800"` escapes, or surrogate code points in the text) cannot be encoded
  as UTF-8: each one is replaced by U+FFFD, in the prose, names and arguments alike, so every
  parsed reply serialises.
- At most `MAX_ERRORS` errors are listed; the rest are counted.
- Bad text never raises: every problem is an entry of `ParsedReply.errors`.

The same rules read a streaming reply piece by piece: see `CallScanner`.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from agentkit.formats._json import (
    MAX_ARGUMENT_DEPTH,
    decode_json_lenient,
    find_json_end,
    replace_surrogates,
)
from agentkit.formats._reply import MAX_ERRORS, ParsedReply, ReplyBuilder
from agentkit.formats._scanner import DEFAULT_MAX_REPLY_CHARS, CallScanner, too_long

__all__ = [
    "DEFAULT_MAX_REPLY_CHARS",
    "MAX_ARGUMENT_DEPTH",
    "MAX_ERRORS",
    "CallScanner",
    "ParsedReply",
    "decode_json_lenient",
    "find_json_end",
    "parse_reply",
]


def parse_reply(
    text: str, *, tool_names: Collection[str] = (), max_chars: int = DEFAULT_MAX_REPLY_CHARS
) -> ParsedReply:
    """Split a completion into prose, tool calls and parse errors.

    Args:
        text: the raw completion.
        tool_names: the tools at hand; a bare `{"name": ...}` object counts as a call only when
            it names one of them (otherwise it is JSON prose, e.g. a structured answer).
        max_chars: a longer completion is a parse error without being scanned.

    Example:
        >>> r = parse_reply('Sure. [{"name": "add", "arguments": {"a": 1}}]')
        >>> r.text, r.calls[0].name, r.calls[0].arguments
        ('Sure.', 'add', {'a': 1})
    """
    if len(text) > max_chars:
        return too_long(len(text), max_chars)
    text = replace_surrogates(text)
    stripped = text.strip()
    if not any(ch in stripped for ch in "[{<"):  # plain prose: nothing to look for
        return ParsedReply(text=stripped)
    if stripped[:1] in ("[", "{"):  # the common case, in one C call: the whole reply is JSON
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):  # not strict JSON: the scan decides
            pass
        else:
            reply = ReplyBuilder(tool_names)
            if reply.add_value(value, explicit=False):
                return reply.result()
            return ParsedReply(text=stripped)
    scanner = CallScanner(tool_names, max_chars=max_chars)
    scanner.feed(text)
    return scanner.finish()
