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
_PROPER = re.compile(
    r"city|country|location|place|artist|author|player|team|company|actor|director|person|"
    r"brand|museum|hotel|restaurant|composer|singer|band|athlete|species",
    re.IGNORECASE,
)
"""Parameters that take a proper name: offered the request's names (capitalised or quoted)."""
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
    own: str = "",
) -> dict[str, Any]:
    """A copy of `parameters` shaped for one call serving `text` of the request `query`.

    `other_numbers` (their offsets in `text`) and `other_names` belong to the other calls of a
    parallel intent and are not offered to this one; `own` is this call's part of `text`.
    """
    shaped = copy.deepcopy(parameters)
    if shaping.surface_optional:
        _surface(shaped, query, own or text)
    if shaping.omit_optional:
        _omit_unnamed(shaped)
    if shaping.ground:
        numbers = [v for v in _values.numbers(text) if v.start not in other_numbers]

        def offered(after: set[str] | None = None) -> list[str]:
            found = _values.spans(text, after=after)
            return [s for s in found if not any(name in s for name in other_names)]

        spans = _Spans(text, offered(), offered({"from"}), offered({"to", "into"}))
        properties = shaped.get("properties") or {}
        required = [n for n in shaped.get("required") or () if isinstance(properties.get(n), dict)]
        bound = _bound_numbers(text, properties, required, numbers)
        named = _bound_spans(text, properties, required, spans)
        for name in required:  # an optional value is often a default
            _ground(properties[name], name, named.get(name, spans), bound.get(name, numbers), 1)
    return shaped


_OPENING = " \"'\u2018\u201c"
_UNTIL_VALUE = re.compile(r"[.,;:!?\"'\u2018\u2019\u201c\u201d]|\b[A-Z]\w*|\b(?:and|or|but)\b")


def _bound_spans(
    text: str, properties: dict[str, Any], names: list[str], spans: _Spans
) -> dict[str, _Spans]:
    """The spans each free-text parameter may take, by the words that stand before them.

    As for numbers: a span written after a word of a parameter's name ("the title 'David'",
    "the species 'Homo sapiens'") goes to that parameter, which then takes only such spans;
    the other string parameters are offered the rest.
    """
    strings = [n for n in names if groundable_string(n, properties[n])]
    if len(strings) < 2:
        return {}
    keys = {n: _name_words(n) for n in strings}
    claims: dict[str, set[str]] = {}
    for span in spans.every:
        at = text.find(span)
        before = _UNTIL_VALUE.split(text[max(0, at - 40) : max(at, 0)].rstrip(_OPENING))[-1]
        words = re.findall(r"\b[a-z]+\b", before)[-3:]  # back to a quote, a name, an "and"
        claims[span] = {n for n in strings if any(_alike(k, w) for k in keys[n] for w in words)}
    out = {}
    for name in strings:
        mine = {s for s, c in claims.items() if name in c}
        rest = {s for s, c in claims.items() if not c}
        allowed = mine or rest
        if allowed:
            out[name] = _Spans(
                text,
                [s for s in spans.every if s in allowed],
                [s for s in spans.after_from if s in allowed],
                [s for s in spans.after_to if s in allowed],
            )
    return out


def _bound_numbers(
    text: str, properties: dict[str, Any], names: list[str], numbers: list[_values.Value]
) -> dict[str, list[_values.Value]]:
    """The numbers each number parameter may take, by the words that stand beside them.

    A number written next to a word of a parameter's name ("a base of 12", "weighs 80 kg",
    "for 5 years") goes to that parameter (to the one with most such words: "fuel efficiency
    of 25" is `fuel_efficiency`'s, not `efficiency_reduction`'s), which then takes only such
    numbers; the other parameters are offered the rest (when any is left).
    """
    numeric = [
        n
        for n in names
        if properties[n].get("type") in ("number", "integer")
        and not any(k in properties[n] for k in ("enum", "const"))
    ]
    if len(numeric) < 2:
        return {}
    keys = {n: _name_words(n) for n in numeric}
    claims = []
    for value in numbers:
        beside = _beside(text, value)
        scores = {n: sum(any(_alike(k, w) for w in beside) for k in keys[n]) for n in numeric}
        best = max(scores.values())
        claims.append({n for n, score in scores.items() if score == best > 0})
    out = {}
    for name in numeric:
        mine = [v for v, c in zip(numbers, claims, strict=True) if name in c]
        rest = [v for v, c in zip(numbers, claims, strict=True) if not c]
        out[name] = mine or rest or numbers
    return out


def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").lower().split()
    return {w for w in spaced if len(w) >= 3 and w not in _GENERIC_WORDS | _values.STOPWORDS}


def _beside(text: str, value: _values.Value) -> list[str]:
    """The words that describe a number: those just before it, and the one just after.

    Up to four before, back to the previous number or sentence ("a height of 15"), and one after
    ("12 meters", "5 years").
    """
    before = re.split(r"[\d.;!?]", text[max(0, value.start - 60) : value.start])[-1]
    after = re.split(r"[\d,.;!?]", text[value.start + len(value.text) :][:30])[0]
    words = re.findall(r"[a-z]+", before.lower())[-4:] + re.findall(r"[a-z]+", after.lower())[:1]
    return [w for w in words if w not in _values.STOPWORDS]


def _alike(key: str, word: str) -> bool:
    """Whether two words are the same word, near enough ("weight", "weighs"; "year", "years")."""
    if len(key) >= 5 and len(word) >= 5:
        return key[:5] == word[:5]
    short, long = sorted((key, word), key=len)
    return len(short) >= 3 and long.startswith(short)


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


def _surface(parameters: dict[str, Any], query: str, own: str) -> None:
    """Make the optional parameters that `query` names required (enums narrowed).

    An enum is narrowed to the values `own` (the call's own part of the request: "in Chicago
    in fahrenheit, and in Berlin in celsius") names, else to those the request names.
    """
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return
    required = list(parameters.get("required") or ())
    lowered, mine = query.lower(), own.lower()
    for name, schema in properties.items():
        if name in required or not isinstance(schema, dict):
            continue
        enum = schema.get("enum")
        if isinstance(enum, list):
            strings = [v for v in enum if isinstance(v, str)]
            named = [v for v in strings if _mentions(mine, v)] or [
                v for v in strings if _mentions(lowered, v)
            ]
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
    node: dict[str, Any], name: str, spans: _Spans, numbers: list[_values.Value], depth: int
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
        fitting = _of_kind(name, node, spans.for_parameter(name), spans.text)
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


def _of_kind(name: str, node: dict[str, Any], spans: list[str], text: str) -> list[str]:
    """The spans that can be this string: an email address for an email, a name for a city."""
    description = str(node.get("description", ""))
    for names, described, holds in _KINDS:
        if re.search(names, name, re.I) or re.search(described, description, re.I):
            return [s for s in spans if re.fullmatch(holds, s)]
    if _PROPER.search(name):  # a city, an artist, a team: a name the request writes, if any
        named = {str(v.value) for v in _values.names(text)}
        return [s for s in spans if s in named] or spans
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
