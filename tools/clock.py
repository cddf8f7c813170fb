"""Dates and times: the current time, and date and time arithmetic in named time zones.

Time zones are IANA names ("Europe/Paris") read by `zoneinfo` from the system's zone files or,
where a system has none, from the `tzdata` package (`pip install 'agentkit[tools]'`). Local times
that do not exist (skipped by a daylight-saving change) are refused; ambiguous ones (repeated by
one) take their first occurrence, and every result states its UTC offset.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated

from pydantic import Field

from agentkit import Toolbox

from ._errors import ToolError

__all__ = [
    "add_days",
    "convert_time",
    "current_time",
    "days_between",
    "shift_time",
    "toolbox",
]

toolbox = Toolbox()

_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_MAX_DAYS = 3_660_000  # about ten thousand years: the whole range of `datetime`


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone named `name`, or a `ToolError` that says what is wrong."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return zoneinfo.ZoneInfo("UTC")
    if len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        raise ToolError(f"not a time zone name: {name[:64]!r} (use e.g. 'Europe/Paris')")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        if not zoneinfo.available_timezones():
            raise ToolError("this system has no time zone data: pip install tzdata") from None
        raise ToolError(f"unknown time zone {name!r} (use e.g. 'Europe/Paris')") from None


def _localize(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """`moment` in `zone`: converted if it has an offset, else read as a wall-clock time there."""
    if moment.tzinfo is not None:
        return moment.astimezone(zone)
    local = moment.replace(tzinfo=zone)
    round_trip = local.astimezone(dt.UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != moment:
        raise ToolError(f"{moment.isoformat()} does not exist in {zone.key} (clocks skip it)")
    return local


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


@toolbox.tool(inline=True)
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a time zone, in ISO 8601.

    Args:
        timezone: an IANA time zone name such as "Europe/Paris".
    """
    return _iso(dt.datetime.now(_zone(timezone)))


@toolbox.tool(inline=True)
def convert_time(time: dt.datetime, from_timezone: str, to_timezone: str) -> str:
    """Convert a date and time from one time zone to another.

    Args:
        time: an ISO 8601 date and time, e.g. "2025-06-01T09:30" (a wall-clock time in
            `from_timezone` unless it carries its own offset).
        from_timezone: the IANA time zone of `time`, e.g. "America/New_York".
        to_timezone: the IANA time zone to convert to, e.g. "Asia/Tokyo".
    """
    return _iso(_localize(time, _zone(from_timezone)).astimezone(_zone(to_timezone)))


@toolbox.tool(inline=True)
def shift_time(
    time: dt.datetime,
    timezone: str = "UTC",
    days: Annotated[int, Field(ge=-_MAX_DAYS, le=_MAX_DAYS)] = 0,
    hours: Annotated[float, Field(ge=-24 * _MAX_DAYS, le=24 * _MAX_DAYS)] = 0,
    minutes: Annotated[float, Field(ge=-1440 * _MAX_DAYS, le=1440 * _MAX_DAYS)] = 0,
) -> str:
    """Add days, hours and minutes to a date and time in a time zone.

    Days are calendar days (the wall-clock time stays the same across a daylight-saving
    change); hours and minutes are elapsed time.

    Args:
        time: an ISO 8601 date and time, e.g. "2025-03-29T12:00".
        timezone: the IANA time zone the time is in and the result is given in.
        days: calendar days to add (negative to go back).
        hours: hours to add.
        minutes: minutes to add.
    """
    zone = _zone(timezone)
    try:
        start = _localize(time, zone)
        wall = start.replace(tzinfo=None) + dt.timedelta(days=days)
        moved = _localize_lenient(wall, zone)
        elapsed = dt.timedelta(hours=hours, minutes=minutes)
        return _iso((moved.astimezone(dt.UTC) + elapsed).astimezone(zone))
    except OverflowError:
        raise ToolError("the result is outside the years 1 to 9999") from None


def _localize_lenient(wall: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A wall-clock time in `zone`; one skipped by a clock change moves forward by the gap."""
    return wall.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


def _business_days_from(start: dt.date, days: int) -> dt.date:
    """The day reached after passing `days` business days (Monday to Friday) from `start`."""
    if days == 0:
        return start
    step = 1 if days > 0 else -1
    current = start
    while current.weekday() >= 5:  # a weekend counts as the business day before it
        current -= dt.timedelta(days=step)
    weeks, rest = divmod(abs(days), 5)
    current += dt.timedelta(days=step * 7 * weeks)
    while rest:
        current += dt.timedelta(days=step)
        if current.weekday() < 5:
            rest -= 1
    return current


@toolbox.tool(inline=True)
def add_days(
    start: dt.date,
    days: Annotated[int, Field(ge=-_MAX_DAYS, le=_MAX_DAYS)],
    business_days: bool = False,
) -> dt.date:
    """The date `days` days after `start` (before it, if negative).

    Args:
        start: the first date, YYYY-MM-DD.
        days: how many days to add.
        business_days: count Monday to Friday only.
    """
    try:
        if business_days:
            return _business_days_from(start, days)
        return start + dt.timedelta(days=days)
    except OverflowError:
        raise ToolError("the result is outside the years 1 to 9999") from None


def _business_days_until(low: dt.date, high: dt.date) -> int:
    """Monday-to-Friday days in [low, high), in constant time."""
    weeks, rest = divmod((high - low).days, 7)
    count = 5 * weeks
    first = low.weekday()
    count += sum(1 for n in range(rest) if (first + n) % 7 < 5)
    return count


@toolbox.tool(inline=True)
def days_between(
    start: dt.date,
    end: dt.date,
    business_days: bool = False,
) -> int:
    """Number of days from `start` to `end` (negative if `end` is earlier).

    Args:
        start: the first date, YYYY-MM-DD.
        end: the second date, YYYY-MM-DD.
        business_days: count Monday to Friday only.
    """
    if not business_days:
        return (end - start).days
    sign = 1 if end >= start else -1
    low, high = sorted((start, end))
    return sign * _business_days_until(low, high)
