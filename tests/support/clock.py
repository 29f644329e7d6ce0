"""A `kernel.clock.Clock` that moves only when the test says."""

from __future__ import annotations

from datetime import UTC, datetime

# 2027-01-15 08:00 UTC: a fixed wall time, so that what a test sees never depends on today.
EPOCH: float = 1_800_000_000.0


class FakeClock:
    """Monotonic and wall time, both still until `advance` moves them together."""

    def __init__(self, *, monotonic: float = 1000.0, epoch: float = EPOCH) -> None:
        self._monotonic = monotonic
        self._epoch = epoch

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only goes forward")
        self._monotonic += seconds
        self._epoch += seconds

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self._epoch, UTC)

    def epoch(self) -> float:
        return self._epoch
