"""The schema a planned call's arguments are decoded under: grounded, named, without guesses.

Part of call shaping (`agentkit.models.shaping`): given the part of the request a call serves,
required free-text strings become the spans it writes, numbers the numbers it writes; currency,
language, ticker and unit parameters the codes of what it names, dates and times the ones it
writes in the format asked for, expressions its arithmetic, arrays the lists it writes;
enums the values it names; optional parameters it names become required, the others are left
out. `fillable` says whether a request writes what a tool's required parameters need.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import itertools
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agentkit.models import _codes, _values

if TYPE_CHECKING:
    from agentkit.models.shaping import CallShaping

__all__ = [
    "choices",
    "fillable",
    "groundable_string",
    "name_parts",
    "outside_formulas",
    "shape_arguments",
    "takes_name",
]

_T = TypeVar("_T")

_CODE_LIKE = re.compile(
    r"\b(codes?|iso|abbreviat\w*|symbols?|tickers?|formats?|formatted|urls?|uri|paths?|ids?|"
    r"identifiers?|uuid|regex|json|sql|expressions?|formulas?|equations?|functions?|yyyy|"
    r"iata|icao|postal|zip|hex|base64|command|script|query)\b",
    re.IGNORECASE,
)
_KINDS = (
    # (a parameter name of the kind, a description of it, what a value of the kind looks like;
    # every repeat is bounded, so a hostile request cannot make the search quadratic)
    (r"e-?mail|recipient", r"e-?mail address", r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+"),
    (r"phone|mobile|cell", r"(phone|telephone|mobile) number", r"\+?\d[\d ().-]{5,24}\d"),
    (
        r"url|link|website",
        r"\burl\b|web address|link to",
        r"https?://\S{1,2000}|www\.\S{1,2000}"
        r"|[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.(?:com|org|net|io|dev|ai|edu|gov)\b\S{0,2000}",
    ),
    (
        r"(^|_)(path|file|filename|filepath|dir|directory|folder)($|_)|^(file|dir)[A-Z]",
        r"\bpath\b|\bdirectory\b",
        r"(?<![\w/])(?:~|\.{1,2})?/[\w.@~+/-]{0,1000}|\b[\w-]{1,128}\.[A-Za-z][A-Za-z0-9]{0,4}\b",
    ),
)
"""Strings of a recognisable kind: offered the values of the kind the request writes."""
_THE_TOOL = re.compile(r"\b(?:the|this)\s+function\s+(?:will|would|can|may|returns?)\b", re.I)
"""A description speaking of the tool itself ("the function will fetch ..."), not of code."""
_PROPER = re.compile(
    r"city|country|location|place|artist|author|player|team|company|actor|director|person|"
    r"brand|museum|hotel|restaurant|composer|singer|band|athlete|league",
    re.IGNORECASE,
)
"""Parameters that take a proper name: offered the request's names (capitalised or quoted)."""
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
    tool_name: str = "",
) -> dict[str, Any]:
    """A copy of `parameters` shaped for one call serving `text` of the request `query`.

    `other_numbers` (their offsets in `text`) and `other_names` belong to the other calls of a
    parallel intent and are not offered to this one; `own` is this call's part of `text`;
    `tool_name` is the name of the tool (its words name the tool, not an optional parameter).
    """
    shaped = copy.deepcopy(parameters)
    if shaping.surface_optional:
        _surface(shaped, query, own or text, tool_name)
    if shaping.omit_optional:
        _omit_unnamed(shaped)
    if shaping.ground:
        properties = shaped.get("properties") or {}
        numbers = [v for v in _values.numbers(text) if v.start not in other_numbers]
        numbers = outside_formulas(properties, text, numbers)
        required = [n for n in shaped.get("required") or () if isinstance(properties.get(n), dict)]
        bound = _bound_numbers(text, properties, required, numbers)
        taken = _taken(properties, required, bound, numbers, text)

        def offered(after: set[str] | None = None) -> list[str]:
            found = _values.spans(text, after=after)
            return [
                s
                for s in found
                if not any(name in s or _part_of(s, name) for name in other_names)
                and not taken.search(s)
            ]

        by_name = {n: frozenset(_name_words(n)) for n in properties}
        words = frozenset(_name_words(tool_name)).union(*by_name.values())
        every = offered()
        exemplified = {
            n: _exemplified(node, own or text, every) + _chosen(node, every)
            for n, node in properties.items()
            if isinstance(node, dict)
        }
        listed = (
            v for node in properties.values() if isinstance(node, dict) for v in _own_choices(node)
        )
        spans = _Spans(
            text, every, offered({"from"}), offered({"to", "into"}), own, query, words, by_name,
            exemplified, tuple(v for v in listed if isinstance(v, str)),
        )  # fmt: skip
        named = _bound_spans(text, properties, required, spans)
        dated = any(_is_year(n, properties[n]) for n in required)
        for name in required:  # an optional value is often a default
            found = bound.get(name, numbers)
            if dated and not _is_year(name, properties[name]):  # "$1M in 2019": 2019 is a year's
                found = [v for v in found if not _year_like(v)] or found
            _ground(properties[name], name, named.get(name, spans), found, 1)
        _in_turn(properties, required, numbers)
    return shaped


def _part_of(span: str, name: str) -> bool:
    """Whether a span is some whole words of a name ("Climate" of "Climate Change")."""
    return len(span) < len(name) and re.search(rf"(?<!\w){re.escape(span)}(?!\w)", name) is not None


def _in_turn(properties: dict[str, Any], required: list[str], numbers: list[_values.Value]) -> None:
    """Numbered siblings offered the same values, as many as they are, take them in turn.

    `year1` and `year2` offered 2019 and 2020 ("$1M in 2019 and $1.2M in 2020") take one each,
    in the order written, as do `year1_revenue` and `year2_revenue`; not when a value is
    written twice ("three sides are 5, 4 and 3 units").
    """
    places: dict[Any, set[int]] = {}
    for v in numbers:
        places.setdefault(v.value, set()).add(v.start)
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in required:
        numbered = re.search(r"\d+", name)
        if numbered and properties[name].get("type") in ("number", "integer"):
            key = re.sub(r"\d+", "#", name)
            groups.setdefault(key, []).append((int(numbered.group()), name))
    for group in groups.values():
        offers = [properties[name].get("enum") for _, name in group]
        first = offers[0]
        if len(group) >= 2 and isinstance(first, list) and len(first) == len(group):
            if all(offer == first for offer in offers) and all(
                len(places.get(value, ())) == 1 for value in first
            ):
                for value, (_, name) in zip(first, sorted(group), strict=True):
                    properties[name]["enum"] = [value]


