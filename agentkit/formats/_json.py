"""JSON-ish text: where a bracketed value ends, lenient decoding, and checks on decoded values.

Everything here is iterative or bounded: no input makes it recurse without limit.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from typing import Any

__all__ = [
    "MAX_ARGUMENT_DEPTH",
    "SpanEnd",
    "check_json",
    "decode_json_lenient",
    "find_json_end",
    "replace_surrogates",
]

MAX_ARGUMENT_DEPTH = 64
"""The deepest nesting call arguments may have (the arguments object itself is level 1)."""

MAX_LITERAL_CHARS = 100_000
"""The longest text read as a Python literal when it is not JSON (that reading is slow)."""

SURROGATES = re.compile("[\ud800-\udfff]")
_OUTSIDE = re.compile(r"""[\[\]{}"']""")
_IN_STRING = {'"': re.compile(r'[\\"]'), "'": re.compile(r"[\\']")}


def replace_surrogates(text: str) -> str:
    """`text` with every surrogate code point replaced by U+FFFD (UTF-8 cannot encode them)."""
    return SURROGATES.sub("\ufffd", text) if SURROGATES.search(text) else text


class SpanEnd:
    """Finds where a bracketed value ends, over text that may arrive in pieces.

    Brackets of either kind count alike; strings in either quote style are skipped, with
    backslash escapes; a value that starts with a quote is one string. Feed it the text from
    the opening bracket or quote on, piece by piece: each character is read once.

    Example:
        >>> span = SpanEnd()
        >>> span.scan('{"a": "}', 0), span.scan('{"a": "}"} and more', 8)
        (None, 10)
    """

    def __init__(self) -> None:
        self.depth = 0
        self.quote = ""
        self.escaped = False  # the last piece ended in a backslash inside a string

    def scan(self, text: str, pos: int) -> int | None:
        """Read `text` from `pos`: the index just past the value's end, or None if still open."""
        if not self.depth and not self.quote and not self.escaped:
            end = _strict_end(text, pos)  # the common case, at C speed
            if end is not None:
                return end
        return self._scan(text, pos)

    def _scan(self, text: str, pos: int) -> int | None:
        if self.escaped and pos < len(text):
            pos += 1
            self.escaped = False
        while pos < len(text):
            if self.quote:
                pos = self._string(text, pos)
                if pos < 0:
                    return None
                if not self.quote and self.depth <= 0:  # the value was a string
                    return pos
                continue
            found = _OUTSIDE.search(text, pos)
            if found is None:
                return None
            ch, pos = found.group(), found.end()
            if ch in "\"'":
                self.quote = ch
            elif ch in "[{":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    return pos
        return None

    def _string(self, text: str, pos: int) -> int:
        """Go on inside a string: where the scan resumes, or -1 when the text ran out."""
        found = _IN_STRING[self.quote].search(text, pos)
        if found is None:
            return -1
        pos = found.end()
        if found.group() != "\\":
            self.quote = ""
            return pos
        if pos == len(text):
            self.escaped = True
            return -1
        return pos + 1


_DECODER = json.JSONDecoder()


def _strict_end(text: str, pos: int) -> int | None:
    """Where a strict JSON object or array starting at `pos` ends, or None if it is not one."""
    if pos >= len(text) or text[pos] not in "[{":
        return None
    try:
        return int(_DECODER.raw_decode(text, pos)[1])
    except (ValueError, RecursionError):  # lenient, unfinished or very deep: the slow path
        return None


def find_json_end(text: str, start: int) -> int | None:
    """Index just past the bracketed value starting at `start`, or None if it never closes.

    Strings in either quote style are skipped, with backslash escapes. Linear in the length
    of the value.

    Example:
        >>> find_json_end('say [1, "]", {"a": 2}] now', 4)
        22
    """
    return SpanEnd().scan(text, start)


def _python_literal(text: str) -> Any:
    """Read JSON-ish text as a Python literal: single quotes, trailing commas, true/false/null."""
    try:
        return ast.literal_eval(text.strip())  # fast when it holds no true/false/null
    except ValueError:
        pass  # a name such as `true`: spell the JSON names the Python way, then read it
    names = {"true": "True", "false": "False", "null": "None"}
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        tokens.append(tok)
    return ast.literal_eval(tokenize.untokenize(tokens).strip())


def decode_json_lenient(text: str) -> Any:
    """Decode JSON, else read it as a Python literal; raise ValueError with JSON's message.

    Only texts up to `MAX_LITERAL_CHARS` long are read as Python literals.

    Example:
        >>> decode_json_lenient("{'a': True, 'b': [1, 2,],}")
        {'a': True, 'b': [1, 2]}
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if len(text) > MAX_LITERAL_CHARS:
        raise ValueError(first)
    try:
        return _python_literal(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, tokenize.TokenError):
        raise ValueError(first) from None


def check_json(value: Any, *, max_depth: int = MAX_ARGUMENT_DEPTH) -> tuple[str | None, bool]:
    """Whether a decoded value is plain JSON no deeper than `max_depth`, without recursing.

    Returns:
        The problem (None when there is none), and whether a string in it holds a surrogate
        code point (fix those with `clean_strings`).

    Example:
        >>> check_json({"a": [1, {"b": None}]})
        (None, False)
        >>> check_json([[[1]]], max_depth=2)
        ('nested too deeply (more than 2 levels)', False)
    """
    surrogates = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            surrogates = surrogates or SURROGATES.search(item) is not None
        elif isinstance(item, list | tuple | dict):
            if depth > max_depth:
                return f"nested too deeply (more than {max_depth} levels)", surrogates
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not isinstance(key, str):
                        return "not JSON (an object key is not a string)", surrogates
                    surrogates = surrogates or SURROGATES.search(key) is not None
                    stack.append((sub, depth + 1))
            else:
                stack.extend((sub, depth + 1) for sub in item)
        elif not (item is None or isinstance(item, bool | int | float)):
            return f"not JSON (a {type(item).__name__} value)", surrogates
    return None, surrogates


def clean_strings(value: Any) -> Any:
    """A copy of a checked value with surrogates replaced in every string (its depth is bounded)."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, dict):
        return {replace_surrogates(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_strings(v) for v in value]
    return value


def describe(value: Any, limit: int = 80) -> str:
    """A short description of a decoded value for an error message (never recursing deeply)."""
    problem, _ = check_json(value, max_depth=MAX_ARGUMENT_DEPTH)
    if problem is not None and problem.startswith("nested"):
        return f"a value {problem}"
    return snippet(repr(value), limit)


def snippet(text: str, limit: int = 80) -> str:
    """`text` with its whitespace collapsed, shortened in the middle to about `limit` chars."""
    if len(text) > 64 * limit:  # only the ends are shown: do not collapse a whole huge text
        text = text[: 8 * limit] + " " + text[-8 * limit :]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit // 2 - 2] + " ... " + text[-limit // 2 :]
