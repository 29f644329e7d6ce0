"""Times on customer pages (cache/when.py): localized, with the date and zone, and an
outage duration that only changes at a step, so a kept page never shows an old one."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from hypothesis import given
from hypothesis import strategies as st

from cache.rendered import Outage, outage_key
from cache.when import DAY, HOUR, MINUTE, Clockface, next_step, outage_step

SINCE = datetime(2026, 12, 5, 5, 32, tzinfo=UTC)
T0 = SINCE.timestamp()


@pytest.mark.parametrize(
    ("lang", "date", "duration"),
    [
        ("en", "Dec 5, 2026", "25 minutes"),
        ("fr", "5 déc. 2026", "25 minutes"),
        ("es", "5 dic 2026", "25 minutos"),
        ("de", "05.12.2026", "25 Minuten"),
    ],
)
def test_dates_times_and_durations_in_each_language(lang: str, date: str, duration: str) -> None:
    face = Clockface(Locale.parse(lang))
    assert face.date(SINCE) == date
    assert face.time(SINCE) == "05:32"
    assert face.zone_name(SINCE) == "UTC"
    assert face.duration(25 * MINUTE + 59) == duration  # floored, not rounded up


def test_a_configured_zone_shows_local_time_and_its_name() -> None:
    face = Clockface(Locale.parse("de"), ZoneInfo("Europe/Berlin"))
    assert (face.time(SINCE), face.zone_name(SINCE)) == ("06:32", "CET")
    late = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    assert face.date(late) == "06.12.2026"  # the local date, not UTC's


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (0, "1 minute"),
        (59, "1 minute"),
        (3 * MINUTE, "3 minutes"),
        (59 * MINUTE + 59, "59 minutes"),  # the default threshold would say "1 hour"
        (HOUR, "1 hour"),
        (5 * HOUR + 50 * MINUTE, "5 hours"),
        (23 * HOUR + 59 * MINUTE, "23 hours"),
        (2 * DAY + 20 * HOUR, "2 days"),
    ],
)
def test_the_duration_is_floored_to_its_step(elapsed: int, text: str) -> None:
    assert Clockface(Locale.parse("en")).duration(elapsed) == text


def test_ages_read_like_people_say_them() -> None:
    face = Clockface(Locale.parse("fr"))
    assert face.age(109) == "2 minutes"
    assert face.age(45) == "45\u00a0secondes"  # CLDR: a no-break space in French


@pytest.mark.parametrize(
    ("elapsed", "step", "next_at"),
    [
        (0, 0, MINUTE),
        (25 * MINUTE + 10, 25 * MINUTE, 26 * MINUTE),
        (HOUR + 1, HOUR, 2 * HOUR),
        (DAY + HOUR, DAY, 2 * DAY),
    ],
)
def test_steps_and_when_the_next_begins(elapsed: int, step: int, next_at: int) -> None:
    assert outage_step(SINCE, T0 + elapsed) == step
    assert next_step(SINCE, T0 + elapsed) == T0 + next_at


def test_without_a_start_nothing_steps() -> None:
    assert outage_step(None, T0) == 0
    assert next_step(None, T0) == float("inf")


@given(st.floats(min_value=0, max_value=30 * DAY))
def test_the_text_is_the_same_until_the_next_step(elapsed: float) -> None:
    face = Clockface(Locale.parse("en"))
    now = T0 + elapsed
    until = next_step(SINCE, now)
    assert until > now
    shown = face.duration(outage_step(SINCE, now))
    assert face.duration(outage_step(SINCE, until - 0.001)) == shown
    assert outage_step(SINCE, until) > outage_step(SINCE, now)


def test_the_cache_key_changes_with_the_step_only_during_an_outage() -> None:
    on = Outage(active=True, since=SINCE)
    assert outage_key(on, T0 + 10) == outage_key(on, T0 + 50)
    assert outage_key(on, T0 + 10) != outage_key(on, T0 + 70)
    off = Outage(active=False, since=SINCE)
    assert outage_key(off, T0) == outage_key(off, T0 + DAY) == (False, "", 0, "")