def _taken(
    properties: dict[str, Any],
    required: list[str],
    bound: dict[str, list[_values.Value]],
    numbers: list[_values.Value],
    text: str,
) -> re.Pattern[str]:
    """What finds, in a span, a value that another parameter takes.

    A number that a number parameter takes as its only value, and the dates and times a date
    or time parameter takes: such a span ("21.5 degrees", "6:30 pm to water the plants") is
    that value's, not a string's; "Set the living room to 21.5 degrees" offers the room
    "living room", not "21.5".
    """
    taken = set()
    for name in required:
        schema = properties[name]
        if schema.get("type") in ("number", "integer") and not _fixed(schema):
            allowed = bound.get(name, numbers)
            if len({v.start for v in allowed}) == 1:
                taken.add(re.sub(r"[^\d.]", "", allowed[0].text))
        elif _formatted(name, schema, text):
            written = _values.dates(text) + _values.times(text)
            taken.update(w for v in written for w in re.findall(r"[\w:.]+", v.text) if w != "of")
    alternatives = "|".join(re.escape(t) for t in sorted(taken) if t)
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?!\w)" if alternatives else r"(?!)")


def _fixed(schema: dict[str, Any]) -> bool:
    """Whether the schema already fixes its values (an enum or a const)."""
    return any(k in schema for k in ("enum", "const"))


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
        words = _words_before(text, at)
        claims[span] = (
            {n for n in strings if _names_value(keys[n], words)}
            if _looks_named(text, at, span)
            else set()
        )
    out = {}
    for name in strings:
        mine = {s for s, c in claims.items() if name in c}
        rest = {s for s, c in claims.items() if not c}
        allowed = mine or rest
        if allowed:
            out[name] = dataclasses.replace(
                spans,
                every=[s for s in spans.every if s in allowed],
                after_from=[s for s in spans.after_from if s in allowed],
                after_to=[s for s in spans.after_to if s in allowed],
            )
    return out


def _words_before(text: str, at: int) -> list[str]:
    """The last three lower-case words before `at`, back to a quote, a name or an "and"."""
    before = _UNTIL_VALUE.split(text[max(0, at - 40) : max(at, 0)].rstrip(_OPENING))[-1]
    return re.findall(r"\b[a-z]+\b", before)[-3:]


def _names_value(keys: set[str], words: list[str]) -> bool:
    """Whether the words before a span name a parameter, then only link to the span.

    "the title 'David'", "a book called 'Dune'", "docket number '12345'": yes; "the soccer team
    in the English Premier League": no (the league is where the team plays).
    """
    for i in range(len(words) - 1, -1, -1):
        if any(_alike(k, words[i]) for k in keys):
            return all(w in _LINKING or w in _GENERIC_WORDS for w in words[i + 1 :])
    return False


_LINKING = frozenset("the a an of named called titled is as".split())


def _looks_named(text: str, at: int, span: str) -> bool:
    """Whether a span is written as a value: quoted, bracketed ("unit (amu)"), a name, a number.

    "hotel room" is not: "room" is another word, not the hotel's name.
    """
    opened = at > 0 and (text[at - 1] in _QUOTE_MARKS or text[at - 1] == "(")
    return span[:1].isupper() or span[:1].isdigit() or opened


def _bound_numbers(
    text: str, properties: dict[str, Any], names: list[str], numbers: list[_values.Value]
) -> dict[str, list[_values.Value]]:
    """The numbers each number parameter may take, by the words that stand beside them.

    A number written next to a word of a parameter's name ("a base of 12", "weighs 80 kg",
    "for 5 years") goes to that parameter (to the one with most such words: "fuel efficiency
    of 25" is `fuel_efficiency`'s, not `efficiency_reduction`'s; of a tie, to those that state
    no default), which then takes only such numbers; the other parameters are offered the rest
    (when any is left, else a default they state), each its own in the order written when
    there are as many left as parameters. Parameters that claim the same numbers, fewer than
    they are, are offered the rest too.
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
    stated = {n: _stated_default(properties[n]) for n in numeric}
    claims = []
    for value in numbers:
        assigned = {n for n in numeric if _assigns(text, n, value)}  # "a = 2, b = 5"
        beside = _beside(text, value)
        scores = {n: sum(any(_alike(k, w) for w in beside) for k in keys[n]) for n in numeric}
        best = max(scores.values())
        claim = assigned or {n for n, score in scores.items() if score == best > 0}
        claims.append({n for n in claim if not stated[n]} or claim)  # a tie: no default
    out = {}
    rest = [v for v, c in zip(numbers, claims, strict=True) if not c]
    for name in numeric:
        mine = [v for v, c in zip(numbers, claims, strict=True) if name in c]
        alike = [n for n in numeric if all((name in c) == (n in c) for c in claims)]
        if len(mine) < len(alike):  # "revenues of $1M in 2019 and $1.2M": one each, in turn
            mine += rest
        out[name] = mine or rest or stated[name] or numbers
    unclaimed = [n for n in numeric if not any(n in c for c in claims)]
    if len(unclaimed) == len(rest) >= 2:  # "coefficients 2, 3 and -4": a, b, c in turn
        out.update((name, [value]) for name, value in zip(unclaimed, rest, strict=True))
    return out


def _stated_default(node: dict[str, Any]) -> list[_values.Value]:
    """A number parameter's default, as its schema or description states it.

    A parameter whose numbers the request all gives to others takes it: "a star 4 light years
    away" leaves `speed_of_light` its "Default value is 299792458 m/s".
    """
    default = node.get("default")
    if isinstance(default, int | float) and not isinstance(default, bool):
        return [_values.Value(str(default), default, -1)]
    stated = _STATED_DEFAULT.search(str(node.get("description", ""))[:1000])
    return _values.numbers(stated.group(1))[:1] if stated else []


_STATED_DEFAULT = re.compile(rf"{_values.DEFAULT_CUE}\s*(-?[\d.,]+(?:e-?\d+)?)", re.I)


def _assigns(text: str, name: str, value: _values.Value) -> bool:
    """Whether the text sets the parameter to the value by its exact name ("a = 2", "n: 10")."""
    before = text[max(0, value.start - len(name) - 8) : value.start]
    return re.search(rf"(?<![\w.]){re.escape(name)}\s*[=:]\s*$", before) is not None


def name_parts(name: str) -> list[str]:
    """The words of an identifier: `maxCalories`, `fuel_efficiency`, `music.generate_scale`."""
    return re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower())


def _name_words(name: str) -> set[str]:
    return {
        w for w in name_parts(name) if len(w) >= 3 and w not in _GENERIC_WORDS | _values.STOPWORDS
    }


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
    """The spans offered to strings: all of them, and those after "from" and after "to".

    `text` is the part of the request the call serves, `own` the call's own share of it (in a
    parallel intent; else empty), `query` the whole request.
    """

    text: str
    every: list[str]
    after_from: list[str]
    after_to: list[str]
    own: str = ""
    query: str = ""
    named: frozenset[str] = frozenset()
    """The words of the tool's name and of its parameters' names."""
    parameters: dict[str, frozenset[str]] = field(default_factory=dict)
    """The words of each parameter's name."""
    exemplified: dict[str, list[str]] = field(default_factory=dict)
    """The values each parameter's description gives as examples that the request writes."""
    choices: tuple[str, ...] = ()
    """The string choices of every parameter (of its items, for an array)."""

    def of_others(self, name: str) -> set[str]:
        """The words that name the other parameters and not this one."""
        own = self.parameters.get(name, frozenset())
        return {w for n, ws in self.parameters.items() if n != name for w in ws} - own

    def own_first(self, read: Callable[[str], _T]) -> _T:
        """What `read` finds in the call's own part, else in the part of the request it serves."""
        found = read(self.own)
        return found if found else read(self.text)

    def for_parameter(self, name: str) -> list[str]:
        """A source or origin takes what follows "from", a target what follows "to"."""
        if _SOURCE.search(name) and self.after_from:
            return self.after_from
        if _TARGET.search(name) and self.after_to:
            return self.after_to
        return self.every


