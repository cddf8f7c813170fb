"""The schema a planned call's arguments are decoded under: grounded, named, without guesses.

Part of call shaping (`agentkit.models.shaping`): given the part of the request a call serves,
required free-text strings become the spans it writes, numbers the numbers it writes, currency
and language-code parameters the codes of what it names; optional parameters it names become
required, the others are left out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit.models import _codes, _values

if TYPE_CHECKING:
    from agentkit.models.shaping import CallShaping

__all__ = ["groundable_string", "shape_arguments"]

_CODE_LIKE = re.compile(
    r"\b(codes?|iso|abbreviat\w*|symbols?|tickers?|formats?|formatted|urls?|uri|paths?|ids?|"
    r"identifiers?|uuid|regex|json|sql|expressions?|formulas?|equations?|functions?|yyyy|"
    r"iata|icao|postal|zip|hex|base64|command|script|query)\b",
    re.IGNORECASE,
)
_KINDS = (
    # (a parameter name of the kind, a description of it, what a span of the kind holds)
    (r"e-?mail|recipient", r"e-?mail address", r"[^\s@]+@[^\s@]+"),
    (r"phone|mobile|cell", r"(phone|telephone|mobile) number", r"\+?[\d\s().-]{7,}"),
    (r"url|link|website", r"\burl\b|web address|link to", r"\S*(\w\.\w|/)\S*"),
)
"""Strings of a recognisable kind: a span offered for them must look like one."""
_NEGATION = re.compile(r"\b(no|not|without|don't|do not|never|exclude|excluding)\b")
_GENERIC_WORDS = frozenset("type name value data number list info item items mode".split())


def shape_arguments(
    parameters: dict[str, Any],
    query: str,
    text: str,
    shaping: CallShaping,
    *,
    other_numbers: Collection[int] = (),
    other_names: Collection[str] = (),
) -> dict[str, Any]:
    """A copy of `parameters` shaped for one call serving `text` of the request `query`.

    `other_numbers` (their offsets in `text`) and `other_names` belong to the other calls of a
    parallel intent and are not offered to this one.
    """
    shaped = copy.deepcopy(parameters)
    if shaping.surface_optional:
        _surface(shaped, query)
    if shaping.omit_optional:
        _omit_unnamed(shaped)
    if shaping.ground:
        numbers = [v for v in _values.numbers(text) if v.start not in other_numbers]

        def offered(after: set[str] | None = None) -> list[str]:
            found = _values.spans(text, after=after)
            return [s for s in found if not any(name in s for name in other_names)]

        spans = _Spans(text, offered(), offered({"from"}), offered({"to", "into"}))
        properties = shaped.get("properties") or {}
        for name in shaped.get("required") or ():  # an optional value is often a default
            if isinstance(properties.get(name), dict):
                _ground(properties[name], name, spans, numbers, depth=1)
    return shaped


@dataclass(frozen=True, slots=True)
class _Spans:
    """The spans offered to strings: all of them, and those after "from" and after "to"."""

    text: str
    every: list[str]
    after_from: list[str]
    after_to: list[str]

    def for_parameter(self, name: str) -> list[str]:
        """A source or origin takes what follows "from", a target what follows "to"."""
        if _SOURCE.search(name) and self.after_from:
            return self.after_from
        if _TARGET.search(name) and self.after_to:
            return self.after_to
        return self.every


_SOURCE = re.compile(r"(^|_)(from|origin|source|src|start|departure)($|_)|^from[A-Z]", re.I)
_TARGET = re.compile(r"(^|_)(to|destination|dest|target|end|arrival)($|_)|^to[A-Z]", re.I)


def _surface(parameters: dict[str, Any], query: str) -> None:
    """Make the optional parameters that `query` names required (enums narrowed)."""
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return
    required = list(parameters.get("required") or ())
    lowered = query.lower()
    for name, schema in properties.items():
        if name in required or not isinstance(schema, dict):
            continue
        enum = schema.get("enum")
        if isinstance(enum, list):
            named = [v for v in enum if isinstance(v, str) and _mentions(lowered, v)]
            if named:
                schema["enum"] = named
                required.append(name)
        elif _names_parameter(lowered, name):
            required.append(name)
            if schema.get("type") == "boolean":  # "with details": true; "without": false
                schema["enum"] = [not _NEGATION.search(lowered)]
    if required:
        parameters["required"] = required


def _omit_unnamed(parameters: dict[str, Any]) -> None:
    """Leave out the optional parameters (those still optional once named ones are surfaced)."""
    properties = parameters.get("properties")
    if isinstance(properties, dict):
        required = set(parameters.get("required") or ())
        parameters["properties"] = {k: v for k, v in properties.items() if k in required}


def _mentions(lowered: str, value: str) -> bool:
    words = value.replace("_", " ").lower().strip()
    return bool(words) and re.search(rf"\b{re.escape(words)}\b", lowered) is not None


def _names_parameter(lowered: str, name: str) -> bool:
    """Whether the request uses a distinctive word of the parameter's name (`maxCalories`)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").lower().split()
    for word in spaced:
        if len(word) < 4 or word in _GENERIC_WORDS or word in _values.STOPWORDS:
            continue
        stem = word[: max(4, len(word) - 3)]
        if re.search(rf"\b{re.escape(stem)}", lowered):
            return True
    return False


