"""Unit conversion with `pint`: length, area, volume, mass, time, speed, temperature, data sizes.

Unit names are what people write: "km", "miles", "°F", "fahrenheit", "mph", "l", "gallon",
"GiB", "MB". Only those kinds of quantity are converted (no unit algebra on request), names are
bounded in length and characters, and values must be finite and within ±1e300.
Needs `pint` (`pip install 'agentkit[tools]'`).
"""

from __future__ import annotations

import importlib.util
import math
import re
import threading
from functools import cache
from typing import Annotated, Any

from pydantic import Field

from agentkit import Toolbox

from ._errors import ToolError

if importlib.util.find_spec("pint") is None:  # fail at import, where the CLI reports it
    raise ImportError("the units tools need pint: pip install 'agentkit[tools]'")

__all__ = ["KINDS", "convert", "toolbox"]

toolbox = Toolbox()

MAX_VALUE = 1e300
KINDS = {
    "[length]": "length",
    "[length] ** 2": "area",
    "[length] ** 3": "volume",
    "[mass]": "mass",
    "[time]": "time",
    "[length] / [time]": "speed",
    "[temperature]": "temperature",
}
_UNIT_TEXT = re.compile(r"[A-Za-z°µ][A-Za-z0-9 °µ/_^*.\-]{0,39}")
_ALIASES = {
    "c": "degC",
    "°c": "degC",
    "celsius": "degC",
    "f": "degF",
    "°f": "degF",
    "fahrenheit": "degF",
    "kb": "kB",
    "fl oz": "floz",
    "fl_oz": "floz",
    "kph": "km/h",
    "kmh": "km/h",
    "cc": "cm^3",
    "cubic meter": "m^3",
    "cubic meters": "m^3",
    "cubic metre": "m^3",
    "cubic metres": "m^3",
}
_LOCK = threading.Lock()


@cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


def _unit(text: str) -> Any:
    """The pint unit written `text`, or a `ToolError` naming it."""
    name = text.strip()
    if not _UNIT_TEXT.fullmatch(name):
        raise ToolError(f"not a unit name: {text[:40]!r}")
    name = _ALIASES.get(name.lower(), name)
    import pint

    try:
        return _registry().parse_units(name)
    except (pint.errors.PintError, AttributeError, ValueError, TypeError):
        raise ToolError(f"unknown unit {text!r}") from None


def _kind(unit: Any) -> str:
    dimensions = str(unit.dimensionality)
    if dimensions in KINDS:
        return KINDS[dimensions]
    names = str(unit).replace("/", " ").replace("*", " ").split()
    if dimensions == "dimensionless" and names and all(n.endswith(("bit", "byte")) for n in names):
        return "data size"
    kinds = ", ".join([*KINDS.values(), "data size"])
    raise ToolError(f"{unit} is not a unit of {kinds}")


@toolbox.tool(inline=True)
def convert(
    value: Annotated[float, Field(ge=-MAX_VALUE, le=MAX_VALUE)],
    from_unit: Annotated[str, Field(max_length=40)],
    to_unit: Annotated[str, Field(max_length=40)],
) -> float:
    """Convert a quantity from one unit to another (12 significant digits).

    Handles length, area, volume, mass, time, speed, temperature and data sizes, e.g.
    (5, "km", "mile"), (100, "°F", "°C"), (3, "GiB", "MB"), (60, "mph", "km/h").

    Args:
        value: the quantity to convert.
        from_unit: its unit, e.g. "km", "lb", "°F", "l", "GiB".
        to_unit: the unit wanted, of the same kind.
    """
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise ToolError(f"the value must be finite and within ±{MAX_VALUE:g}")
    source, target = _unit(from_unit), _unit(to_unit)
    source_kind, target_kind = _kind(source), _kind(target)
    if source_kind != target_kind:
        raise ToolError(f"cannot convert {source_kind} ({source}) to {target_kind} ({target})")
    with _LOCK:
        quantity = _registry().Quantity(value, source)
        if source_kind == "temperature" and quantity.to("kelvin").magnitude < 0:
            raise ToolError(f"{value} {source} is below absolute zero")
        result = float(quantity.to(target).magnitude)
    if not math.isfinite(result) or abs(result) > MAX_VALUE:
        raise ToolError("the result is too large")
    return float(f"{result:.12g}")
