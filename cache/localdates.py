"""Discourse's local dates, rendered on the server as readable text.

The discourse-local-dates plugin (discourse/discourse plugins/discourse-local-dates/
assets/javascripts/lib/discourse-markdown/discourse-local-dates.js) cooks ``[date=2026-12-05
time=05:32 timezone="Europe/Paris"]`` into::

    <span class="discourse-local-date" data-date="2026-12-05" data-time="05:32"
          data-timezone="Europe/Paris" data-email-preview="...">2026-12-05T04:32:00Z</span>

and the browser's JavaScript (lib/local-date-builder.js) replaces the text with the date in
the reader's zone. The text Discourse cooks is the moment in UTC in the author's
``data-format`` (moment.js tokens), ISO 8601 when none was given: that is what a bulletin on
the front door showed (issue 19). Our pages run no script, so the date is rendered here.

Attributes read (the plugin's allow-list in the same file, and its
spec/integration/local_dates_spec.rb): ``data-date`` (YYYY-MM-DD, required),
``data-time`` (HH:MM or HH:MM:SS; absent for an all-day date), ``data-timezone`` (the
author's IANA zone; absent means UTC, as the plugin's "Etc/UTC" default) and
``data-displayed-timezone`` (the zone the author asked every reader to see). A range
(``[date-range from=... to=...]``) is two spans with ``data-range="from"``/``"to"``
(``"true"`` on older sites) around a "→" that is already text, so each span renders alone.
``data-format``, ``data-countdown``, ``data-recurring`` and ``data-timezones`` are not
followed: a cached page cannot count down, and the format is moment.js's, not ours.

Shown in the displayed zone if the author set one, else in the author's own zone (the
reader's zone is unknown to a cached page), with the zone named. Anything malformed or
hostile (an unknown zone, a date out of range, a 10,000-character attribute) gives None and
the caller keeps the element's own text: never an exception.

`english` is the default formatter, stdlib only; `render` takes any `Formatter` so another
language can pass its own (e.g. one built on Babel) without touching the parsing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DATE: Final = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TIME: Final = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?")
# IANA zone names: "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC".
_ZONE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]{0,30}(?:/[A-Za-z0-9_+\-]{1,30}){0,2}")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalDate:
    """A date the author wrote: a day, or a moment in `zone` (then `moment` is aware)."""

    day: date
    moment: datetime | None  # None for an all-day date
    zone: str  # the IANA name it is shown in


Formatter = Callable[[LocalDate], str]


def english(value: LocalDate) -> str:
    """Like "5 Dec 2026, 05:32 CET"; "5 Dec 2026" for an all-day date."""
    day = value.day
    text = f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    if value.moment is None:
        return text
    abbreviation = value.moment.tzname() or value.zone
    if abbreviation[:1] in "+-":  # zones without a letter abbreviation: "-03" is UTC-03
        abbreviation = f"UTC{abbreviation}"
    return f"{text}, {value.moment:%H:%M} {abbreviation}"


def _zone(name: str | None) -> tzinfo | None:
    if not name or not _ZONE.fullmatch(name):
        return None
    if name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def parse(attrs: Mapping[str, str | None]) -> LocalDate | None:
    """The date a ``span.discourse-local-date``'s attributes describe, or None if they
    do not describe one."""
    raw_date = attrs.get("data-date") or ""
    found = _DATE.fullmatch(raw_date.strip())
    if found is None:
        return None
    raw_zone = attrs.get("data-timezone")
    author_zone = _zone(raw_zone) if raw_zone else UTC
    if author_zone is None:
        return None  # the plugin drops unknown zones when it cooks: this was not cooked by it
    shown_name = attrs.get("data-displayed-timezone")
    shown_zone = _zone(shown_name)
    if shown_zone is None:
        shown_zone, shown_name = author_zone, raw_zone or "UTC"
    try:
        day = date(*(int(part) for part in found.groups()))
        raw_time = (attrs.get("data-time") or "").strip()
        if not raw_time:
            return LocalDate(day=day, moment=None, zone=shown_name or "UTC")
        clock = _TIME.fullmatch(raw_time)
        if clock is None:
            return None
        hour, minute, second = (int(part or 0) for part in clock.groups())
        written = datetime.combine(day, time(hour, minute, second), tzinfo=author_zone)
        moment = written.astimezone(shown_zone)
    except (ValueError, OverflowError):
        return None
    return LocalDate(day=moment.date(), moment=moment, zone=shown_name or "UTC")


def render(attrs: Mapping[str, str | None], fallback: str, formatter: Formatter = english) -> str:
    """Readable text for a local date, or `fallback` (the element's own text) when its
    attributes do not describe a date."""
    value = parse(attrs)
    if value is None:
        return fallback
    try:
        return formatter(value)
    except (ValueError, OverflowError):
        return fallback
