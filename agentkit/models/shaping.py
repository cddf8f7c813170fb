"""Call shaping: how a routed small model is steered to the right arguments and call count.

A router decides that a request needs a tool; what a 135M model then gets wrong is the
arguments (a schema example copied instead of the user's words, an optional argument the user
named left out) and the number of calls (one call where "Paris and Tokyo" needs two). Call
shaping fixes these through the grammar and the prompt, not the weights:

- `split_intents`: the request is cut into clauses ("..., and the LCM of 15 and 25", "Also
  ..."); each clause the router sends to a tool is one intent, and an intent whose values come
  in a multiple of what its tool takes ("factorial of 5, 10 and 15") is several calls. The
  grammar then requires exactly those calls, in order, each naming its tool.
- `ground`: a free-text string argument must be a span of the words of its intent (a
  name, a quoted text, a run of words), and a number one of the numbers written there (`12,000`,
  `$30.45`, `three`); in a parallel intent each call gets its own share of the values.
  Arguments that ask for codes, identifiers, formats or expressions stay free.
- `surface_optional`: an optional argument the request names (an enum value such as
  "fahrenheit", or the parameter's own words, "with details") becomes required, and an enum
  is narrowed to the values named.
- `omit_optional`: the other optional arguments are left out of the call (their defaults
  apply): a small model otherwise fills them with guesses (`"send_at": "2023-01-01T09:00"`).
- `hide_examples`: the prompt's tool list leaves out `default` and `examples` values, and
  "e.g. ..." text in the descriptions of grounded strings, which small models copy verbatim.

Each part was kept because it helped on agentkit's own labelled set (`bench/data`,
`bench/README.md`, "Call shaping"); `CallShaping.off()` gives the unshaped behaviour.
"""

from __future__ import annotations

import copy
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.models import _values
from agentkit.models._arguments import groundable_string, shape_arguments
from agentkit.tools import Tool

__all__ = ["CallShaping", "PlannedCall", "display_tool", "plan_calls"]

MAX_PLANNED_CALLS = 8
"""The most calls one planned reply may hold."""