def _ground(
    node: dict[str, Any],
    name: str,
    spans: _Spans,
    numbers: list[_values.Value],
    depth: int,
) -> None:
    if depth > 8:
        return
    kind = node.get("type")
    if kind == "object":
        for key, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                _ground(sub, key, spans, numbers, depth + 1)
    elif kind == "array" and isinstance(node.get("items"), dict):
        _ground(node["items"], name, spans, numbers, depth + 1)
    elif kind == "string":
        _ground_string(node, name, spans)
    elif kind in ("number", "integer") and not any(k in node for k in ("enum", "const")):
        allowed = _numbers_for(node, numbers)
        if allowed:
            node["enum"] = allowed


def _ground_string(node: dict[str, Any], name: str, spans: _Spans) -> None:
    """A code the request names, else a span of it (of the parameter's kind), else free."""
    codes = _coded(name, node, spans.text)
    if codes:
        node["enum"] = codes
    elif groundable_string(name, node) and spans.every:
        fitting = _of_kind(name, node, spans.for_parameter(name))
        if fitting:
            node["enum"] = fitting


def _coded(name: str, node: dict[str, Any], text: str) -> list[str]:
    """The codes a currency (or language code) parameter may take: those the text names.

    With two named, a target takes the one after "to", "into" or "in" (else the last named)
    and a source the other (else the first).
    """
    said = f"{name.replace('_', ' ')} {node.get('description', '')}".lower()
    if any(k in node for k in ("enum", "const")) or node.get("type") != "string":
        return []
    if "currenc" in said:
        found = _codes.mentioned(text, _codes.CURRENCIES)
    elif re.search(r"\blang|639", said) and _CODE_LIKE.search(said):
        found = _codes.mentioned(text, _codes.LANGUAGES)
    else:
        return []
    if len(found) < 2 or not (_SOURCE.search(name) or _TARGET.search(name)):
        return [c.code for c in found]
    aimed = [c for c in found if _AIMED.search(text[max(0, c.start - 16) : c.start])]
    if _TARGET.search(name):
        return [(aimed or found)[-1].code]
    rest = [c for c in found if c not in aimed] if aimed else found
    return [(rest or found)[0].code]


_AIMED = re.compile(r"\b(to|into|in)\s+(the\s+|a\s+)?$", re.IGNORECASE)


def _of_kind(name: str, node: dict[str, Any], spans: list[str]) -> list[str]:
    """The spans that can be this string: an email address for an email, say (none: free)."""
    description = str(node.get("description", ""))
    for names, described, holds in _KINDS:
        if re.search(names, name, re.I) or re.search(described, description, re.I):
            return [s for s in spans if re.fullmatch(holds, s)]
    return spans


def _numbers_for(node: dict[str, Any], numbers: list[_values.Value]) -> list[int | float]:
    allowed: list[int | float] = []
    for v in numbers:
        value = v.value
        if not isinstance(value, int | float) or value in allowed:
            continue
        if node.get("type") == "integer" and not isinstance(value, int):
            continue
        low, high = node.get("minimum"), node.get("maximum")
        if (isinstance(low, int | float) and value < low) or (
            isinstance(high, int | float) and value > high
        ):
            continue
        allowed.append(value)
    return allowed


def groundable_string(name: str, schema: dict[str, Any]) -> bool:
    """A free-text string whose value the request itself writes (not a code or a format)."""
    if schema.get("type") != "string":
        return False
    if any(k in schema for k in ("enum", "const", "pattern", "format")):
        return False
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")
    return not _CODE_LIKE.search(f"{words} {schema.get('description', '')}")