_SOURCE = re.compile(r"(^|_)(from|origin|source|src|start|departure)($|_)|^from[A-Z]", re.I)
_TARGET = re.compile(r"(^|_)(to|destination|dest|target|end|arrival)($|_)|^to[A-Z]", re.I)


def _surface(parameters: dict[str, Any], query: str, own: str, tool_name: str = "") -> None:
    """Make the optional parameters that `query` names required (enums narrowed).

    An enum, or the choices a description lists ("Options are 'Standard', 'Deluxe'"), is
    narrowed to the values `own` (the call's own part of the request: "in Chicago in
    fahrenheit, and in Berlin in celsius") names, else to those the request names. A
    parameter is also named by a distinctive word of its name (then a description's choices
    are all offered); for a parameter that takes no number, a word that is not also one of the
    tool's name or of another parameter's ("cook" does not name `cooking_method` of
    `calculate_cooking_time`), and by an example of its description that the request writes
    ("patent lawsuits" beside "e.g., 'IPR', 'Patent'": `Patent`).
    """
    properties = parameters.get("properties")
    if not isinstance(properties, dict):
        return
    required = list(parameters.get("required") or ())
    words = [(name, _name_words(name)) for name in (tool_name, *properties)]
    for name, schema in properties.items():
        if isinstance(schema, dict) and _surfaced(name, schema, required, query, own, words):
            required.append(name)
    if required:
        parameters["required"] = required


def _surfaced(
    name: str,
    schema: dict[str, Any],
    required: list[str],
    query: str,
    own: str,
    words: list[tuple[str, set[str]]],
) -> bool:
    """Narrow one parameter to the values the request names; whether it becomes required.

    `words` are those of the tool's name and of its parameters' (which name no other string).
    An array of enum values is surfaced when the request names one of its items' values (and
    not narrowed: grounding puts those first, `_lead_with`), except that a call whose own part
    names some leaves out those only another call's part names ("vegetarian options in New
    York and delivery in Los Angeles").
    """
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        listed = items.get("enum")
        named = _named(name, listed, own, query) if isinstance(listed, list) else []
        if named and isinstance(listed, list) and own:
            # each call of a list takes the choices its own part names, not another call's
            strings = [v for v in listed if isinstance(v, str)]
            theirs = {c.code for c in _codes.enum_mentions(query, strings)} - set(named)
            items["enum"] = [v for v in listed if v not in theirs] or listed
        return name not in required and bool(named)
    enum = schema.get("enum")
    values = choices(schema)
    named = _named(name, values, own, query)
    if named:
        schema["enum"] = named
    numeric = schema.get("type") in ("number", "integer")
    reserved = [] if numeric else [ws for other, ws in words if other != name]
    flag = _read_flag(name, own, query, reserved) if schema.get("type") == "boolean" else None
    if name in required and not named:
        _required_default(schema, values, flag)
    if name in required or isinstance(enum, list) or named:
        return name not in required and bool(named)
    others = {w for other, ws in words[1:] if other != name for w in ws}  # other parameters'
    # "a move named 'Solar Beam'"; "patent lawsuits" beside "Type of the lawsuit, e.g., 'Patent'"
    quoted = _quoted_for(name, own or query, others) if schema.get("type") == "string" else []
    written = quoted or _examples_named(name, schema, own, query)
    if written:
        schema["enum"] = written
        return True
    if _mention(query.lower(), name, reserved) is None:
        return False
    if values:  # "in 24 hour format": one of the choices, not a guess; a default if it has one
        schema["enum"] = [schema["default"]] if schema.get("default") in values else values
    elif flag is not None:  # "with details": true; "without": false
        schema["enum"] = [flag]
    return True


def _examples_named(name: str, schema: dict[str, Any], own: str, query: str) -> list[str]:
    """The examples of an optional free string's description that the request writes.

    "Find details of patent lawsuits" beside `case_type` "e.g., 'IPR', 'Patent', 'Commercial'":
    the request sets the parameter, in the description's spelling ("Patent") or its own.
    """
    if not groundable_string(name, schema):
        return []
    examples = [  # "IN" or "all" says nothing
        e
        for e in _values.examples(str(schema.get("description", "")))
        if len(e) >= 3 and e.lower() not in _values.STOPWORDS
    ]
    for text in (own, query):
        found: list[str] = []
        for example in examples:
            match = _values.written(example, text)
            if match:
                found += [example, match.group()]
        if found:
            return list(dict.fromkeys(found))
    return []


def _quoted_for(name: str, text: str, others: set[str]) -> list[str]:
    """The quoted values written right after a word of the parameter's name.

    "a move named 'Solar Beam'" for `move`; not "titled 'Dune'" for `meta_title` beside
    `title` (a word another parameter's name has too: `others`).
    """
    keys = _name_words(name) - others
    found = []
    for match in _values.QUOTED.finditer(text[:10_000]):
        if keys and _names_value(keys, _words_before(text, match.start())):
            found.append(match.group(1))
    return list(dict.fromkeys(found))


