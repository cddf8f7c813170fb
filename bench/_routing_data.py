"""bench/routing_eval.py: the toolbox, the labelled set and argument matching."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentkit import Tool, tool  # noqa: E402
from tools.calculator import calculate  # noqa: E402
from tools.clock import current_time  # noqa: E402

DATA = REPO / "bench" / "data" / "routing_eval.jsonl"
RESULTS = REPO / "bench" / "results" / "routing.json"


# -- the toolbox ---------------------------------------------------------------------------------
@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather conditions in a city: temperature, sky, rain and wind.

    Args:
        city: the city name, e.g. "Paris".
        unit: the temperature unit.
    """
    return f"14 degrees and cloudy in {city}"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another at today's exchange rate.

    Args:
        amount: how much money, in `from_currency`.
        from_currency: the ISO 4217 code of the currency held, e.g. "USD".
        to_currency: the ISO 4217 code of the currency wanted, e.g. "EUR".
    """
    return f"{amount} {from_currency} = {amount * 0.9:.2f} {to_currency}"


@tool
def translate_text(text: str, target_language: str) -> str:
    """Translate a piece of text into another language.

    Args:
        text: the text to translate, as the user wrote it.
        target_language: the language to translate into, in English, e.g. "Spanish".
    """
    return f"[{target_language}] {text}"


@tool
def set_timer(minutes: int) -> str:
    """Start a countdown timer that rings after a number of minutes.

    Args:
        minutes: how many minutes from now the timer rings.
    """
    return f"timer set for {minutes} minutes"


TOOLS: list[Tool] = [
    get_weather,
    calculate,
    current_time,
    convert_currency,
    translate_text,
    set_timer,
]
TOOL_NAMES = [t.name for t in TOOLS]
DESIGNS = ("plain", "embed-0.25", "embed-cal", "embed-answer-cal", "choice", "choice-cal", "hybrid")
SESSION = "routing-eval"


# -- the labelled set ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    request: str
    tool: str | None
    arguments: dict[str, Any] | None


def load_cases(limit: int | None = None) -> list[Case]:
    """The labelled set; with `limit`, the first requests of each label in turn (stratified)."""
    cases = [Case(**json.loads(line)) for line in DATA.read_text().splitlines() if line.strip()]
    unknown = {c.tool for c in cases} - {None, *TOOL_NAMES}
    if unknown:
        raise SystemExit(f"{DATA}: unknown tools {sorted(unknown)}")
    if limit is None or limit >= len(cases):
        return cases
    rank: dict[str | None, int] = {}
    keyed = []
    for i, case in enumerate(cases):
        rank[case.tool] = rank.get(case.tool, -1) + 1
        keyed.append((rank[case.tool], i, case))
    return [case for _, _, case in sorted(keyed, key=lambda k: k[:2])[:limit]]


def halves(cases: Sequence[Case]) -> list[int]:
    """A fold (0 or 1) per case: alternate within each label, so both halves are stratified.

    Each label starts on the other fold than the previous label, so halves stay balanced when
    labels have odd counts.
    """
    seen: dict[str | None, int] = {}
    start: dict[str | None, int] = {}
    folds = []
    for case in cases:
        start.setdefault(case.tool, len(start) % 2)
        seen[case.tool] = seen.get(case.tool, -1) + 1
        folds.append((seen[case.tool] + start[case.tool]) % 2)
    return folds


# -- argument matching ---------------------------------------------------------------------------
def normalise(value: Any) -> Any:
    """Strings without case and whitespace, numbers as floats, containers recursively."""
    if isinstance(value, str):
        return "".join(value.lower().split())
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def with_defaults(tool_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    props = next(t for t in TOOLS if t.name == tool_name).parameters.get("properties", {})
    defaults = {k: p["default"] for k, p in props.items() if "default" in p}
    return {**defaults, **arguments}


def arguments_match(tool_name: str, got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Exact match after filling defaults (strings compared without case and whitespace)."""
    return normalise(with_defaults(tool_name, got)) == normalise(with_defaults(tool_name, expected))
