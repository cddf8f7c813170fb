"""Dates and times: the current time in a time zone, and day arithmetic."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentkit import Toolbox

__all__ = ["current_time", "days_between", "toolbox"]

toolbox = Toolbox()


@toolbox.tool
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a time zone, in ISO 8601.

    Args:
        timezone: an IANA time zone name such as "Europe/Paris".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc
    return dt.datetime.now(zone).isoformat(timespec="seconds")


@toolbox.tool
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
    count = sum(1 for n in range((high - low).days) if (low + dt.timedelta(days=n)).weekday() < 5)
    return sign * count