def _required_default(schema: dict[str, Any], values: list[Any], flag: bool | None) -> None:
    """Narrow a required choice the request leaves unnamed: to its default, if it has one.

    A required boolean the request names takes the `flag` read for it ("and in which year?"
    for `want_year`: true); an unnamed one keeps its default; a required enum whose values the
    request never names ("Book a hotel room ..." beside a room type that defaults to
    'Standard') takes its default, and a required string without one the choices its
    description lists ("Can be 'summary' or 'detailed'"), not a span of the request.
    """
    default = schema.get("default")
    if schema.get("type") == "boolean":
        if flag is not None:
            schema["enum"] = [flag]
        elif isinstance(default, bool):
            schema["enum"] = [default]
    elif values and default in values:
        schema["enum"] = [default]
    elif values and "enum" not in schema:  # "Can be 'summary' or 'detailed'": one of those
        schema["enum"] = list(values)


def choices(schema: dict[str, Any]) -> list[Any]:
    """The values a parameter may take: its enum, else the choices its description lists.

    Example:
        >>> choices({"type": "string", "description": "Options are 'Standard', 'Deluxe'"})
        ['Standard', 'Deluxe']
    """
    enum = schema.get("enum")
    if isinstance(enum, list):
        return enum
    if schema.get("type") != "string" or "const" in schema:
        return []
    return _values.options(str(schema.get("description", "")))


def _named(name: str, values: list[Any], own: str, query: str) -> list[str]:
    """The string values the call's own part names, else those the whole request names.

    Of two or more named, a target parameter takes the one aimed at ("to miles", "how many
    milliliters") and a source the other (`_aim`).
    """
    strings = [v for v in values if isinstance(v, str)]
    for text in (own, query):
        found = _codes.enum_mentions(text, strings)
        if found:
            return [c.code for c in _aim(name, found, text)]
    return []


def _omit_unnamed(parameters: dict[str, Any]) -> None:
    """Leave out the optional parameters (those still optional once named ones are surfaced)."""
    properties = parameters.get("properties")
    if isinstance(properties, dict):
        required = set(parameters.get("required") or ())
        parameters["properties"] = {k: v for k, v in properties.items() if k in required}


def _mention(lowered: str, name: str, reserved: Collection[Collection[str]] = ()) -> int | None:
    """Where the request first uses a distinctive word of the parameter's name (`maxCalories`).

    Words of `reserved` (those of the tool's name and of its other parameters) are not
    distinctive, nor is the verb that opens a sentence ("Send an email" names no `send_at`).
    None when the request names the parameter nowhere.
    """
    for word in name_parts(name):
        if len(word) < 4 or word in _GENERIC_WORDS or word in _values.STOPWORDS:
            continue
        if any(_alike(word, other) for words in reserved for other in words):
            continue
        stem = word[: max(4, len(word) - 3)]
        for match in re.finditer(rf"\b{re.escape(stem)}", lowered):
            if word not in _values.LEADING_WORDS or not _opens_sentence(lowered, match.start()):
                return match.start()
    return None


_SWITCHED_OFF = re.compile(
    r"\b(?:no|not|without|don't|do not|never|exclude|excluding|disable|disabled|turn off|"
    r"switch off|stop|off)\b(?![^,.;]*\b(?:but|and)\b)[^,.;]{0,40}$"
)


def _read_flag(name: str, own: str, query: str, reserved: list[set[str]]) -> bool | None:
    """A boolean the call's own part (else the request) names; None when neither names it.

    False when the clause naming it negates it, else true: "disable the power-saving mode"
    and "without details" are false; "with quality monitoring" is true.
    """
    for text in (own.lower(), query.lower()):
        at = _mention(text, name, reserved)
        if at is not None:
            return not _SWITCHED_OFF.search(text[max(0, at - 60) : at])
    return None


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?"


def _ground(
    node: dict[str, Any],
    name: str,
    spans: _Spans,
    numbers: list[_values.Value],
    depth: int,
    said: str = "",
) -> None:
    """Offer a node the values the request writes for it (`said`: its array's description)."""
    if depth > 8:
        return
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties") or {}
        for key, sub in properties.items():
            if isinstance(sub, dict):
                _ground(sub, key, spans, numbers, depth + 1)
        bounds = _range(properties, spans.text, numbers)
        if bounds and "required" not in node:  # "within $300,000 to $400,000": both bounds
            node["required"] = list(bounds)
    elif kind == "array" and isinstance(node.get("items"), dict):
        chosen = node["items"].get("type") == "string" and _fixed(node["items"])  # the tool's
        _ground(node["items"], name, spans, numbers, depth + 1, str(node.get("description", "")))
        _ground_array(node, spans, chosen=chosen)
    elif kind == "string":
        _ground_string(node, name, spans)
    elif kind in ("number", "integer") and not _fixed(node):
        allowed = _numbers_for(name, node, numbers, said)
        if allowed:
            node["enum"] = allowed


_LOW = re.compile(r"^(?:min|minimum|low|lower|from|start)(?:_|$)|_(?:min|minimum|low)$", re.I)
_HIGH = re.compile(r"^(?:max|maximum|high|upper|to|end)(?:_|$)|_(?:max|maximum|high)$", re.I)
_RANGE_GAP = re.compile(r"\s*(?:to|-|\u2013|and)\s*", re.IGNORECASE)


def _range(
    properties: dict[str, Any], text: str, numbers: list[_values.Value]
) -> tuple[str, str] | None:
    """An object's low and high bounds set to the one range the text writes, if it has them.

    `min` and `max` of a budget "within $300,000 to $400,000" take 300000 and 400000 (not the
    "3 bedroom" before them); the names of the bounds, else None.
    """
    numeric = [
        n
        for n, s in properties.items()
        if isinstance(s, dict) and s.get("type") in ("number", "integer")
    ]
    lows = [n for n in numeric if _LOW.search(n)]
    highs = [n for n in numeric if _HIGH.search(n)]
    if len(lows) != 1 or len(highs) != 1:
        return None
    low, high = properties[lows[0]], properties[highs[0]]
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(_values.distinct(numbers))
        if a.start < b.start
        and _RANGE_GAP.fullmatch(text[a.start + len(a.text) : b.start])
        and isinstance(a.value, int | float)
        and isinstance(b.value, int | float)
        and a.value < b.value
    ]
    if len(pairs) != 1:
        return None
    a, b = pairs[0]
    if a.value not in low.get("enum", [a.value]) or b.value not in high.get("enum", [b.value]):
        return None
    low["enum"], high["enum"] = [a.value], [b.value]
    return lows[0], highs[0]


