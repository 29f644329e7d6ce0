"""Clocks for the I/O drivers. The decision core never reads one: it is handed `now`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: for intervals, timeouts, hold-down."""
        ...

    def wall(self) -> datetime:
        """Aware UTC time: for hours of operation and for humans."""
        ...

    def epoch(self) -> float:
        """`wall` as seconds since the Unix epoch: for times stored or shared between
        processes (when a bulletin was stored, a hit counted)."""
        ...


class SystemClock:
    # The functions themselves, not methods calling them: the hot paths read these.
    monotonic = staticmethod(time.monotonic)
    epoch = staticmethod(time.time)

    def wall(self) -> datetime:
        return datetime.now(UTC)
