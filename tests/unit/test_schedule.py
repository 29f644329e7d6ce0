"""Hours of operation: spec parsing, wall-clock windows in a zone, DST, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from failover.schedule import WeeklyHours, parse_hours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Manila", "Australia/Lord_Howe")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# 2024-06-03 is a Monday; the week of 3..9 June 2024 has no DST change anywhere in ZONES.
MON, TUE, FRI, SAT, SUN = 3, 4, 7, 8, 9


def local(day: int, hour: int, minute: int = 0, second: int = 0, *, tz: str = "UTC") -> datetime:
    return datetime(2024, 6, day, hour, minute, second, tzinfo=ZoneInfo(tz))


def office() -> WeeklyHours:
    return parse_hours(["mon-fri 08:00-20:00", "sat 09:00-13:00"], "UTC")


# --- scripted cases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(MON, 12), True),
        (local(FRI, 19, 59, 59), True),
        (local(SAT, 10), True),
        (local(SAT, 14), False),
        (local(SUN, 12), False),
        (local(TUE, 3), False),
    ],
)
def test_weekday_and_weekend_windows_open_only_on_their_days(at: datetime, expected: bool) -> None:
    assert office().is_open(at) is expected


def test_window_start_is_inclusive_and_end_is_exclusive() -> None:
    hours = office()
    assert not hours.is_open(local(TUE, 7, 59, 59))
    assert hours.is_open(local(TUE, 8))
    assert hours.is_open(local(TUE, 19, 59, 59) + timedelta(microseconds=999_999))
    assert not hours.is_open(local(TUE, 20))


def test_overnight_window_runs_past_midnight_into_the_next_day() -> None:
    hours = parse_hours(["fri 22:00-02:00"], "UTC")
    assert not hours.is_open(local(FRI, 21, 59))
    assert hours.is_open(local(FRI, 22))
    assert hours.is_open(local(SAT, 1, 59))
    assert not hours.is_open(local(SAT, 2))
    # Only Friday night: Saturday night and Thursday night stay closed.
    assert not hours.is_open(local(SAT, 23))
    assert not hours.is_open(local(FRI, 1))


def test_sunday_overnight_window_wraps_into_monday_morning() -> None:
    hours = parse_hours(["sun 22:00-02:00"], "UTC")
    assert hours.is_open(local(SUN, 23))
    assert hours.is_open(local(MON, 1))
    assert not hours.is_open(local(MON, 2))


def test_day_range_may_wrap_past_sunday() -> None:
    hours = parse_hours(["FRI-Mon 10:00-11:00"], "UTC")
    opened = {day: hours.is_open(local(day, 10, 30)) for day in range(MON, SUN + 1)}
    assert opened == {MON: True, TUE: False, 5: False, 6: False, FRI: True, SAT: True, SUN: True}


def test_comma_list_of_days_opens_each_listed_day() -> None:
    hours = parse_hours(["sun,sat 10:00-12:00"], "UTC")
    assert hours.is_open(local(SAT, 11))
    assert hours.is_open(local(SUN, 11))
    assert not hours.is_open(local(FRI, 11))


def test_window_to_24_00_stays_open_until_midnight() -> None:
    hours = parse_hours(["mon 18:00-24:00"], "UTC")
    assert hours.is_open(local(MON, 23, 59, 59))
    assert not hours.is_open(local(TUE, 0))


def test_instant_is_judged_in_the_call_center_zone_not_in_utc() -> None:
    # Friday 20:00 UTC is Saturday 04:00 in Manila (UTC+8).
    at = datetime(2024, 6, 7, 20, 0, tzinfo=UTC)
    assert at.weekday() == 4
    assert parse_hours(["sat 00:00-24:00"], "Asia/Manila").is_open(at)
    assert not parse_hours(["fri 00:00-24:00"], "Asia/Manila").is_open(at)
    assert parse_hours(["fri 00:00-24:00"], "UTC").is_open(at)


def test_spring_forward_day_in_berlin_uses_summer_offset_after_the_change() -> None:
    # 2024-03-31: Berlin jumps from 02:00 CET (+1) to 03:00 CEST (+2) at 01:00 UTC.
    hours = parse_hours(["sun 08:00-20:00"], "Europe/Berlin")
    assert hours.is_open(datetime(2024, 3, 31, 6, 0, tzinfo=UTC))  # 08:00 CEST
    assert not hours.is_open(datetime(2024, 3, 31, 5, 59, tzinfo=UTC))  # 07:59 CEST
    assert not hours.is_open(datetime(2024, 3, 31, 18, 0, tzinfo=UTC))  # 20:00 CEST


def test_skipped_wall_hour_on_spring_forward_is_never_open() -> None:
    hours = parse_hours(["sun 02:00-03:00"], "Europe/Berlin")
    day = datetime(2024, 3, 31, 0, 0, tzinfo=UTC)
    minutes = (day + timedelta(minutes=m) for m in range(0, 24 * 60, 5))
    assert not any(hours.is_open(at) for at in minutes)


def test_repeated_wall_hour_on_fall_back_is_open_both_times() -> None:
    # 2024-11-03: New York falls back from 02:00 EDT to 01:00 EST; 01:30 happens twice.
    hours = parse_hours(["sun 01:00-02:00"], "America/New_York")
    assert hours.is_open(datetime(2024, 11, 3, 5, 30, tzinfo=UTC))  # 01:30 EDT
    assert hours.is_open(datetime(2024, 11, 3, 6, 30, tzinfo=UTC))  # 01:30 EST
    assert not hours.is_open(datetime(2024, 11, 3, 7, 0, tzinfo=UTC))  # 02:00 EST


def test_aware_instant_in_any_zone_gives_the_same_answer() -> None:
    hours = parse_hours(["mon-fri 09:00-17:00"], "America/New_York")
    at = datetime(2024, 6, 3, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert hours.is_open(at)
    assert hours.is_open(at.astimezone(BERLIN))
    assert hours.is_open(at.astimezone(NEW_YORK))


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        office().is_open(datetime(2024, 6, 3, 12, 0))  # noqa: DTZ001 - the point of the test


def test_describe_names_days_times_and_zone() -> None:
    hours = parse_hours(
        ["mon-fri 08:00-20:00", "sat 09:00-13:00", "fri-mon 22:00-02:00", "sun,sat 10:00-12:00"],
        "Europe/Berlin",
    )
    assert hours.describe() == (
        "Mon-Fri 08:00-20:00, Sat 09:00-13:00, Fri-Mon 22:00-02:00 (next day), "
        "Sat-Sun 10:00-12:00 (Europe/Berlin)"
    )
    assert hours.timezone == "Europe/Berlin"


def test_equal_specs_parse_to_equal_values() -> None:
    assert parse_hours(["mon-fri 08:00-20:00"], "UTC") == parse_hours(["MON-FRI 8:00-20:00"], "UTC")


def test_end_00_00_means_midnight_like_24_00() -> None:
    assert parse_hours(["tue 22:00-00:00"], "UTC") == parse_hours(["tue 22:00-24:00"], "UTC")


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("mon-fry 08:00-20:00", "unknown day 'fry'"),
        ("monday 08:00-20:00", "unknown day 'monday'"),
        ("mon 8h-20:00", "bad time '8h'"),
        ("mon 08:00-25:00", "bad time '25:00'"),
        ("mon 08:60-20:00", "bad time '08:60'"),
        ("mon 24:00-02:00", "only allowed as an end"),
        ("mon 08:00", "expected a time range"),
        ("mon 08:00-08:00", "empty window"),
        ("mon 00:00-00:00", "empty window"),
        ("08:00-20:00", "expected '<days> HH:MM-HH:MM'"),
        ("mon 08:00 - 20:00", "expected '<days> HH:MM-HH:MM'"),
        ("mon, 08:00-20:00", "unknown day ''"),
        ("mon,,tue 08:00-20:00", "unknown day ''"),
    ],
)
def test_bad_spec_error_names_the_spec_and_the_reason(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match="hours spec") as caught:
        parse_hours(["mon 09:00-10:00", spec], "UTC")
    assert repr(spec) in str(caught.value)
    assert reason in str(caught.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "utc", "", "../etc/passwd", "America"])
def test_unknown_time_zone_is_rejected_by_name(zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as caught:
        parse_hours(["mon 09:00-10:00"], zone)
    assert repr(zone) in str(caught.value)


def test_empty_spec_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one spec"):
        parse_hours([], "UTC")


def test_single_string_instead_of_a_list_is_rejected() -> None:
    with pytest.raises(TypeError, match="list of specs"):
        parse_hours("mon 09:00-10:00", "UTC")


# --- properties ------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1980, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by contract
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
zones = st.sampled_from(ZONES)
minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@given(at=instants, zone=zones)
def test_all_week_all_day_is_open_at_every_instant(at: datetime, zone: str) -> None:
    assert parse_hours(["mon-sun 00:00-24:00"], zone).is_open(at)


@given(at=instants, zone=zones, start=minutes_of_day, end=st.integers(1, 24 * 60))
def test_a_daily_window_and_its_complement_are_never_both_open(
    at: datetime, zone: str, start: int, end: int
) -> None:
    assume(start != end % (24 * 60))
    assume((start, end) != (0, 24 * 60))
    window = parse_hours([f"mon-sun {hhmm(start)}-{hhmm(end)}"], zone)
    complement_end = "24:00" if start == 0 else hhmm(start)
    complement = parse_hours([f"mon-sun {hhmm(end % (24 * 60))}-{complement_end}"], zone)
    assert window.is_open(at) != complement.is_open(at)


@given(at=instants, zone=zones, days=st.sets(st.sampled_from(DAYS), min_size=1, max_size=6))
def test_a_set_of_days_and_the_other_days_are_never_both_open(
    at: datetime, zone: str, days: set[str]
) -> None:
    others = [d for d in DAYS if d not in days]
    open_days = parse_hours([f"{','.join(sorted(days))} 00:00-24:00"], zone)
    other_days = parse_hours([f"{','.join(others)} 00:00-24:00"], zone)
    assert open_days.is_open(at) != other_days.is_open(at)


@st.composite
def specs(draw: st.DrawFn) -> str:
    days = f"{draw(st.sampled_from(DAYS))}-{draw(st.sampled_from(DAYS))}"
    start = draw(minutes_of_day)
    end = draw(st.integers(1, 24 * 60).filter(lambda e: e % (24 * 60) != start or e == 24 * 60))
    return f"{days} {hhmm(start)}-{hhmm(end)}"


@given(at=instants, zone=zones, spec=specs(), view=zones)
def test_answer_does_not_depend_on_the_zone_the_instant_is_written_in(
    at: datetime, zone: str, spec: str, view: str
) -> None:
    hours = parse_hours([spec], zone)
    assert hours.is_open(at) == hours.is_open(at.astimezone(ZoneInfo(view)))


@given(at=instants, day=st.integers(0, 6), start=minutes_of_day, length=st.integers(1, 24 * 60))
def test_single_day_window_matches_a_reference_computation(
    at: datetime, day: int, start: int, length: int
) -> None:
    assume(length < 24 * 60 or start == 0)  # a whole day written as HH:MM-HH:MM starts at 00:00
    end = (start + length) % (24 * 60) or 24 * 60
    hours = parse_hours([f"{DAYS[day]} {hhmm(start)}-{hhmm(end)}"], "UTC")
    # Reference: minutes since the window last began on `day`, counted on a plain UTC week.
    minute_of_week = at.weekday() * 24 * 60 + at.hour * 60 + at.minute
    since_start = (minute_of_week - (day * 24 * 60 + start)) % (7 * 24 * 60)
    assert hours.is_open(at) == (since_start < length)