def _ground_array(node: dict[str, Any], spans: _Spans, *, chosen: bool) -> None:
    """Offer an array the list its call's part writes, or put the choices it names first.

    `chosen`: its items are strings of the tool's own choices (not offered spans).
    """
    if any(k in node for k in ("enum", "const", "prefixItems", "minItems", "maxItems")):
        return
    lists = spans.own_first(lambda text: _lists(node["items"], text, chosen=chosen))
    if lists:
        node["enum"] = lists  # "the mean of 3, 9 and 12": exactly that list
    elif chosen:  # "vegetarian options in New York": "Vegetarian" first
        for text in (spans.own, spans.text, spans.query):  # "an overview of A, and of B"
            named = _choices_named(node["items"], text, spans.choices)
            if named:
                _lead_with(node, named)
                return


_LIST_GAP = re.compile(r",?\s*(?:(?:and|or|&)\s*)?(?:(?:the|a|an)\s*)?", re.IGNORECASE)
_QUOTE_MARKS = "\"'\u2018\u2019\u201c\u201d"


def _lists(items: dict[str, Any], text: str, *, chosen: bool = False) -> list[list[Any]]:
    """The lists the text writes of values an array's items take, longest first.

    Numbers ("3, 9 and 12", "[23, 45, 67]") for number items, names and quoted text ("'milk',
    'bread', and 'eggs'") for grounded strings, the values of the schema's own enum (`chosen`)
    as the text names them ("the rating and player count"): two or more values with only
    commas, "and" or "or" between them.
    """
    kind = items.get("type")
    if kind in ("number", "integer") and "enum" in items:
        offered = set(items["enum"])
        values = [v for v in _values.numbers(text) if v.value in offered]
    elif chosen and isinstance(items.get("enum"), list):
        strings = [v for v in items["enum"] if isinstance(v, str)]
        found = _codes.enum_mentions(text, strings)  # in the order written
        values = [_values.Value(text[c.start : c.end], c.code, c.start) for c in found]
    elif kind == "string" and isinstance(items.get("enum"), list):
        offered = set(items["enum"])
        values = [v for v in _values.names(text) if v.value in offered]
    else:
        return []
    runs: list[list[_values.Value]] = []
    end = 0
    for value in _values.distinct(values):
        gap = text[end : value.start].strip(_QUOTE_MARKS + " ")
        if runs and _LIST_GAP.fullmatch(gap):
            runs[-1].append(value)
        else:
            runs.append([value])
        end = text.find(value.text, value.start) + len(value.text)
    lists = [[v.value for v in run] for run in runs if len(run) >= 2]
    return sorted(lists, key=len, reverse=True)[:8]


def _choices_named(items: dict[str, Any], text: str, others: Collection[str]) -> list[str]:
    """The array's choices that the text names: as written, then by their first word alone.

    First in the order written, then those named by a first word of five letters or more that
    begins no other choice ("facilities for disabled people": "Disabled Access").

    A mention inside one of `others` (the other parameters' choices) is theirs: "violin" of
    "violin lessons" names no instrument beside services of "Violin Lessons".
    """
    strings = [v for v in items.get("enum") or () if isinstance(v, str)]
    rivals = [v for v in others if v not in strings]
    found = _codes.enum_mentions(text, strings + rivals)
    named = [c.code for c in found if c.code in strings]
    spoken = {w for c in found for w in text[c.start : c.end].lower().split()}
    heads = Counter(_head(v) for v in strings + rivals)
    words = set(re.findall(r"[a-z]+", text[:10_000].lower())) - spoken
    for value in strings:  # "facilities for disabled people": "Disabled Access"
        head = _head(value)
        if value not in named and len(head) >= 5 and heads[head] == 1 and head in words:
            named.append(value)
    return named


def _head(value: str) -> str:
    """The first word of a choice of two words or more, lowered ("" for a single word)."""
    words = value.lower().split()
    return words[0] if len(words) >= 2 else ""


def _lead_with(node: dict[str, Any], named: list[str]) -> None:
    """An array of choices opens with those the request names, then may take others.

    Not only those: "facilities for disabled people" names "Disabled Access" without spelling
    it, and "vegetarian" may be meant by "vegan".
    """
    node["prefixItems"] = [{"const": value} for value in named]
    node["minItems"] = len(named)
    rest = [v for v in node["items"]["enum"] if v not in named]
    if rest:
        node["items"] = {**node["items"], "enum": rest}
    else:
        node["maxItems"] = len(named)


def _written_forms(node: dict[str, Any], name: str, spans: _Spans) -> list[str]:
    """The values a string of a set form takes from the request: a code, a date, a formula."""
    said = str(node.get("description", ""))
    codes = spans.own_first(lambda text: _coded(name, node, text))
    if not codes and spans.query != spans.text:  # "For Amazon: the profile and the quote"
        codes = _coded(name, node, spans.query)[:1]
    if not codes:
        codes = spans.own_first(lambda text: _formatted(name, node, text))
    if not codes and _DATE_NAME.search(name) and not _FORMAT_ASKED.search(said):  # "tomorrow"
        codes = spans.own_first(_days)
    if not codes and _formula_parameter(name, node):  # "f(x)=x^2" is "x**2"
        codes = _formula_offers(spans)
    if not codes and _ARITHMETIC.search(f"{name} {said}"):
        written = _values.expression(spans.own or spans.text)  # "15% of 80" is "0.15 * 80"
        codes = [written] if written else []
    return codes


def _ground_string(node: dict[str, Any], name: str, spans: _Spans) -> None:
    """Offer a string the values its call's part of the request writes for it.

    A code it names (else the first the whole request names), a date or time in the format
    asked for, the formula or the arithmetic it writes, else a value of the parameter's kind
    (an email address, a path), else a span of it; else the string stays free.
    """
    if _fixed(node):
        return
    codes = _written_forms(node, name, spans)
    kind = None if codes else spans.own_first(lambda text: _of_kind(name, node, text))
    if codes or kind:
        node["enum"] = codes or kind
    elif kind is None and groundable_string(name, node) and spans.every:
        fitting = _names_for(name, spans.for_parameter(name), spans.text)
        if not _UNIT_LIKE.search(name):  # not "room", "percent"; a unit may be "units"
            bare = _bare_words(fitting, spans.named)
            fitting = [f for f in fitting if not _only(bare, f)] or fitting
        others = spans.of_others(name)  # "scale progression with tempo" speaks of `tempo`
        fitting = [f for f in fitting if not _mentions(f, others)] or fitting
        if not _DATE_NAME.search(name):  # "next Friday" is no genre
            fitting = [f for f in fitting if not _a_day(f)] or fitting
        theirs = {v for n, vs in spans.exemplified.items() if n != name for v in vs}
        fitting = [f for f in fitting if f not in theirs] or fitting  # "Italian" is a cuisine
        fitting = _exemplified(node, spans.own or spans.text, fitting) or fitting
        if "country" in _name_words(name):  # "German history": Germany, not "German"
            written = spans.own_first(_countries)
            fitting = [*written.values(), *(f for f in fitting if f not in written)]
        if fitting:
            node["enum"] = list(dict.fromkeys(fitting))


