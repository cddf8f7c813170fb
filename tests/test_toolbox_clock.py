"""tools/clock.py: current time and date arithmetic in named time zones."""

from __future__ import annotations

import datetime as dt

import pytest

from agentkit.errors import AgentkitError
from tools.clock import add_days, convert_time, current_time, days_between, shift_time, toolbox

D = dt.date


def test_current_time_is_in_the_zone() -> None:
    paris = dt.datetime.fromisoformat(current_time("Europe/Paris"))
    assert paris.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))
    assert current_time("utc").endswith("+00:00")


def test_convert_time_between_zones() -> None:
    assert (
        convert_time(dt.datetime(2025, 6, 1, 9, 30), "America/New_York", "Asia/Tokyo")
        == "2025-06-01T22:30:00+09:00"
    )
    aware = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)  # its own offset wins
    assert convert_time(aware, "Asia/Tokyo", "Europe/Paris") == "2025-01-01T13:00:00+01:00"


def test_a_time_skipped_by_daylight_saving_is_refused() -> None:
    with pytest.raises(AgentkitError, match="does not exist in Europe/Paris"):
        convert_time(dt.datetime(2025, 3, 30, 2, 30), "Europe/Paris", "UTC")


def test_an_ambiguous_time_takes_its_first_occurrence() -> None:
    result = convert_time(dt.datetime(2025, 10, 26, 2, 30), "Europe/Paris", "UTC")
    assert result == "2025-10-26T00:30:00+00:00"


def test_shift_days_keep_the_wall_clock_and_hours_are_elapsed() -> None:
    noon = dt.datetime(2025, 3, 29, 12)
    assert shift_time(noon, "Europe/Paris", days=1) == "2025-03-30T12:00:00+02:00"
    assert shift_time(noon, "Europe/Paris", hours=24) == "2025-03-30T13:00:00+02:00"
    assert shift_time(noon, minutes=-90) == "2025-03-29T10:30:00+00:00"


@pytest.mark.parametrize(
    "zone", ["../../etc/passwd", "/etc/localtime", "Europe/Paris\n", "Europe/Paris\x00", "a" * 100]
)
def test_zone_names_that_are_paths_or_junk_are_refused(zone: str) -> None:
    with pytest.raises(AgentkitError, match="not a time zone name"):
        current_time(zone)


def test_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        current_time("Mars/Olympus")


def test_missing_zone_data_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoneinfo

    def missing(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    monkeypatch.setattr(zoneinfo, "available_timezones", set)
    with pytest.raises(ValueError, match="pip install tzdata"):
        current_time("Europe/Paris")


def test_add_days_and_business_days() -> None:
    assert add_days(D(2025, 1, 31), 1) == D(2025, 2, 1)
    assert add_days(D(2025, 1, 3), 1, business_days=True) == D(2025, 1, 6)  # Friday -> Monday
    assert add_days(D(2025, 1, 4), 1, business_days=True) == D(2025, 1, 6)  # Saturday -> Monday
    assert add_days(D(2025, 1, 6), -1, business_days=True) == D(2025, 1, 3)
    assert add_days(D(2025, 1, 6), 10, business_days=True) == D(2025, 1, 20)


def test_business_days_agree_with_counting_one_by_one() -> None:
    for offset in range(14):
        start = D(2025, 1, 1) + dt.timedelta(days=offset)
        for days in range(-12, 13):
            current, left = start, abs(days)
            while left:
                current += dt.timedelta(days=1 if days > 0 else -1)
                left -= current.weekday() < 5
            assert add_days(start, days, business_days=True) == current
            end = start + dt.timedelta(days=days)
            low = min(start, end)
            counted = sum((low + dt.timedelta(n)).weekday() < 5 for n in range(abs(days)))
            assert days_between(start, end, business_days=True) == counted * (-1 if days < 0 else 1)


def test_whole_calendar_ranges_are_instant_and_bounded() -> None:
    assert days_between(D(1, 1, 1), D(9999, 12, 31), business_days=True) == 2608614
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        add_days(D(9999, 12, 1), 100)
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        shift_time(dt.datetime(9999, 12, 31), days=1)


def test_the_agent_sees_bounded_integer_days() -> None:
    days = toolbox["add_days"].parameters["properties"]["days"]
    assert days["type"] == "integer" and days["maximum"] > 3_000_000
    with pytest.raises(ValueError, match="less than or equal"):
        toolbox["add_days"].validate({"start": "2025-01-01", "days": 10**12})
