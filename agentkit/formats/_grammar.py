"""Grammars of valid replies, for constrained decoding (llguidance's Lark dialect).

A reply is either a final answer (free text, or JSON for a structured `output_type`) or a call
payload wrapped as the format writes it. JSON is laid out with `json.dumps` spacing (flexible
whitespace lets small models copy the indentation of the tool list) and strings and arrays are
bounded (unbounded, small models ramble or repeat a call until the token limit); free strings
hold no brackets or newlines; objects with named properties take no other keys.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentkit._schema import VALUE_KEYS

__all__ = ["MAX_ARRAY_ITEMS", "MAX_STRING_LENGTH", "bounded_schema", "json_rule", "reply_grammar"]

MAX_STRING_LENGTH = 200
MAX_ARRAY_ITEMS = 16
MAX_INTEGER = 10**15
FREE_STRING_PATTERN = r"^[^{}\[\]<>\n\r\t]*$"
_JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def bounded_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with bounds on free strings, integers, arrays and object keys."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            _bound(node)
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for sub in value.values():  # a parameter may be named "default" or "enum"
                        walk(sub)
                elif key not in VALUE_KEYS:
                    walk(value)

    walk(out)
    return out


def _bound(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind == "string":
        if not any(k in node for k in ("enum", "const", "pattern", "format")):
            # No brackets or newlines in free strings: a small model otherwise "closes" the call
            # inside a string value (`"expression": "}}]</tool_call>...`) and runs on.
            node["pattern"] = FREE_STRING_PATTERN
        if not any(k in node for k in ("enum", "const", "maxLength")):
            node["maxLength"] = MAX_STRING_LENGTH
        if not any(k in node for k in ("enum", "const", "minLength")):
            node["minLength"] = 1  # an empty free string is a small model's non-answer
    elif kind == "integer":
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = MAX_INTEGER
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = -MAX_INTEGER
    elif kind == "array" and "maxItems" not in node:
        node["maxItems"] = MAX_ARRAY_ITEMS
    if node.get("properties") and "additionalProperties" not in node:
        # JSON Schema allows unnamed keys by default; a small model then invents parameters.
        node["additionalProperties"] = False


def json_rule(schema: dict[str, Any]) -> str:
    """A Lark `%json` item for `schema`, compact and bounded."""
    body = {**bounded_schema(schema), "x-guidance": _JSON_OPTIONS}
    return "%json " + json.dumps(body, ensure_ascii=False)


def reply_grammar(
    payload: dict[str, Any] | None,
    *,
    call_open: str = "",
    call_close: str = "",
    allow_text: bool = True,
    output_schema: dict[str, Any] | None = None,
    tag_tokens: Mapping[str, int] | None = None,
    blocks: Sequence[dict[str, Any]] = (),
) -> str:
    """The Lark grammar of a reply.

    Args:
        payload: schema of the call payload (None: no call allowed).
        call_open: text before the payload (e.g. `<tool_call>`), may be empty.
        call_close: text after it.
        allow_text: a final answer may be given instead of a call.
        output_schema: the final answer must be JSON of this schema instead of free text.
        tag_tokens: tags of `call_open` and `call_close` that the tokenizer holds as one
            added token (Qwen2.5's `<tool_call>`), by token id: each may be written as that
            token or spelled out as text (the grammar engine never matches an added token
            against text).
        blocks: instead of `payload`, the payloads of a reply that must hold exactly these
            blocks in order (each wrapped in the tags, one per line).
    """
    alternatives = []
    rules = []
    tags = tag_tokens or {}
    wrap_open = f"{_literal(call_open, tags)} " if call_open else ""
    wrap_close = f" {_literal(call_close, tags)}" if call_close else ""
    if blocks:
        written = [f"{wrap_open}{json_rule(block)}{wrap_close}" for block in blocks]
        rules.append("call: " + ' "\\n" '.join(written))
        return "start: call\n" + "\n".join(rules) + "\n"
    if payload is not None:
        rules.append(f"call: {wrap_open}{json_rule(payload)}{wrap_close}")
        alternatives.append("call")
    if allow_text or payload is None:
        if output_schema is not None:
            rules.append(f"answer: {json_rule(output_schema)}")
        else:
            # A final answer must not start like a call: that is what makes the choice explicit.
            first = "".join(sorted({"[", "{", "<", *call_open[:1]}))
            escaped = "".join("\\" + ch if ch in "[]\\^-" else ch for ch in first)
            rules.append(f"answer: TEXT\nTEXT: /[^{escaped}\\s](?s:.)*/")
        alternatives.append("answer")
    return "start: " + " | ".join(alternatives) + "\n" + "\n".join(rules) + "\n"


def _literal(text: str, tag_tokens: Mapping[str, int]) -> str:
    """`text` as a Lark expression, each tag of `tag_tokens` in it either its token or its text.

    Example:
        >>> _literal("<tool_call>{", {"<tool_call>": 7})
        '("<tool_call>" | <[7]>) "{"'
    """
    tags = sorted((t for t in tag_tokens if t and t in text), key=len, reverse=True)
    if not tags:
        return json.dumps(text)
    parts = re.split("(" + "|".join(re.escape(t) for t in tags) + ")", text)
    items = [
        f"({json.dumps(part)} | <[{tag_tokens[part]}]>)" if i % 2 else json.dumps(part)
        for i, part in enumerate(parts)
        if part
    ]
    return " ".join(items)