_FORMULA_NAME = re.compile(r"\b(?:function|expression|formula|equation|polynomial)s?\b", re.I)


def outside_formulas(
    properties: dict[str, Any], text: str, numbers: list[_values.Value]
) -> list[_values.Value]:
    """The numbers not written inside a formula, when a parameter takes one (else all).

    "the derivative of 2x^2 at x = 1" beside a `function` parameter: the 2s are the
    function's, not values of their own.
    """
    if not any(_takes_formula(n, s) for n, s in properties.items() if isinstance(s, dict)):
        return numbers
    written = _values.formulas(text)
    return [v for v in numbers if not any(a <= v.start < b for a, b in written)]


def _formula_parameter(name: str, node: dict[str, Any]) -> bool:
    """A free string named for a formula (`function`, `equation`; not `function_variable`)."""
    words = name_parts(name)
    return (
        node.get("type") == "string"
        and not _fixed(node)
        and bool(words)
        and _FORMULA_NAME.fullmatch(words[-1]) is not None
    )


def _formula_offers(spans: _Spans) -> list[str]:
    """The formula a call's part of the request writes, in Python's syntax and as written.

    In a call of several, the formula written last before the call's own values ("the
    derivative of '3x^2 + 2x - 1' at 2, then of '5y^3 - 4y + 2' at 3"); else the one its part
    writes, else the one the whole request writes ("... f(x)=x^2. And find the derivative at
    x=3."): only ever one formula.
    """
    text = spans.text
    written = _values.formulas(text)
    if spans.own and (at := text.find(spans.own)) >= 0:
        before = [f for f in written if f[1] <= at]
        written = before[-1:] or [f for f in written if f[0] >= at][:1]
    elif not written and spans.query != text:
        text = spans.query
        written = _values.formulas(text)
    if len(written) != 1:
        return []
    start, end = written[0]
    return list(dict.fromkeys([re.sub(r"\s*\^\s*", "**", text[start:end]), text[start:end]]))


def _takes_formula(name: str, node: dict[str, Any]) -> bool:
    """A string parameter that takes a formula: `function`, `equation`, "The polynomial"."""
    said = f"{name.replace('_', ' ')} {node.get('description', '')}"[:300]
    return node.get("type") == "string" and bool(_FORMULA_NAME.search(said))


def _chosen(node: dict[str, Any], spans: list[str]) -> list[str]:
    """The spans that are one of a parameter's choices (or its items' choices).

    "parking" beside amenities of "Parking": no other string is offered it.
    """
    values = {str(v).casefold() for v in _own_choices(node)}
    return [s for s in spans if s.casefold() in values]


def _own_choices(node: dict[str, Any]) -> list[Any]:
    """A parameter's choices, or its items' if it is an array (the first `MAX_CHOICES`)."""
    items = node.get("items")
    listed = choices(items) if node.get("type") == "array" and isinstance(items, dict) else []
    return (listed or choices(node))[:MAX_CHOICES]


MAX_CHOICES = 256
"""At most this many of a parameter's choices are compared with the request's spans."""


def _exemplified(node: dict[str, Any], text: str, fitting: list[str]) -> list[str]:
    """The request's words for a value its description gives as an example, if it writes one.

    "the UEFA Champions League" beside "(for example, 'UEFA Champions League')", "vegetarian"
    beside "e.g., 'Vegetarian'": the request names a value of exactly the kind asked for. A
    span of one more word before it is offered too ("a slightly bitter taste").
    """
    found: list[str] = []
    for example in _values.examples(str(node.get("description", ""))):
        match = _values.written(example, text)
        if match:
            size = len(match.group().split()) + 1
            found += [f for f in fitting if f.endswith(match.group()) and len(f.split()) == size]
            found.append(match.group())
    return list(dict.fromkeys(found))


_FORMAT_ASKED = re.compile(r"format|yyyy|\biso\b|\bmm\b|\bdd\b", re.IGNORECASE)
_DATE_NAME = re.compile(r"(?:^|_)(?:date|day|when)(?:$|_)|^(?:date|day)[A-Z]|[a-z](?:Date|Day)$")
_RELATIVE_DAYS = ("this", "next", "last", "coming")
"""Words that set a day relative to today ("next Friday")."""
_DAY_WORDS = re.compile(
    rf"\b(?:(?:{'|'.join(_RELATIVE_DAYS)})\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|weekend)\b|\b(?:today|tomorrow|tonight|yesterday)\b",
    re.IGNORECASE,
)


def _days(text: str) -> list[str]:
    """The days a request writes, as written: "next Friday", "tomorrow", "June 21, 2025".

    Example:
        >>> _days("Concerts near Berlin next Friday, or on 5 May 2025")
        ['next Friday', '5 May 2025']
    """
    found = [(m.start(), m.group()) for m in _DAY_WORDS.finditer(text[:10_000])]
    found += [(v.start, v.text) for v in _values.dates(text)]
    return list(dict.fromkeys(day for _, day in sorted(found)))


def _countries(text: str) -> dict[str, str]:
    """The countries the adjectives of nationality a text writes name, by the words written."""
    return {text[c.start : c.end]: c.code for c in _codes.mentioned(text, _codes.COUNTRIES)}


def _a_day(span: str) -> bool:
    """Whether a span is only a day: "Friday", "next Friday", "May 5", "tomorrow"."""
    words = span.split()
    if 1 <= len(words) <= 2 and words[-1].capitalize() in _values.CALENDAR - {"May"}:
        if len(words) == 1 or words[0].lower() in _RELATIVE_DAYS:
            return True
    return _days(span) == [span] and span.lower() != "weekend"


