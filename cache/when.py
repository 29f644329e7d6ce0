"""Times on customer pages, in the customer's language (pure; Babel's CLDR data).

The outage banner says when the outage began, with the date and the time zone, and for
how long: "since 05:32 UTC on Dec 5, 2026 (for 25 minutes)" (issue 19). The duration
is floored to whole minutes under an hour, whole hours under a day, then whole days, so
it only changes at a step boundary: a rendered page is kept under the step it was
rendered in (`outage_step`), and the hot path treats a page as fresh only until the
next step (`next_step`), so a kept page never shows an outdated duration.

Times are shown in UTC unless `[languages] timezone` names the company's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from babel import Locale
from babel.dates import format_date, format_time, format_timedelta

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86400


def _unit(elapsed_s: float) -> int:
    """The step the duration is floored to at this age."""
    if elapsed_s < HOUR:
        return MINUTE
    if elapsed_s < DAY:
        return HOUR
    return DAY


def outage_step(since: datetime | None, now: float) -> int:
    """Which step of the duration `now` is in (part of a rendered page's cache key)."""
    if since is None:
        return 0
    elapsed = max(0.0, now - since.timestamp())
    unit = _unit(elapsed)
    return unit * int(elapsed // unit)


def next_step(since: datetime | None, now: float) -> float:
    """When the duration shown at `now` changes (never, without a start)."""
    if since is None:
        return float("inf")
    elapsed = max(0.0, now - since.timestamp())
    unit = _unit(elapsed)
    return since.timestamp() + unit * (int(elapsed // unit) + 1)


@dataclass(frozen=True, slots=True)
class Clockface:
    """How one language writes times, in the configured zone."""

    locale: Locale
    zone: tzinfo = UTC

    def date(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return format_date(value, "medium", locale=self.locale)

    def time(self, value: datetime) -> str:
        """24-hour "05:32", as support lines write it in every language we ship."""
        return format_time(value.astimezone(self.zone), "HH:mm", locale=self.locale)

    def zone_name(self, value: datetime) -> str:
        return value.astimezone(self.zone).tzname() or "UTC"

    def duration(self, seconds: float) -> str:
        """Floored to the step (see the module docstring): "25 minutes", "3 hours"."""
        seconds = max(float(MINUTE), seconds)
        unit = _unit(seconds)
        whole = timedelta(seconds=unit * int(seconds // unit))
        # threshold=1: a floored value stays in its unit (the default rounds 50 min up).
        return format_timedelta(whole, threshold=1, locale=self.locale)

    def age(self, seconds: float) -> str:
        """How old a copy is: "2 minutes", "3 hours" (rounded, as "109 s" was)."""
        return format_timedelta(
            timedelta(seconds=max(1, int(seconds))), threshold=1, locale=self.locale
        )
