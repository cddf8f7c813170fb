"""Call shaping: how a routed small model is steered to the right arguments and call count.

A router decides that a request needs a tool; what a 135M model then gets wrong is the
arguments (a schema example copied instead of the user's words, an optional argument the user
named left out) and the number of calls (one call where "Paris and Tokyo" needs two). Call
shaping fixes these through the grammar and the prompt, not the weights:

- `split_intents`: the request is cut into clauses ("..., and the LCM of 15 and 25", "Also
  ...") and a clause into its conjuncts when they ask for different tools ("the forecast for
  Oslo and the air quality there"); each part the router sends to a tool is one intent, and an
  intent whose values come in a multiple of what its tool takes is several calls when the
  groups form a list ("factorial of 5, 10 and 15"; "The first triangle has a base of 12 ...
  The second triangle has a base of 18 ...", "concerts near Berlin and Paris"); so is a word
  problem of several instances ("Now, consider a second car ..."), a list varying one value
  ("after 10 years, and after 20 years"), a list of an enum's values, and lists in brackets
  for a tool that takes one list ("[23, 45, 67] and [12, 34]"; `_parallel`).
  The grammar then requires exactly those calls, in order, each naming its tool.
- `ground`: a free-text string argument must be a span of the words of its intent (a
  name, a quoted text, a run of words), and a number one of the numbers written there (`12,000`,
  `$30.45`, `three`); in a parallel intent each call gets its own share of the values. A value
  written beside a word of a parameter's name goes to that parameter ("a height of 15", "the
  title 'David'"), numbers left over go to the parameters in the order written, and a string
  is not offered the spans another parameter's value stands in ("21.5 degrees"). Values take
  the form the schema asks for: the code of a currency, language, ticker or unit the request
  names ("Canadian dollars" is `CAD`, "Nvidia" `NVDA`, "miles" `mi`), a date or time in the
  described format ("21 June 2025" is `2025-06-21`, "6:30 pm" `18:30`), the arithmetic an
  expression writes ("15% of 80, plus 12" is `0.15 * 80 + 12`), the path, email address or
  URL written, an array the list written ("3, 9 and 12"), and a formula in Python's syntax
  as well as as written ("f(x)=x^2": `x**2`). A tool whose required number or code the
  request never writes is not called; a lone call that gives two free-text parameters the
  same words ("the cost of renting an apartment in New York" beside `building_type` and
  `location`) is read before it is shown and becomes a text answer (`repeats_a_value`).
  Other codes, identifiers and formats stay free.
- `surface_optional`: an optional argument the request names (an enum value such as
  "fahrenheit", a choice its description lists, or the parameter's own words, "with
  details") becomes required, and an enum (required or not) is narrowed to the values named,
  by unit name too ("miles" for `mi`), a source taking the one after "from" and a target the
  one after "to"; words of the tool's own name, of other parameters and the opening verb name
  no optional string.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentkit.models import _values
from agentkit.models._arguments import fillable, groundable_string, name_parts, shape_arguments
from agentkit.models._parallel import MAX_PLANNED_CALLS, Share, shares
from agentkit.tools import Tool

__all__ = [
    "CallShaping",
    "PlannedCall",
    "display_tool",
    "may_repeat",
    "plan_calls",
    "repeats_a_value",
]

_EXAMPLE_TEXT = re.compile(
    rf"[\s,]*(?:\(\s*)?\b(?:{_values.EXAMPLE_CUES})[^.;)]*[.;)]?", re.IGNORECASE
)
_DEFAULT_TEXT = re.compile(rf"\s*\(?{_values.DEFAULT_CUE}[^.;)]*[.;)]?", re.IGNORECASE)


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
    chosen = _named_alike(query, chosen, by_name)
    intents = _intents(query, chosen, route, by_name) if shaping.split_intents else []
    intents = intents or [(by_name[chosen], query)]
    if shaping.ground:
        intents = _filled(intents, query)
    planned: list[PlannedCall] = []
    for tool, text in intents:
        for share in shares(tool, text) if shaping.split_intents else [Share()]:
            serves = share.text or text  # an instance of a word problem reads its own text
            parameters = shape_arguments(
                tool.parameters,
                query,
                serves,
                shaping,
                other_numbers=share.other_numbers,
                other_names=share.other_names,
                own=text[slice(*share.own)] if share.own else "",
                tool_name=tool.name,
            )
            planned.append(PlannedCall(tool, parameters, serves))
    return planned[:MAX_PLANNED_CALLS]


def may_repeat(planned: Sequence[PlannedCall]) -> bool:
    """Whether a plan is one call with two or more free-text strings (`repeats_a_value` applies)."""
    return len(planned) == 1 and len(_free_texts(planned[0].tool)) > 1


def repeats_a_value(planned: PlannedCall, arguments: Mapping[str, Any]) -> bool:
    """Whether a call gives two of its tool's free-text parameters the same words.

    The request then wrote one value where the tool needs two ("the cost of renting an
    apartment in New York" fills `building_type` and `location` both with "New York"): the
    request does not give what the tool needs, and the turn is better a text answer. On
    agentkit's own labelled sets no right call repeats a value this way.

    Example:
        >>> from agentkit import Tool
        >>> trends = Tool.from_schema({"name": "trends", "parameters": {"type": "object",
        ...     "properties": {"category": {"type": "string"}, "region": {"type": "string"}},
        ...     "required": ["category", "region"]}})
        >>> call = PlannedCall(trends, trends.parameters, "the latest trend in technology")
        >>> repeats_a_value(call, {"category": "technology", "region": "technology"})
        True
        >>> repeats_a_value(call, {"category": "technology", "region": "Europe"})
        False
    """
    seen: set[str] = set()
    for name in _free_texts(planned.tool):
        value = arguments.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        key = " ".join(value.casefold().split())
        if key in seen:
            return True
        seen.add(key)
    return False


def _free_texts(tool: Tool) -> list[str]:
    """The tool's parameters that take free text from the request (not codes, enums, formats)."""
    properties = tool.parameters.get("properties") or {}
    return [
        name
        for name, schema in properties.items()
        if isinstance(schema, dict) and groundable_string(name, schema)
    ]


def _filled(intents: list[tuple[Tool, str]], query: str) -> list[tuple[Tool, str]]:
    """The intents whose text writes what their tools require.

    An intent that refers back to the one before ("Also, compute the total distance covered by
    the object", "the mode of these points") and writes no value or cannot be filled by itself
    reads that one's text too.
    """
    out: list[tuple[Tool, str]] = []
    for index, (tool, text) in enumerate(intents):
        before = intents[index - 1][1] if index else ""
        alone = fillable(tool.parameters, text, query)
        if before and _REFERS_BACK.search(text) and not (alone and _writes_value(text)):
            start = query.find(before)
            end = query.find(text, max(start, 0))
            joined = query[start : end + len(text)] if 0 <= start <= end else f"{before} {text}"
            if fillable(tool.parameters, joined, query):
                out.append((tool, joined))
                continue
        if alone:
            out.append((tool, text))
    return out


_REFERS_BACK = re.compile(
    r"\b(?:the\s+(?:same|object|car|body|ball|item|data|numbers?|values?|points?)|these|those|"
    r"it|its|them|this|that)\b",
    re.IGNORECASE,
)


def _intents(
    query: str, chosen: str, route: Callable[[str], str | None], by_name: dict[str, Tool]
) -> list[tuple[Tool, str]]:
    """The request's clauses grouped into intents.

    A clause routed to another tool than the one before starts an intent; others add to the
    intent before them, with the words between as the request writes them (whether an
    intent is then several calls is for `_parallel.shares` to say). One intent of another tool
    than `chosen` (the router's choice for the whole request) stands only when two or more
    clauses are routed, all to its tool: "the fastest route from London to Edinburgh for a
    chess championship? Also an estimate of the distance." asks the route planner, though the
    whole request reads closest to a chess club's tool.
    """
    units = _units(query, route, by_name)
    if len(units) < 2:
        return []
    spans: list[tuple[Tool, int, int]] = []  # each intent's tool, and where it is in the query
    lead = None
    for start, end, name in units:
        if name in by_name and not (spans and spans[-1][0].name == name):
            spans.append((by_name[name], start if lead is None else lead, end))
            lead = None
        elif spans:  # the same tool again, or no tool: more of the same intent, as written
            spans[-1] = (spans[-1][0], spans[-1][1], end)
        elif lead is None:
            lead = start
    intents = [(tool, query[start:end]) for tool, start, end in spans]
    if len(intents) == 1 and intents[0][0].name != chosen:
        routed = [name for _, _, name in units if name]
        if len(routed) < 2 or set(routed) != {intents[0][0].name}:
            return []
    return intents


def _units(
    query: str, route: Callable[[str], str | None], by_name: dict[str, Tool]
) -> list[tuple[int, int, str | None]]:
    """The request's clauses, where each is, and the tool each is routed to.

    A clause whose conjuncts ("the forecast for Vancouver and the air quality there") are
    routed to two or more different tools counts as those conjuncts instead, unless one names
    a parameter of the clause's own tool ("with the subject 'Hi' and the body 'Call me'"); if
    none of them writes a value and each tool was asked for with values before, the clause is
    a recap and routed to none.
    """
    units: list[tuple[int, int, str | None]] = []
    asked: set[str | None] = set()  # the tools asked for with values so far
    cursor = 0
    for part in _values.clauses(query):
        start = query.find(part, cursor)
        cursor = start + len(part)
        whole = None if _points_back(part) else route(part)
        pieces = _values.conjuncts(part)
        names = [route(piece) for piece in pieces] if len(pieces) > 1 else []
        named = _sibling_named(part, names, by_name)
        if named:  # "vegetarian and gluten-free foods at the Walmart": Walmart's, not two stores
            pieces, names = [part], [named]
        elif (
            len({n for n in names if n in by_name}) < 2
            or _argues(pieces[1:], names[1:], by_name, by_name.get(whole or ""))
            or _short_of_values(pieces, names, by_name, query)
        ):
            pieces, names = [part], [whole]
        elif not any(map(_writes_value, pieces)) and set(names) <= asked:
            # "Can you calculate the densities and mix the paint colors accordingly?" after
            # each was asked for with its values: a recap, no calls of its own
            names = [None] * len(pieces)
        offset = start
        for piece, name in zip(pieces, names, strict=True):
            at = query.find(piece, offset)
            offset = at + len(piece)
            # "the median and variance of 3, 4 and 5": a part that writes no value shares the rest
            units.append((at, offset if _writes_value(piece) else cursor, name))
            if name and _writes_value(query[at : units[-1][1]]):
                asked.add(name)
    return units


def _sibling_named(clause: str, routed: list[str | None], by_name: dict[str, Tool]) -> str | None:
    """The one tool of the clause's conjuncts that the clause names, when they are siblings.

    Siblings take the same parameters and differ by name (`walmart.vegan_products`,
    `wholefoods.vegan_products`): a clause that writes a word of one's name that the others
    lack ("at the Walmart") asks that one, whichever its conjuncts were routed to.
    """
    tools = [by_name[n] for n in dict.fromkeys(routed) if n in by_name]
    if len(tools) < 2:
        return None
    keys = {frozenset(t.parameters.get("properties") or ()) for t in tools}
    if len(keys) > 1:
        return None
    written = set(re.findall(r"[a-z]+", clause.lower()))
    shared = set.intersection(*(_words(t.name) for t in tools))
    named = [t.name for t in tools if (_words(t.name) - shared) & written]
    return named[0] if len(named) == 1 else None


def _named_alike(query: str, chosen: str, by_name: dict[str, Tool]) -> str:
    """The tool the request names among those whose names are alike the router's choice.

    Tools alike share two or more words of their names (`google.books_search`,
    `library.search_books`): a request that writes the provider one's name begins with, a
    word the choice's name lacks ("at the New York public library"), and none of the choice's
    own words, asks that one. Only a provider: "12 Amperes" asks no `electromagnetism.
    ampere_law` beside `electromagnetism.biot_savart_law`.
    """

    def words(name: str) -> set[str]:  # "cars" and "car" alike
        return {w.removesuffix("s") for w in _words(name)}

    own = words(chosen)
    alike = [n for n in by_name if n != chosen and len(words(n) & own) >= 2]
    if not alike or chosen not in by_name:
        return chosen
    written = {w.removesuffix("s") for w in re.findall(r"[a-z]+", query[:10_000].lower())}
    if (own - set().union(*map(words, alike))) & written:
        return chosen  # the choice is named itself
    named = [n for n in alike if "." in n and (words(n.split(".")[0]) - own) & written]
    return named[0] if len(named) == 1 else chosen


def _points_back(clause: str) -> bool:
    """Whether a clause only points back ("Could you fetch that for me?").

    Such a follow-up is more of the intent before it, whatever the router makes of it.
    """
    if _writes_value(clause) or not _REFERS_BACK.search(clause):
        return False
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", clause.lower())
    content = [w for w in words if w not in _values.LEADING_WORDS and w not in _POINTERS]
    return len(content) < 2


_POINTERS = frozenset(
    "that this it these those them same for me please could would can much many cost".split()
)


def _writes_value(piece: str) -> bool:
    """Whether a part of a clause writes a value: a number, a quote or a name after its start."""
    if any(ch.isdigit() for ch in piece) or _values.QUOTED.search(piece):
        return True
    return any(w[:1].isupper() for w in piece.split()[1:])


def _argues(
    pieces: list[str], routed: list[str | None], by_name: dict[str, Tool], tool: Tool | None
) -> bool:
    """Whether a piece names a parameter of `tool` (it gives an argument, not a request).

    A piece that names, outside quotes, the tool it is routed to by a word that `tool`'s own
    name lacks asks for that tool ("the median and variance for the data points" beside
    `statistics.median`, whose parameter is `data`).
    """
    if tool is None:
        return False
    properties = tool.parameters.get("properties") or {}
    names = {word for name in properties for word in _words(name)}
    own = _words(tool.name)
    for piece, name in zip(pieces, routed, strict=True):
        written = set(re.findall(r"[a-z]+", _values.QUOTED.sub(" ", piece).lower()))
        other = by_name.get(name or "")
        if other is not None and other is not tool and (_words(other.name) - own) & written:
            continue
        if names & set(re.findall(r"[a-z]+", piece.lower())):
            return True
    return False


def _short_of_values(
    pieces: list[str], routed: list[str | None], by_name: dict[str, Tool], query: str
) -> bool:
    """Whether a piece writes values, but too few for the tool it is routed to.

    It then gives more values to the clause's request, not a request of its own: "at an initial
    speed of 20 m/s and then accelerates at 10 m/s^2 for 5 seconds" beside a tool that needs
    three numbers.
    """
    for piece, name in zip(pieces, routed, strict=True):
        tool = by_name.get(name or "")
        if (
            tool is not None
            and _writes_value(piece)
            and not fillable(tool.parameters, piece, query)
        ):
            return True
    return False


def _words(name: str) -> set[str]:
    """The words of an identifier longer than two letters (`statistics.median`: both)."""
    return {w for w in name_parts(name) if len(w) > 2}


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