_ARITHMETIC = re.compile(r"\b(?:expressions?|formula|arithmetic|calculation)\b", re.IGNORECASE)
_DATE_FORMATS = {
    "yyyy-mm-dd": "%Y-%m-%d", "mm-dd-yyyy": "%m-%d-%Y", "dd-mm-yyyy": "%d-%m-%Y",
    "yyyy/mm/dd": "%Y/%m/%d", "mm/dd/yyyy": "%m/%d/%Y", "dd/mm/yyyy": "%d/%m/%Y",
    "dd.mm.yyyy": "%d.%m.%Y",
}  # fmt: skip
_TIME_FORMAT = re.compile(r"\bhh:mm\b|\b24[- ]?h(?:ours?)?\b", re.IGNORECASE)


def _formatted(name: str, node: dict[str, Any], text: str) -> list[str]:
    """The dates (or clock times) the text writes, in the format the parameter asks for.

    A date parameter whose description names its format ("YYYY-MM-DD", "MM-DD-YYYY") takes the
    dates written in full ("21 June 2025"); a time in "HH:MM" or 24-hour form takes the times
    written ("6:30 pm" is "18:30"). A source ("from_date") takes the first of two, a target
    the one after "to"; a date and time in one string stays free.
    """
    if node.get("type") != "string" or any(k in node for k in ("enum", "const", "pattern")):
        return []
    said = re.sub(r"(?<![a-z])yyy(?![a-z])", "yyyy", str(node.get("description", "")).lower())
    date_format = next((f for k, f in _DATE_FORMATS.items() if k in said), None)
    if node.get("format") == "date":
        date_format = date_format or "%Y-%m-%d"
    clock = _TIME_FORMAT.search(said) or node.get("format") == "time"
    if date_format and not clock:
        found = [
            _codes.Code(datetime.date.fromisoformat(str(v.value)).strftime(date_format), v.start)
            for v in _values.dates(text)
        ]
    elif clock and not date_format and "date" not in said:
        found = [_codes.Code(str(v.value), v.start) for v in _values.times(text)]
    else:
        return []
    first: dict[str, _codes.Code] = {}
    for code in sorted(found, key=lambda c: c.start):
        first.setdefault(code.code, code)  # each value once, where first written
    return [c.code for c in _aim(name, list(first.values()), text)]


def _code_kind(name: str, node: dict[str, Any]) -> str | None:
    """Which kind of code a string parameter asks for, if any."""
    said = f"{name.replace('_', ' ')} {node.get('description', '')}".lower()
    if _fixed(node) or node.get("type") != "string":
        return None
    if "currenc" in said:
        return "currency"
    if re.search(r"\blang|639", said) and _CODE_LIKE.search(said):
        return "language"
    if re.search(r"ticker|stock symbol", said):
        return "ticker"
    if re.search(r"\bunits?\b|\bscale\b", said) and _CODE_LIKE.search(said):
        return "unit"
    return None


def _coded(name: str, node: dict[str, Any], text: str) -> list[str]:
    """The codes a currency, language, ticker or unit symbol may take: those the text names.

    With two named, a target takes the one after "to", "into" or "in" (else the last named)
    and a source the other (else the first).
    """
    kind = _code_kind(name, node)
    if kind is None:
        return []
    if kind == "unit":
        found = _codes.enum_mentions(text, _codes.UNIT_SYMBOLS)
    else:
        found = _codes.mentioned(text, _TABLES[kind])
    return [c.code for c in _aim(name, found, text)]


_TABLES = {"currency": _codes.CURRENCIES, "language": _codes.LANGUAGES, "ticker": _codes.TICKERS}
_WRITTEN_CODE = {
    "currency": re.compile(r"\b[A-Z]{3}\b"),
    "language": re.compile(r"\b[A-Z][a-z]+(?:ish|ese|ian|ic|ali|ch|an)\b"),
    "ticker": re.compile(r"\b[A-Z][\w.&-]*"),
}
"""What a request may write for a code outside the tables: "XAU", "Klingon", "Zorblax"."""


def fillable(parameters: dict[str, Any], text: str, query: str = "") -> bool:
    """Whether the text writes what the required parameters need (a code: or the `query`).

    A tool's free numbers need as many numbers written in the text ("the roots of bx + c = 0"
    fills no `a`, `b` and `c`); a currency, a language code or a ticker
    needs one it names, or at least a word that may be one ("XAU", "Klingon", "Zorblax"); a
    target language code one of those or a quoted text to translate: "Explain what a stock
    split is" fills no ticker.

    Example:
        >>> quote = {"properties": {"symbol": {"type": "string",
        ...     "description": "The stock's ticker symbol"}}, "required": ["symbol"]}
        >>> fillable(quote, "Explain what a stock split is"), fillable(quote, "Is Tesla up?")
        (False, True)
    """
    properties = parameters.get("properties") or {}
    numbers_written = len(_values.distinct(_values.numbers(text)))
    needed = 0
    for name in parameters.get("required") or ():
        schema = properties.get(name)
        if not isinstance(schema, dict):
            continue
        if schema.get("type") in ("number", "integer") and not (
            any(k in schema for k in ("enum", "const", "default")) or _stated_default(schema)
        ):
            needed += 1
            if numbers_written < needed:
                return False
            continue
        kind = _code_kind(name, schema)
        if kind == "language" and (_values.QUOTED.search(text) or not _TARGET.search(name)):
            continue  # a text to translate ("Translate 'thank you'"), or the request's own
        if kind in _WRITTEN_CODE and not any(_coded(name, schema, t) for t in (text, query)):
            written = _WRITTEN_CODE[kind].finditer(f"{text[:10_000]} {query[:10_000]}")
            if not any(w.group().lower() not in _values.LEADING_WORDS for w in written):
                return False
    return True


def _aim(name: str, found: list[_codes.Code], text: str) -> list[_codes.Code]:
    """Of the codes a text names, those a source or target parameter takes.

    With two or more named, a target takes the one after "to", "into", "in" or "how many"
    (else the last named) and a source the other (else the first); other parameters take all.
    """
    if len(found) < 2 or not (_SOURCE.search(name) or _TARGET.search(name)):
        return found
    aimed = [c for c in found if _AIMED.search(text[max(0, c.start - 16) : c.start])]
    if _TARGET.search(name):
        return [(aimed or found)[-1]]
    rest = [c for c in found if c not in aimed] if aimed else found
    return [(rest or found)[0]]


_AIMED = re.compile(r"\b(?:(?:to|into|in)\s+(?:the\s+|a\s+)?|how\s+many\s+)$", re.IGNORECASE)


