"""Hours of operation of a call center: weekly windows in the call center's time zone.

Pure: no clock reads (the instant is always a parameter) and no I/O beyond what
``zoneinfo`` does once, when :func:`parse_hours` looks the zone up.

Spec grammar, one window per string::

    spec  := days " " HH:MM "-" HH:MM
    days  := item ("," item)*          # "sun,sat", "mon-fri,sun"
    item  := day | day "-" day         # ranges may wrap: "fri-mon" = fri, sat, sun, mon
    day   := mon | tue | wed | thu | fri | sat | sun   (case-insensitive)

Start is inclusive, end exclusive. ``24:00`` is allowed as an end only. An end
earlier than the start runs past midnight into the next day: ``"fri 22:00-02:00"``
is open from Friday 22:00 to Saturday 02:00 (and ``"sun 22:00-02:00"`` into Monday).

Windows are wall-clock times. On a DST change day an instant is converted with
zoneinfo and compared by its local wall time: in the skipped hour nothing is open
(that wall time does not exist), in the repeated hour a window is open both times.

Errors: :func:`parse_hours` raises ``ValueError`` (naming the bad spec and the
reason); :meth:`WeeklyHours.is_open` raises ``ValueError`` for a naive datetime.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WeeklyHours", "Window", "parse_hours"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_MINUTES_PER_DAY = 24 * 60
_SECONDS_PER_DAY = _MINUTES_PER_DAY * 60
_SECONDS_PER_WEEK = 7 * _SECONDS_PER_DAY
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """One spec: on each of ``days``, open from ``start`` until ``end``.

    ``days`` are ``datetime.weekday()`` numbers (0 = Monday), sorted, unique.
    ``start``/``end`` are minutes after local midnight; ``end`` is 1..1440 and
    ``end <= start`` means the window runs past midnight into the next day.
    """

    days: tuple[int, ...]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def spans(self) -> list[tuple[int, int]]:
        """Half-open ``[from, to)`` intervals in seconds since Monday 00:00 local."""
        length = (self.end - self.start) % _MINUTES_PER_DAY or _MINUTES_PER_DAY
        out: list[tuple[int, int]] = []
        for day in self.days:
            begin = (day * _MINUTES_PER_DAY + self.start) * 60
            finish = begin + length * 60
            if finish <= _SECONDS_PER_WEEK:
                out.append((begin, finish))
            else:  # Sunday night into Monday morning: split at the week boundary
                out.extend([(begin, _SECONDS_PER_WEEK), (0, finish - _SECONDS_PER_WEEK)])
        return out

    def describe(self) -> str:
        end = _format_minutes(self.end)
        suffix = " (next day)" if self.overnight else ""
        return f"{_describe_days(self.days)} {_format_minutes(self.start)}-{end}{suffix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyHours:
    """Weekly opening windows in one time zone. Build it with :func:`parse_hours`."""

    zone: ZoneInfo
    windows: tuple[Window, ...]
    _spans: tuple[tuple[int, int], ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Merged once here so is_open is a short scan; frozen, hence object.__setattr__.
        object.__setattr__(self, "_spans", _merge(s for w in self.windows for s in w.spans()))

    @property
    def timezone(self) -> str:
        return self.zone.key

    def is_open(self, at: datetime) -> bool:
        """True if ``at`` (timezone-aware) falls inside a window, in the call center's zone."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"is_open needs a timezone-aware datetime, got naive {at!r}")
        local = at.astimezone(self.zone)
        second = (
            local.weekday() * _SECONDS_PER_DAY
            + local.hour * 3600
            + local.minute * 60
            + local.second
        )
        # Boundaries are whole minutes, so dropping microseconds keeps start/end exact.
        return any(begin <= second < end for begin, end in self._spans)

    def describe(self) -> str:
        """Human summary, e.g. ``Mon-Fri 08:00-20:00, Sat 09:00-13:00 (Europe/Berlin)``."""
        if not self.windows:
            return f"never open ({self.timezone})"
        return ", ".join(w.describe() for w in self.windows) + f" ({self.timezone})"


def parse_hours(specs: Sequence[str], timezone: str) -> WeeklyHours:
    """Parse spec strings like ``"mon-fri 08:00-20:00"`` into :class:`WeeklyHours`.

    Raises ``ValueError`` naming the bad spec and what is wrong with it.
    """
    if isinstance(specs, str):
        # A bare string is a Sequence[str] of characters: almost surely a missing list.
        raise TypeError(f"hours must be a list of specs, got a single string {specs!r}")
    if not specs:
        raise ValueError("hours must list at least one spec like 'mon-fri 08:00-20:00'")
    zone = _zone(timezone)
    return WeeklyHours(zone=zone, windows=tuple(_parse_spec(spec) for spec in specs))


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a folder of tzdata: IsADirectoryError
        raise ValueError(
            f"unknown time zone {timezone!r} (use an IANA name like 'Europe/Berlin')"
        ) from None


def _parse_spec(spec: str) -> Window:
    parts = spec.split()
    if len(parts) != 2:
        raise ValueError(f"hours spec {spec!r}: expected '<days> HH:MM-HH:MM'")
    days_text, times_text = parts
    try:
        days = _parse_days(days_text)
        start, end = _parse_range(times_text)
    except ValueError as exc:
        raise ValueError(f"hours spec {spec!r}: {exc}") from None
    if start == end % _MINUTES_PER_DAY and end != _MINUTES_PER_DAY:
        raise ValueError(f"hours spec {spec!r}: empty window (start equals end)")
    # "22:00-00:00" and "22:00-24:00" mean the same; keep one form.
    return Window(days=days, start=start, end=end or _MINUTES_PER_DAY)


def _parse_range(text: str) -> tuple[int, int]:
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"expected a time range HH:MM-HH:MM, got {text!r}")
    return _parse_time(start_text, allow_24=False), _parse_time(end_text, allow_24=True)


def _parse_days(text: str) -> tuple[int, ...]:
    days: set[int] = set()
    for item in text.split(","):
        first, sep, last = item.partition("-")
        a = _day(first)
        b = _day(last) if sep else a
        days.update((a + k) % 7 for k in range((b - a) % 7 + 1))  # ranges wrap past Sunday
    return tuple(sorted(days))


def _day(name: str) -> int:
    try:
        return DAY_NAMES.index(name.lower())
    except ValueError:
        raise ValueError(f"unknown day {name!r} (use {', '.join(DAY_NAMES)})") from None


def _parse_time(text: str, *, allow_24: bool) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"bad time {text!r} (expected HH:MM)")
    hours, minutes = int(match[1]), int(match[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return _MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        hint = " (24:00 is only allowed as an end)" if (hours, minutes) == (24, 0) else ""
        raise ValueError(f"bad time {text!r}{hint}")
    return hours * 60 + minutes


def _merge(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return tuple(merged)


def _format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _describe_days(days: tuple[int, ...]) -> str:
    if len(days) == 7:
        return "Mon-Sun"
    present = set(days)
    # Start each run right after a closed day so a wrapping run (Fri-Mon) stays whole.
    first = next(d for d in range(7) if d in present and (d - 1) % 7 not in present)
    runs: list[str] = []
    day = first
    for _ in range(7):
        if day in present and (day - 1) % 7 not in present:
            end = day
            while (end + 1) % 7 in present:
                end = (end + 1) % 7
            name = DAY_NAMES[day].title()
            runs.append(name if end == day else f"{name}-{DAY_NAMES[end].title()}")
        day = (day + 1) % 7
    return ",".join(runs)