_EXAMPLE_TEXT = re.compile(
    r"[\s,]*(?:\(\s*)?\b(?:e\.g\.|eg\.|for example|for instance|such as|like)[^.;)]*[.;)]?",
    re.IGNORECASE,
)
_DEFAULT_TEXT = re.compile(r"\s*\(?\bdefaults?(?: value)?(?: is| to|:)[^.;)]*[.;)]?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CallShaping:
    """Which parts of call shaping a local model applies to routed calls (all by default).

    Attributes:
        ground: string and number arguments come from the request's own words and numbers.
        hide_examples: schema defaults and examples are left out of the prompt.
        surface_optional: optional arguments the request names become required.
        split_intents: a request of several intents, or of several values for one tool,
            becomes that many calls.
        omit_optional: optional arguments the request does not name are left out of the
            call (their defaults apply), instead of filled with guesses.

    Example:
        >>> CallShaping.off().split_intents
        False
    """

    ground: bool = True
    hide_examples: bool = True
    surface_optional: bool = True
    split_intents: bool = True
    omit_optional: bool = True

    @classmethod
    def off(cls) -> CallShaping:
        """No shaping: the routed tool's own schema, one or more calls as the model writes."""
        return cls(
            ground=False,
            hide_examples=False,
            surface_optional=False,
            split_intents=False,
            omit_optional=False,
        )


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One call of a planned reply: the tool, and the schema its arguments are decoded under."""

    tool: Tool
    parameters: dict[str, Any]
    text: str
    """The part of the request this call serves."""

    def call_schema(self) -> dict[str, Any]:
        """The schema of the call object `{"name": ..., "arguments": {...}}`."""
        return {
            "type": "object",
            "properties": {"name": {"const": self.tool.name}, "arguments": self.parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }


def plan_calls(
    query: str,
    tools: Sequence[Tool],
    chosen: str,
    route: Callable[[str], str | None],
    shaping: CallShaping,
) -> list[PlannedCall]:
    """The calls a routed reply to `query` must hold, with their shaped argument schemas.

    No calls (the model answers in words) when grounding is on and no intent can be filled: its
    tool requires a number and the request writes none ("what is the history of the euro?"
    beside a converter that needs an amount).

    Args:
        query: the user's request.
        tools: the tools offered.
        chosen: the tool the router chose for the whole request.
        route: the router, for the request's clauses (`Router.route` bound to `tools`).
        shaping: which parts of shaping apply.
    """
    by_name = {t.name: t for t in tools}
    intents = _intents(query, chosen, route, by_name) if shaping.split_intents else []
    intents = intents or [(by_name[chosen], query)]
    if shaping.ground:
        intents = [(tool, text) for tool, text in intents if _fillable(tool, text)]
    planned: list[PlannedCall] = []
    for tool, text in intents:
        shares = _shares(tool, text) if shaping.split_intents else [_Share()]
        for share in shares:
            parameters = shape_arguments(
                tool.parameters,
                query,
                text,
                shaping,
                other_numbers=share.other_numbers,
                other_names=share.other_names,
            )
            planned.append(PlannedCall(tool, parameters, text))
    return planned[:MAX_PLANNED_CALLS]


def _fillable(tool: Tool, text: str) -> bool:
    """Whether the text writes a number, if the tool requires a free number."""
    properties = tool.parameters.get("properties") or {}
    needs_number = any(
        isinstance(properties.get(name), dict)
        and properties[name].get("type") in ("number", "integer")
        and not any(k in properties[name] for k in ("enum", "const", "default"))
        for name in tool.parameters.get("required") or ()
    )
    return not needs_number or bool(_values.numbers(text))


def _intents(
    query: str, chosen: str, route: Callable[[str], str | None], by_name: dict[str, Tool]
) -> list[tuple[Tool, str]]:
    """The request's clauses grouped into intents.

    A clause routed to another tool than the one before starts an intent; others add to the
    intent before them (whether it is then several calls is for `_shares` to say).
    """
    parts = _values.clauses(query)
    if len(parts) < 2:
        return []
    intents: list[tuple[Tool, str]] = []
    lead = ""
    for part in parts:
        name = route(part)
        if name in by_name and not (intents and intents[-1][0].name == name):
            intents.append((by_name[name], f"{lead} {part}".strip()))
            lead = ""
        elif intents:  # the same tool again, or no tool: more of the same intent
            tool, text = intents[-1]
            intents[-1] = (tool, f"{text} {part}")
        else:
            lead = f"{lead} {part}".strip()
    if not intents:
        return []
    if lead:
        tool, text = intents[-1]
        intents[-1] = (tool, f"{text} {lead}")
    if all(tool.name != chosen for tool, _ in intents) and len(intents) == 1:
        return []
    return intents


@dataclass(frozen=True, slots=True)
class _Share:
    """The values of an intent that belong to other calls of it (left out of this call's)."""

    other_numbers: frozenset[int] = frozenset()  # start offsets in the intent's text
    other_names: tuple[str, ...] = ()


def _shares(tool: Tool, text: str) -> list[_Share]:
    """One share per call of an intent: its values split in order among the calls.

    An intent whose numbers (or names) are a multiple, above one, of the number (or string)
    parameters its tool takes is that many calls, each taking the next values in turn, when
    the groups are coordinated ("5, 7 and 9", "in Paris and in Tokyo"). Names that are enum
    values of the tool ("Fahrenheit") are not values to split.
    """
    kinds = _parameter_kinds(tool.parameters)
    if kinds.pop("listed"):  # values go into an array parameter, not into several calls
        return [_Share()]
    enums = {str(v).lower() for v in _enum_values(tool.parameters)}
    quoted = {m.start() for m in _values.QUOTED.finditer(text)}
    named = [v for v in _values.names(text) if str(v.value).lower() not in enums]
    found = {
        "number": [v for v in _distinct(_values.numbers(text)) if not _names_it(text, v)],
        "string": [v for v in named if v.start not in quoted],
        "quoted": [v for v in named if v.start in quoted],
    }
    kinds["quoted"] = kinds["string"]
    counts = _group_counts(text, found, kinds)
    calls = min(max(counts.values(), default=1), MAX_PLANNED_CALLS)
    if calls < 2:
        return [_Share()]
    shares = []
    for index in range(calls):
        other_numbers: set[int] = set()
        other_names: list[str] = []
        for kind, values in found.items():
            if counts.get(kind) != calls:
                continue
            size = kinds[kind]
            others = values[: index * size] + values[(index + 1) * size :]
            if kind == "number":
                other_numbers.update(v.start for v in others)
            else:
                other_names.extend(str(v.value) for v in others)
        shares.append(_Share(frozenset(other_numbers), tuple(other_names)))
    return shares


_COORDINATORS = frozenset("and or also then plus vs versus respectively".split())
MAX_GAP_WORDS = 6
"""The most words (values aside) between two groups of values that are still a list."""


def _listed(
    text: str, values: list[_values.Value], size: int, taken: list[tuple[int, int]]
) -> bool:
    """Whether the groups of `size` values form a list of calls.

    Between two groups stand a coordinator ("and"; a comma before the last) and at most
    `MAX_GAP_WORDS` other
    words, values aside ("5 km to miles and 3 kg", "$30.45 in Chicago, Illinois, $52.33"):
    "Weather in Oslo", or two values a sentence apart, are not lists of calls.
    """
    last = len(values) - size
    for boundary in range(size, len(values), size):
        before, after = values[boundary - 1], values[boundary]
        start, end = before.start + len(before.text), after.start
        if end - start > 200:
            return False
        gap = "".join(
            " " if any(a <= i < b for a, b in taken) else ch
            for i, ch in enumerate(text[start:end], start)
        )
        words = [w.lower() for w in re.findall(r"[^\W\d_]+", gap)]
        if not _COORDINATORS & set(words) and (boundary == last or not re.search(r"[,;&]", gap)):
            return False  # "A, B and C": commas, then a word; "Paris, France" is no list
        if len([w for w in words if w not in _COORDINATORS]) > MAX_GAP_WORDS:
            return False
    return True


def _enum_values(node: Any, depth: int = 0) -> list[Any]:
    if depth > 8 or not isinstance(node, dict):
        return []
    found = list(node.get("enum") or ()) if isinstance(node.get("enum"), list) else []
    for sub in (node.get("properties") or {}).values():
        found += _enum_values(sub, depth + 1)
    return found + _enum_values(node.get("items"), depth + 1)


def _group_counts(
    text: str, found: dict[str, list[_values.Value]], kinds: dict[str, int]
) -> dict[str, int]:
    """How many calls each kind of value asks for (kinds without a list are left out).

    Each call takes one group of values, as many as the tool has parameters of that kind; or,
    for names, one ("into German, Japanese and Portuguese": one parameter varies, the others
    are shared). `kinds` is updated to the group size found.
    """
    taken = [(v.start, v.start + len(v.text)) for values in found.values() for v in values]
    counts: dict[str, int] = {}
    for kind, values in found.items():
        if len(values) <= kinds[kind]:
            continue  # no more values than parameters to take them: one call
        for size in dict.fromkeys((kinds[kind], 1 if kind == "string" else 0)):
            if size and len(values) % size == 0 and _listed(text, values, size, taken):
                counts[kind] = len(values) // size
                kinds[kind] = size
                break
    return counts


def _names_it(text: str, value: _values.Value) -> bool:
    """A number right after a capitalised word is part of a name ("S&P 500", "Maroon 5")."""
    before = text[: value.start].rstrip(" $")
    word = before.rsplit(None, 1)[-1] if before.split() else ""
    return (
        before != text[: value.start]
        and word[:1].isupper()
        and word.lower().strip(",.;:") not in _values.LEADING_WORDS
    )


def _distinct(values: list[_values.Value]) -> list[_values.Value]:
    """One value per place in the text (a percentage is offered two ways but is one value)."""
    by_start = {v.start: v for v in reversed(values)}  # the first of each place
    return sorted(by_start.values(), key=lambda v: v.start)


def _parameter_kinds(parameters: dict[str, Any]) -> dict[str, int]:
    """How many top-level parameters take a number, and how many required ones a free string.

    Optional numbers count (a request often gives them); optional names rarely come.
    """
    kinds = {"number": 0, "string": 0, "listed": 0}
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    for name, schema in properties.items():
        if not isinstance(schema, dict):
            continue
        if schema.get("type") == "array" and name in required:
            kinds["listed"] += 1
        if schema.get("type") in ("number", "integer") and "enum" not in schema:
            kinds["number"] += 1
        elif name in required and groundable_string(name, schema):
            kinds["string"] += 1
    return kinds


_DISPLAYED: weakref.WeakKeyDictionary[Tool, Tool] = weakref.WeakKeyDictionary()
_DISPLAYED_LOCK = threading.Lock()


def display_tool(tool: Tool) -> Tool:
    """The tool as the prompt lists it, without examples to copy.

    No `default` or `examples` values, and no "e.g." text in the descriptions of the strings
    that are grounded (one copy per tool, kept while the tool is).

    Example:
        >>> from agentkit import Tool
        >>> t = Tool.from_schema({"name": "greet", "parameters": {"type": "object",
        ...     "properties": {"text": {"type": "string", "default": "Hi",
        ...     "description": "What to say, e.g. Hello, World!"}}}})
        >>> display_tool(t).parameters["properties"]["text"]
        {'type': 'string', 'description': 'What to say'}
    """
    with _DISPLAYED_LOCK:  # generation runs on many threads: one copy per tool, always
        shown = _DISPLAYED.get(tool)
        if shown is None:
            parameters = copy.deepcopy(tool.parameters)
            _strip(parameters, "", depth=0)
            shown = Tool(parameters=parameters, name=tool.name, description=tool.description)
            _DISPLAYED[tool] = shown
        return shown


def _strip(node: dict[str, Any], name: str, depth: int) -> None:
    if depth > 8:
        return
    for key in ("default", "examples", "example"):
        node.pop(key, None)  # a parameter named "default" lives in "properties", untouched
    description = node.get("description")
    if isinstance(description, str):
        if groundable_string(name, node):
            description = _EXAMPLE_TEXT.sub("", description)
        node["description"] = _DEFAULT_TEXT.sub("", description).strip()
    for key, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict):
            _strip(sub, key, depth + 1)
    if isinstance(node.get("items"), dict):
        _strip(node["items"], name, depth + 1)
