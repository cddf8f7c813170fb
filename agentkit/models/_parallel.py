"""How many calls one intent of a request is, and which of its values each call takes.

Part of call shaping (`agentkit.models.shaping`). An intent whose values come in a multiple of
what its tool takes is several calls, when the groups of values form a list: a coordinator or a
new sentence stands between them, and what leads into each later group repeats what led into
the first ("the weather in Paris and in Tokyo"; "The first triangle has a base of 12 ... The
second triangle has a base of 18"). Words that lead into a later group but not the first mark a
different role instead ("directed by X and featuring Y"; "from 2020 Addison Street, and I can
wait up to 600 seconds"), and the intent stays one call.

When the values form no such list, three other shapes still make several calls: a word problem
whose sentences each open an instance ("The first object ... The second object ...", "Now,
consider a second car ..."; `_instances`), a list that varies one value while the others stay
("at 5% after 10 years, and after 20 years"; `_varied`), and a list of an enum's values ("the
genotypes AA, Aa and aa"; `_enumerated`).

Example:
    >>> from agentkit import Tool
    >>> area = Tool.from_schema({"name": "area", "parameters": {"type": "object",
    ...     "properties": {"base": {"type": "number"}, "height": {"type": "number"}},
    ...     "required": ["base", "height"]}})
    >>> len(shares(area, "A triangle has a base of 10 and a height of 5. Another has a "
    ...     "base of 8 and a height of 4."))
    2
    >>> len(shares(area, "A base of 10 and a height of 5, and I want it in 3 seconds."))
    1
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentkit.models import _codes, _values
from agentkit.models._arguments import choices, outside_formulas, takes_name
from agentkit.tools import Tool

__all__ = ["MAX_PLANNED_CALLS", "Share", "shares"]

MAX_PLANNED_CALLS = 8
"""The most calls one planned reply may hold."""
MAX_GAP_WORDS = 6
"""The most words that may trail one group of values (units, "tall") before the next begins."""
MAX_VARIED_VALUES = 16
"""Requests writing more values of a kind than this are never read as a list varying one."""
MAX_GAP_CHARS = 240
"""Groups of values further apart than this are never a list."""
MAX_EXAMPLED = 32
"""At most this many parameters, and examples of each, are looked for in a request."""

_COORDINATORS = frozenset(
    "and or also then plus vs versus respectively as well while whereas".split()
)
_MARKERS = frozenset(
    "first second third fourth fifth last another other same again next finally lastly now "
    "too similarly likewise each both one".split()
)
"""Words that announce one more of the same ("the second", "another", "do the same")."""
_REPEAT = frozenset("same another again likewise similarly".split())
_BREAK = re.compile(r"[.;!?](?=\s|$)")
_NOT_A_NAME = re.compile(r"[\d\s.,:/+-]+")
_REGION = re.compile(r",\s*([A-Z]{2,3})\b")
"""A state or country code after a place: "Boston, MA" is one place."""
_BRACKETED = re.compile(r"\[([^\[\]]{1,2000})\]")
"""A list written in brackets, of plain values: "[23, 45, 67, 89]"."""


@dataclass(frozen=True, slots=True)
class Share:
    """The values of an intent that belong to its other calls (left out of this call's)."""

    other_numbers: frozenset[int] = frozenset()  # start offsets in the intent's text
    other_names: tuple[str, ...] = ()
    own: tuple[int, int] | None = None
    """Where this call's part of the intent's text is: from its values to the next call's."""
    text: str = ""
    """The intent's text as this call reads it, when the other calls' parts are cut out of it
    (instances of a word problem); empty when the call reads all of it."""


def shares(tool: Tool, text: str) -> list[Share]:
    """One share per call of an intent: its values split in order among the calls.

    An intent whose numbers (or names) are a multiple, above one, of the number (or string)
    parameters its tool takes is that many calls, each taking the next group in turn, when the
    groups form a list (`_listed`). Names that are enum values of the tool ("Fahrenheit") and
    numbers that are part of a name ("S&P 500") are not values to split.
    """
    kinds = _parameter_kinds(tool.parameters)
    if kinds.pop("listed")[1]:  # values go into an array parameter, not into several calls
        return _bracketed(tool, text) or [Share()]
    found = _found(tool, text)
    taken = _exemplified_strings(tool.parameters, text, found["named"])
    low, high = kinds["string"]
    kinds["string"] = (max(0, low - taken), max(0, high - taken))
    counts = _group_counts(text, found, kinds)
    fewest = min((c for c, _ in counts.values()), default=1)
    calls = min(fewest, MAX_PLANNED_CALLS)
    if calls < 2:
        return (
            _instances(tool, text, found, kinds)
            or _varied(text, found, kinds)
            or _enumerated(tool, text)
            or [Share()]
        )
    out = []
    leading = next(k for k, (c, _) in counts.items() if c == fewest)
    step = counts[leading][1]
    starts = [0, *(found[leading][i * step].start for i in range(1, calls)), len(text)]
    for index in range(calls):
        other_numbers: set[int] = set()
        other_names: list[str] = []
        for kind, values in found.items():
            if kind not in counts or counts[kind][0] != fewest:
                continue
            size = counts[kind][1]
            mine = values[index * size : (index + 1) * size]
            others = values[: index * size] + values[(index + 1) * size :]
            if kind == "number":
                other_numbers.update(v.start for v in others)
            else:  # a name shared by two calls ("to Los Angeles, then from Los Angeles") stays
                kept = {str(v.value) for v in mine}
                other_names.extend(str(v.value) for v in others if str(v.value) not in kept)
        part = (starts[index], starts[index + 1])
        out.append(Share(frozenset(other_numbers), tuple(other_names), part))
    return out


def _bracketed(tool: Tool, text: str) -> list[Share]:
    """One share per list written in brackets, for a tool that takes one list of plain values.

    "the first set is [23, 45, 67, 89], the second set is [12, 34, 56, 78]" beside a tool
    whose one required array takes numbers: a call per list, each offered its own list.
    """
    properties = tool.parameters.get("properties") or {}
    arrays = [
        schema
        for name in tool.parameters.get("required") or ()
        if isinstance(schema := properties.get(name), dict) and schema.get("type") == "array"
    ]
    items = arrays[0].get("items") if len(arrays) == 1 else None
    if not isinstance(items, dict) or items.get("type") not in ("number", "integer", "string"):
        return []
    lists = [m for m in _BRACKETED.finditer(text[: _values.MAX_CHARS]) if "," in m.group(1)]
    if not 2 <= len(lists) <= MAX_PLANNED_CALLS:
        return []
    numbers = _values.numbers(text)
    out = []
    for index, mine in enumerate(lists):
        others = [m for m in lists if m is not mine]
        other_numbers = {
            v.start for v in numbers if any(m.start() <= v.start < m.end() for m in others)
        }
        end = lists[index + 1].start() if index + 1 < len(lists) else len(text)
        out.append(Share(frozenset(other_numbers), own=(mine.start(), end)))
    return out


def _exemplified_strings(parameters: dict[str, Any], text: str, names: list[_values.Value]) -> int:
    """How many required free strings the text fills with a word their description exemplifies.

    "in atomic mass unit (amu)" beside a unit "For example, 'kg', 'pound', 'amu'": that string
    takes "amu", not one of the names to split on ("Neutron and Proton").
    """
    properties = parameters.get("properties") or {}
    named = {v.text.lower() for v in names}
    taken = 0
    for name in list(parameters.get("required") or ())[:MAX_EXAMPLED]:
        schema = properties.get(name)
        if isinstance(schema, dict) and _free_string(schema):
            offered = _values.examples(str(schema.get("description", "")))[:MAX_EXAMPLED]
            taken += any(e.lower() not in named and _values.written(e, text) for e in offered)
    return taken


def _found(tool: Tool, text: str) -> dict[str, list[_values.Value]]:
    """The intent's values by kind: numbers, names, quoted names."""
    enums = {str(v).lower() for v in _enum_values(tool.parameters)}
    quoted = {m.start() for m in _values.QUOTED.finditer(text)}
    named = [
        v
        for v in _places(text)
        if str(v.value).lower() not in enums
        and v.text not in _values.CALENDAR
        and not _opens(text, v)
        and not _NOT_A_NAME.fullmatch(v.text)  # a quoted date or number ('2022-10-15', '2')
    ]
    numbers = [v for v in _values.distinct(_values.numbers(text)) if not _names_it(text, v)]
    properties = tool.parameters.get("properties") or {}
    return {
        "number": outside_formulas(properties, text, numbers),  # "'3x^2 + 2x - 1' at 2": 2
        "string": [v for v in named if v.start not in quoted],
        "quoted": [v for v in named if v.start in quoted],
        "named": named,  # both, in order: tried when neither alone is a list
    }


def _places(text: str) -> list[_values.Value]:
    """The request's names, a place and its state or country code kept together ("Boston, MA")."""
    found = _values.names(text)
    out: list[_values.Value] = []
    for value in found:
        previous = out[-1] if out else None
        if previous is not None and isinstance(previous.value, str):
            end = previous.start + len(previous.text)
            region = _REGION.match(text, end)
            if region and region.start(1) == value.start and region.group(1) == value.text:
                joined = text[previous.start : value.start + len(value.text)]
                out[-1] = _values.Value(joined, joined, previous.start)
                continue
        out.append(value)
    return out


def _opens(text: str, value: _values.Value) -> bool:
    """Whether a name is a sentence's first word rather than a name.

    A capitalised word that opens a sentence and runs into lower-case ones ("Remove the item",
    "Don't worry").
    """
    before = text[: value.start].rstrip()
    if " " in value.text or (before and before[-1] not in ".!?"):
        return False
    rest = text[value.start + len(value.text) :].lstrip(" \"'\u2018\u201c")
    return rest[:1].islower()


def _group_counts(
    text: str, found: dict[str, list[_values.Value]], kinds: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """How many calls each kind of value asks for, and how many values each call takes.

    A group is as many values as the tool has parameters of the kind (optional numbers
    included or not); names may also vary one ("into German, Japanese and Portuguese") or two
    ("Paris, France and Tokyo, Japan") at a time. Kinds without a list are left out; `found`
    keeps, for each kind counted, the values that make the list.
    """
    taken = _merged([(v.start, v.start + len(v.text)) for v in found["number"] + found["named"]])
    counts: dict[str, tuple[int, int]] = {}
    for kind, values in found.items():
        if kind == "named" and ("string" in counts or "quoted" in counts):
            break
        low, high = kinds["number" if kind == "number" else "string"]
        if not high:
            continue
        sizes = range(high, low - 1, -1) if kind == "number" else (high, 1, 2)
        # One parameter takes a name ("concerts near Berlin and Paris" beside a genre and a
        # date): names one at a time, though fewer than the string parameters.
        one_name = kind != "number" and kinds["named"][0] == 1
        # names may also be a list followed by a name for another parameter ('"Climate Change"
        # and "Artificial Intelligence", each with 5 articles, for the region "Europe"')
        for prefix in (False, True) if kind != "number" else (False,):
            for size in dict.fromkeys(s for s in sizes if s):
                enough = len(values) > high or (one_name and size == 1 and len(values) > 1)
                listed = _listing(text, values, size, taken, prefix) if enough else []
                if listed:
                    counts[kind] = (len(listed) // size, size)
                    found[kind] = listed
                    break
            if kind in counts:
                break
    return counts


def _listing(
    text: str,
    values: list[_values.Value],
    size: int,
    taken: list[tuple[int, int]],
    prefix: bool = False,
) -> list[_values.Value]:
    """The values that form a list of groups of `size` (none if they do not).

    Also tried without the number words ("the first one", "two triangles" count things rather
    than give values) and without a capitalised word that opens the request ("Weather in
    Chicago and in Berlin"); with `prefix`, the longest list the values begin with.
    """
    words = {v.start for v in values if not v.text[:1].isdigit() and v.text[:1] not in "$-+."}
    tries = [values, [v for v in values if v.start not in words]]
    if values and values[0].start == len(text) - len(text.lstrip()) and " " not in values[0].text:
        tries.append(values[1:])
    if prefix:  # the longest list the values begin with, of no more groups than calls
        longest = min(len(values) - 1, MAX_PLANNED_CALLS * size)
        tries = [values[:end] for end in range(longest, size, -1)]
    for tried in tries:
        if len(tried) > size and len(tried) % size == 0 and _listed(text, tried, size, taken):
            return tried
    return []


def _listed(
    text: str, values: list[_values.Value], size: int, taken: list[tuple[int, int]]
) -> bool:
    """Whether the groups of `size` values form a list of calls.

    Between two groups stand, in order: at most `MAX_GAP_WORDS` words that end the group before
    ("5 km to miles"), a separator (a coordinator, a new sentence, or a comma unless it is the
    last group: "A, B and C"; "Paris, France" is no list), then words that lead into the next
    group, each one that also led into the first group, or a stop word, or a word such as
    "second" or "another". A comma also separates the last group when such words lead into it
    ("John chose 36 and 48, Mary chose 60 and 96").
    """
    lead = {_stem(w) for w in _content(text[: values[0].start])}
    last = len(values) - size
    for boundary in range(size, len(values), size):
        before, after = values[boundary - 1], values[boundary]
        start, end = before.start + len(before.text), after.start
        if end - start > MAX_GAP_CHARS:
            return False
        gap = _masked(text, start, end, taken)
        cut = _separator(gap, comma=True)
        if cut is None:
            return False
        trailing, leading = _content(gap[:cut]), _content(gap[cut:])
        if len(trailing) > MAX_GAP_WORDS:
            return False
        repeated = _REPEAT & set(_content(gap))  # "do the same for ...": any words may follow
        if not repeated and not all(w in _MARKERS or _stem(w) in lead for w in leading):
            # a new sentence that asks the same again ("... the net worth of the basketball
            # player ..."): two of the words that led into the first group, other words beside
            restated = _BREAK.search(gap) and len({_stem(w) for w in leading} & lead) >= 2
            if not restated:
                return False
        if boundary == last and _separator(gap, comma=False) is None:
            marked = any(w in _MARKERS for w in _content(gap))
            if not marked and not leading:
                return False  # "Paris, France"
    return True


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans as disjoint ones in order, overlapping ones joined."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _masked(text: str, start: int, end: int, taken: list[tuple[int, int]]) -> str:
    """`text[start:end]` with the spans of `taken` (disjoint, in order: `_merged`) blanked out."""
    chars = list(text[start:end])
    first = max(0, bisect.bisect_right(taken, (start, start)) - 1)
    for a, b in itertools.islice(taken, first, None):
        if a >= end:
            break
        for i in range(max(a, start), min(b, end)):
            chars[i - start] = " "
    return "".join(chars)


def _stem(word: str) -> str:
    """A word's first five letters: "calculate" and "calculation" lead in alike."""
    return word[:5]


def _separator(gap: str, *, comma: bool) -> int | None:
    """Where the last separator of a gap between groups ends, if it has one."""
    ends = [m.end() for m in re.finditer(r"[^\W\d_]+", gap) if m.group().lower() in _COORDINATORS]
    ends += [m.end() for m in _BREAK.finditer(gap)]
    if comma:
        ends += [m.end() for m in re.finditer(",", gap)]
    return max(ends, default=None)


def _content(text: str) -> list[str]:
    """The words of a text that carry meaning (stop words and coordinators left out)."""
    words = (w.lower() for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text))
    return [w for w in words if w not in _values.STOPWORDS and w not in _COORDINATORS]


def _enum_values(node: Any, depth: int = 0) -> list[Any]:
    """The values a schema's enums, and its descriptions' choices, allow ("Celsius")."""
    if depth > 8 or not isinstance(node, dict):
        return []
    found = list(node.get("enum") or ()) if isinstance(node.get("enum"), list) else []
    found += _values.options(str(node.get("description", "")))
    for sub in (node.get("properties") or {}).values():
        found += _enum_values(sub, depth + 1)
    return found + _enum_values(node.get("items"), depth + 1)


def _names_it(text: str, value: _values.Value) -> bool:
    """A number right after a capitalised word is part of a name ("S&P 500", "Maroon 5")."""
    written = text[max(0, value.start - 64) : value.start]  # a bounded look back
    before = written.rstrip(" $")
    word = before.rsplit(None, 1)[-1] if before.split() else ""
    return (
        before != written
        and word[:1].isupper()
        and word.lower().strip(",.;:") not in _values.LEADING_WORDS
    )


def _parameter_kinds(parameters: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """How many top-level parameters take a number, and a free string: (required, all).

    Strings count only when required (optional names rarely come), grounded or not (a ticker
    takes a company's name); `named` counts those of them that take a proper name, `listed`
    required arrays.
    """
    counts = {"number": [0, 0], "string": [0, 0], "listed": [0, 0], "named": [0, 0]}
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    for name, schema in properties.items():
        if not isinstance(schema, dict):
            continue
        kind = None
        if schema.get("type") == "array" and name in required:
            kind = "listed"
        elif schema.get("type") in ("number", "integer") and "enum" not in schema:
            kind = "number"
        elif name in required and _free_string(schema):
            kind = "string"
        if kind:
            counts[kind][1] += 1
            counts[kind][0] += name in required
        if kind == "string" and takes_name(name, schema):  # required, as every string counted
            counts["named"][0] += 1
            counts["named"][1] += 1
    return {kind: (low, high) for kind, (low, high) in counts.items()}


def _free_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not any(k in schema for k in ("enum", "const"))


_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
_ANOTHER = "another"
_CONTINUING = frozenset("also lastly finally additionally then next".split())
"""First words of a sentence that may ask the same again for other values ("Also, ...")."""
_CONTINUED = -1
MAX_OPENER_WORDS = 6
"""How far into a sentence an ordinal may stand and still open an instance ("Now, consider a
second car")."""
_SHARED = frozenset("both each all these those them respectively".split())
"""Words of a closing sentence that speaks of every instance ("the final speed of both")."""


def _instances(
    tool: Tool,
    text: str,
    found: dict[str, list[_values.Value]],
    kinds: dict[str, tuple[int, int]],
) -> list[Share]:
    """One share per instance a word problem describes in sentences of its own.

    "A car starts at 15 m/s ... Now, consider a second car that starts at 20 m/s ...
    Finally, a third car ...": a sentence whose first words hold an ordinal ("second",
    "third") or "another" opens an instance, which runs until the next one opens. Text before
    a "first" instance, and closing sentences that speak of all of them ("the final speed of
    both objects"), are shared. An ordinal that names a parameter ("the first charge" of
    `charge1`, "The magnitude of the first charge") opens nothing. Each instance must hold a
    value of its own. A sentence that opens with "Also" or "Lastly" opens an instance too, when
    every instance writes all the numbers (or names) the tool requires ("... a distance of 500
    meters in 25 seconds? Also, ... 1000 meters in 200 seconds?").
    """
    sentences = _sentences(text)
    openers = _openers(text, sentences, _ordinal_roles(tool.parameters))
    if not 2 <= len(openers) <= MAX_PLANNED_CALLS:
        return []
    starts = [sentences[index][0] for index, _ in openers]
    end = len(text)
    for start, stop in sentences[openers[-1][0] + 1 :]:
        if set(re.findall(r"[a-z]+", text[start:stop].lower())) & _SHARED:
            end = start  # "... the final speed of both objects?": every instance's
            break
    parts = list(itertools.pairwise([*starts, end]))
    values = found["number"] + found["named"]
    groups = [[v for v in values if a <= v.start < b] for a, b in parts]
    if not all(groups):
        return []
    if any(o == _CONTINUED for _, o in openers) and not all(_complete(g, kinds) for g in groups):
        return []
    shared = text[: parts[0][0]], text[parts[-1][1] :]
    return [Share(own=part, text=shared[0] + text[slice(*part)] + shared[1]) for part in parts]


def _openers(text: str, sentences: list[tuple[int, int]], roles: set[str]) -> list[tuple[int, int]]:
    """The sentences that open instances, and their ordinals, in order (none if no sequence).

    The first instance opens the text when no "first" does; ordinals must run in order, and a
    sentence repeating the last ordinal ("the displacement of the second car") opens nothing.
    """
    openers: list[tuple[int, int]] = []  # (sentence index, ordinal; 0 for "another")
    for index, (start, end) in enumerate(sentences):
        ordinal = _opener(text[start:end], roles)
        if ordinal is not None and not (openers and ordinal > 0 and ordinal == openers[-1][1]):
            openers.append((index, ordinal))
    if not openers or (len(openers) < 2 and openers[0][1] == 1):
        return []
    if openers[0][1] != 1:
        openers.insert(0, (0, 1))
    for expected, (_, ordinal) in enumerate(openers, 1):
        if ordinal not in (0, _CONTINUED, expected):
            return []
    return openers


def _complete(group: list[_values.Value], kinds: dict[str, tuple[int, int]]) -> bool:
    """Whether an instance writes every number and name its tool requires."""
    numbers, strings = kinds["number"][0], kinds["string"][0]
    written = sum(not isinstance(v.value, str) for v in group)
    return bool(numbers + strings) and written >= numbers and len(group) - written >= strings


def _sentences(text: str) -> list[tuple[int, int]]:
    """Where each sentence of a text is."""
    out, start = [], 0
    for match in _BREAK.finditer(text):
        out.append((start, match.end()))
        start = match.end()
    if text[start:].strip():
        out.append((start, len(text)))
    return out


def _opener(sentence: str, roles: set[str]) -> int | None:
    """The ordinal that opens an instance in a sentence's first words (0 for "another")."""
    words = [w.strip(",;:.!?\"'()").lower() for w in sentence.split()[: MAX_OPENER_WORDS + 1]]
    for word, after in zip(words, [*words[1:], ""], strict=False):
        if word in _ORDINALS and f"{word} {after}" not in roles:
            return _ORDINALS[word]
        if word == _ANOTHER:
            return 0
    if words[:1] == ["and"]:
        words = words[1:]
    return _CONTINUED if words[:1] and words[0] in _CONTINUING else None


def _ordinal_roles(parameters: dict[str, Any]) -> set[str]:
    """The "first charge", "second number" that name parameters rather than instances."""
    out: set[str] = set()
    properties = parameters.get("properties") or {}
    for name, schema in list(properties.items())[:100]:
        description = schema.get("description", "") if isinstance(schema, dict) else ""
        text = f"{name} {description}"[:1000].lower()
        out.update(m.group() for m in re.finditer(r"\b(?:first|second|third) [a-z]+", text))
        for word, number in re.findall(r"([a-z]+)_?([1-3])\b", name.lower()):
            out.add(f"{[*_ORDINALS][int(number) - 1]} {word}")
    return out


def _varied(
    text: str, found: dict[str, list[_values.Value]], kinds: dict[str, tuple[int, int]]
) -> list[Share]:
    """One share per item of a list that varies one value while the others stay.

    "What does $1,000 become at 5% after 10 years, and after 20 years?"; "How far is Madrid
    from Barcelona, from Valencia and from Seville?": the values outside the list go to every
    call. The items must play the same role: the same word leads into each ("after", "from"),
    or the same word follows each ("10 minutes ... 25 minutes"); and there must be more values
    of the kind than the tool takes.
    """
    taken = _merged([(v.start, v.start + len(v.text)) for v in found["number"] + found["named"]])
    for kind in ("number", "named"):
        low, high = kinds["number" if kind == "number" else "string"]
        values = [v for v in found[kind] if kind != "number" or not v.text[:1].isalpha()]
        if len(values) > MAX_VARIED_VALUES:
            continue
        for start, length, size in _sublists(len(values), low, high):
            items = values[start : start + length]
            groups = [items[i : i + size] for i in range(0, length, size)]
            rest = {str(v.value) for v in values[:start] + values[start + length :]}
            if rest & {str(v.value) for v in items}:
                continue  # "from 2018 to 2019. In 2018, ... and in 2019, ...": one call
            if _same_role(text, groups) and _listed(text, items, size, taken):
                starts = [0, *(g[0].start for g in groups[1:]), len(text)]
                return _split(text, groups, list(itertools.pairwise(starts)))
    return []


def _sublists(count: int, low: int, high: int) -> Iterator[tuple[int, int, int]]:
    """Where a list varying groups of values may stand among `count`: (start, length, size).

    Larger groups first, longer lists first. Two groups at least; the values left out, with
    one group, must be what the tool takes (`low` to `high`), fewer than all of them.
    """
    for size in range(min(high, MAX_PLANNED_CALLS), 0, -1):
        for length in range(count - 1, 2 * size - 1, -1):
            shared = count - length
            if length % size == 0 and low <= shared + size <= high and shared + size < count:
                yield from ((start, length, size) for start in range(count - length + 1))


def _same_role(text: str, groups: list[list[_values.Value]]) -> bool:
    """Whether the same word leads into each group, or the same word follows each."""

    def before(value: _values.Value) -> str:
        words = [w.strip(",;:") for w in text[max(0, value.start - 60) : value.start].split()]
        while words and (not words[-1] or words[-1].lower() in _COORDINATORS):
            words.pop()
        return words[-1].lower() if words and words[-1].isalpha() else ""

    def after(value: _values.Value) -> str:
        match = re.match(r"\s*([^\W\d_]+)", text[value.start + len(value.text) :])
        word = match.group(1).lower() if match else ""
        return "" if word in _COORDINATORS else word

    leads = {before(group[0]) for group in groups}
    follows = {after(group[-1]) for group in groups}
    return any(len(seen) == 1 and "" not in seen for seen in (leads, follows))


def _split(
    text: str, groups: list[list[_values.Value]], parts: list[tuple[int, int]]
) -> list[Share]:
    """The shares of calls that each take one group of values, each served by one part."""
    numbers = _values.numbers(text)
    out = []
    for index, (mine, part) in enumerate(zip(groups, parts, strict=True)):
        others = [v for i, group in enumerate(groups) if i != index for v in group]
        spans = [(v.start, v.start + len(v.text)) for v in others]
        other_numbers = {n.start for n in numbers if any(a <= n.start < b for a, b in spans)}
        kept = {str(v.value) for v in mine}
        other_names = tuple(
            dict.fromkeys(
                str(v.value) for v in others if isinstance(v.value, str) and v.value not in kept
            )
        )
        out.append(Share(frozenset(other_numbers), other_names, part))
    return out


def _enumerated(tool: Tool, text: str) -> list[Share]:
    """One share per choice of a list of an enum's values ("the genotypes AA, Aa and aa").

    The first parameter with an enum (or a description's choices) whose values the request
    names as a list, two or more joined by commas or a coordinator with at most
    `MAX_GAP_WORDS` words between: each call's own part names its value, so the call's enum is
    narrowed to it. Values in other roles ("from Celsius to Fahrenheit") are no list.
    """
    properties = tool.parameters.get("properties") or {}
    for schema in list(properties.values())[:100]:
        if not isinstance(schema, dict) or schema.get("type") == "array":
            continue
        strings = [v for v in choices(schema) if isinstance(v, str)]
        found = _codes.enum_mentions(text, strings) if len(strings) > 1 else []  # as written
        if not 2 <= len(found) <= MAX_PLANNED_CALLS:
            continue
        gaps = [text[a.end : b.start] for a, b in itertools.pairwise(found)]
        if all(_joins(gap) for gap in gaps):
            starts = [0, *(c.start for c in found[1:]), len(text)]
            return [Share(own=part) for part in itertools.pairwise(starts)]
    return []


def _joins(gap: str) -> bool:
    """Whether a gap between two named choices joins them as a list."""
    words = re.findall(r"[^\W\d_]+", gap.lower())
    joined = "," in gap or "&" in gap or "and" in words
    return (
        joined
        and not _BREAK.search(gap)
        and len(words) <= MAX_GAP_WORDS
        and not set(words) & {"to", "into", "from", "than", "vs", "or", "whether", "either"}
    )
