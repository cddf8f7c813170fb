"""tools/units.py: conversions people ask for, and units that are not allowed."""

from __future__ import annotations

import pytest

from agentkit.errors import AgentkitError

pytest.importorskip("pint")
from tools.units import convert


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (5, "km", "mile", 3.10685596119),
        (100, "°F", "°C", 37.7777777778),
        (100, "C", "F", 212),
        (0, "celsius", "kelvin", 273.15),
        (3, "GiB", "MB", 3221.225472),
        (1, "KB", "byte", 1000),
        (1, "Mbit", "kB", 125),
        (60, "mph", "km/h", 96.56064),
        (10, "knot", "m/s", 5.14444444444),
        (1, "gallon", "l", 3.785411784),
        (1, "cubic metres", "l", 1000),
        (2, "lb", "kg", 0.90718474),
        (1, "acre", "m^2", 4046.87260987),
        (2, "hour", "minute", 120),
    ],
)
def test_conversions(value: float, source: str, target: str, expected: float) -> None:
    assert convert(value, source, target) == pytest.approx(expected, rel=1e-11)


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        ("m", "kg", "cannot convert length"),
        ("byte", "radian", "not a unit of"),
        ("percent", "byte", "not a unit of"),
        ("m/s**2", "m/s", "not a unit of"),
        ("m^99999999", "m", "not a unit of"),
        ("m ** 1e308", "m", "not a unit of"),
        ("__import__('os')", "m", "not a unit name"),
        ("m" * 41, "m", "not a unit name"),
        ("m; rm -rf /", "m", "not a unit name"),
        ("furlongs_per_fortnightish", "m", "unknown unit"),
    ],
)
def test_units_outside_the_kinds_or_odd_names_are_refused(
    source: str, target: str, why: str
) -> None:
    with pytest.raises(AgentkitError, match=why):
        convert(1, source, target)


@pytest.mark.parametrize(
    ("value", "source", "target", "why"),
    [
        (float("nan"), "m", "km", "finite"),
        (float("inf"), "m", "km", "finite"),
        (1e301, "m", "km", "finite"),
        (1e300, "light_year", "nm", "too large"),
        (-500, "degC", "K", "below absolute zero"),
    ],
)
def test_values_are_bounded(value: float, source: str, target: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        convert(value, source, target)