def _of_kind(name: str, node: dict[str, Any], text: str) -> list[str] | None:
    """The values of the parameter's kind the text writes, if it is of a recognisable kind.

    An email address for an email, a path for a path; None for a parameter of no such kind.
    """
    if node.get("type") != "string" or _fixed(node):
        return None
    description = str(node.get("description", ""))
    for names, described, holds in _KINDS:
        if re.search(names, name, re.I) or re.search(described, description, re.I):
            found = (m.group().rstrip(".,;:!?)'\"") for m in re.finditer(holds, text[:10_000]))
            return list(dict.fromkeys(v for v in found if v))
    return None


_UNIT_WORDS = frozenset(w for name in _codes.UNITS for w in name.split()) | {"percent", "degree"}
_UNIT_LIKE = re.compile(r"units?|scale|measure", re.IGNORECASE)


def _bare_words(spans: list[str], names: Collection[str]) -> set[str]:
    """The words of the spans that say nothing of their own: a unit, a word of `names`."""
    said = {w for span in spans for w in re.findall(r"[a-z]+", span.lower())}
    return {
        w
        for w in said
        if w in _UNIT_WORDS
        or w.removesuffix("s") in _UNIT_WORDS
        or any(_alike(n, w) for n in names)
    }


def _mentions(span: str, words: set[str]) -> bool:
    """Whether a span holds one of `words` (a word of another parameter's name)."""
    return any(_alike(k, w) for w in re.findall(r"[a-z]+", span.lower()) for k in words)


def _only(bare: set[str], span: str) -> bool:
    """Whether a span says nothing but bare words (of the tool's or a parameter's name, units)."""
    said = re.findall(r"[a-z]+", span.lower())
    return bool(said) and all(w in bare for w in said)


def _names_for(name: str, spans: list[str], text: str) -> list[str]:
    """The spans a string may take: a name the request writes for a city, an artist, a team.

    A day or a month is no name ("concerts near Berlin next Friday").
    """
    if _PROPER.search(name):
        named = {str(v.value) for v in _values.names(text)} - _values.CALENDAR
        names = [s for s in spans if s in named]
        own = _name_words(name)  # "Premier League" is a league's, "British Museum" a museum's
        return [s for s in names if own & set(s.lower().split())] or names or spans
    return spans


def _numbers_for(
    name: str, node: dict[str, Any], numbers: list[_values.Value], said: str = ""
) -> list[int | float]:
    """The numbers a number parameter may take, of its type and range.

    A percentage is read as the parameter asks ("in percent": 5; "as a decimal", a rate:
    0.05); a year parameter takes the years written, if any.
    """
    reading = _percent_reading(name, node, said)
    year = _is_year(name, node)
    allowed: list[int | float] = []
    years: list[int | float] = []
    for v in numbers:
        value = v.value
        if not isinstance(value, int | float) or value in allowed:
            continue
        if node.get("type") == "integer" and not isinstance(value, int):
            continue
        if reading and v.text.endswith("%") and (reading == "whole") != _as_written(v):
            continue
        if v.text.endswith("K") and (_TEMPERATURE.search(name) is None) == _as_written(v):
            continue  # "298K" is 298 kelvin for a temperature, else 298,000
        low, high = node.get("minimum"), node.get("maximum")
        if (isinstance(low, int | float) and value < low) or (
            isinstance(high, int | float) and value > high
        ):
            continue
        allowed.append(value)
        if _year_like(v):
            years.append(value)
    return (years or allowed) if year else allowed


_AS_FRACTION = re.compile(
    r"\bdecimal|\bfraction|sums? to (?:1|one)\b|(?<![\w.])0?\.\d", re.IGNORECASE
)
_AS_PERCENT = re.compile(r"percent", re.IGNORECASE)
_RATIO = re.compile(r"\brates?\b|\breturns?\b|\byield|probabilit|\bgrowth\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:^|[_.])(?:year|yr)\d?$|[a-z](?:Year|Yr)\d?$")
_YEAR_WRITTEN = re.compile(r"[12]\d{3}")


def _percent_reading(name: str, node: dict[str, Any], context: str = "") -> str | None:
    """How a percentage is given to a parameter: "whole" (5), "fraction" (0.05), or either.

    A description that asks for a decimal or a fraction (or shows one: "5% is 0.05") takes the
    fraction; one in percent the whole number; an unqualified rate, return, yield, growth or
    probability the fraction.

    Example:
        >>> _percent_reading("rate", {"description": "Interest rate in percent."})
        'whole'
        >>> _percent_reading("annual_rate", {"description": "The annual interest rate."})
        'fraction'
        >>> _percent_reading("discount", {"description": "The discount."}) is None
        True
    """
    said = f"{name.replace('_', ' ')} {node.get('description', '')} {context}"[:1000]
    if _AS_FRACTION.search(said):
        return "fraction"
    if _AS_PERCENT.search(said):
        return "whole"
    return "fraction" if _RATIO.search(said) else None


_TEMPERATURE = re.compile(r"temp|kelvin", re.IGNORECASE)


def _as_written(value: _values.Value) -> bool:
    """Whether a number is the value as written (25 for "25%", not 0.25; 298 for "298K")."""
    try:
        return float(value.text.lstrip("+$").rstrip("%K").replace(",", "")) == value.value
    except ValueError:
        return True


def _is_year(name: str, node: dict[str, Any]) -> bool:
    """Whether a number parameter takes a calendar year (`year`, `year1`, `start_year`)."""
    said = str(node.get("description", ""))[:200].lower()
    return node.get("type") in ("integer", "number") and bool(
        _YEAR.search(name) or (said.startswith("the year") and not name.endswith("s"))
    )


def _year_like(value: _values.Value) -> bool:
    """A number written as a year: four digits, 1000 to 2999, no sign, unit or scale."""
    return bool(_YEAR_WRITTEN.fullmatch(value.text))


_NAMED_IN_DESCRIPTION = re.compile(r"\b(city|country|location|place|name of)\b", re.IGNORECASE)


def takes_name(name: str, schema: dict[str, Any]) -> bool:
    """Whether a free string takes a proper name (a city, an artist, a team)."""
    if schema.get("type") != "string" or _fixed(schema):
        return False
    return bool(
        _PROPER.search(name) or _NAMED_IN_DESCRIPTION.search(str(schema.get("description", "")))
    )


def groundable_string(name: str, schema: dict[str, Any]) -> bool:
    """A free-text string whose value the request itself writes (not a code or a format)."""
    if schema.get("type") != "string":
        return False
    if any(k in schema for k in ("enum", "const", "pattern", "format")):
        return False
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ")
    said = _THE_TOOL.sub(" ", str(schema.get("description", "")))
    return not _CODE_LIKE.search(f"{words} {said}")
