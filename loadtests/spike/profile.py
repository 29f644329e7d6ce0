"""The spike's timeline: phases (warm-up, baseline, outage rising to 1.5x, spike, back,
falling, baseline; loadtests/README.md has the table), users over time, when the call
centers go down and come back, and what a customer should meet at a given moment. Pure:
times are seconds since the shape started, passed in. A user is one customer who does
one thing every `PACE_S` seconds on average."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# One task every PACE_S s on average, at exponential gaps, whatever the answer time
# (`next_start`; loadtests/README.md, "The customers").
PACE_S: Final = 2.0
MAX_LAG_S: Final = 2 * PACE_S  # a customer held up longer than this does not catch up
SPIKE_FACTOR: Final = 1.5
# Windows around each switch when either destination is right: the front door sees a
# call center refuse connections on the next request (retry, then self-help) and needs
# `healthy_threshold` probes plus `hold_down_ms` (default 2 x 250 ms + 5 s) to go back.
DETECT_S: Final = 2.0
RECOVER_S: Final = 12.0


class Phase(StrEnum):
    WARM_UP = "warm-up"
    BASELINE = "baseline"
    RISE = "outage, rise"
    SPIKE = "outage, spike"
    RECOVERED_SPIKE = "back, spike"
    FALL = "back, fall"
    AFTER = "back, baseline"


class Expect(StrEnum):
    """Where a customer arriving at /support/<topic> should be sent."""

    CALL_CENTER = "call center"
    SELF_HELP = "self-help"
    EITHER = "either"


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Phase boundaries in seconds since the start; `down_at` and `up_at` are when the
    call centers are switched down and up (both of them, through the simulators)."""

    name: str
    baseline_users: int
    warm_up_end: float
    down_at: float
    rise_end: float
    up_at: float
    spike_end: float
    fall_end: float
    end: float

    @property
    def edges(self) -> tuple[float, ...]:
        """Where each phase starts, and the end."""
        return (0.0, self.warm_up_end, self.down_at, self.rise_end, self.up_at,
                self.spike_end, self.fall_end, self.end)  # fmt: skip

    def __post_init__(self) -> None:
        if any(b < a for a, b in itertools.pairwise(self.edges)) or self.warm_up_end <= 0:
            raise ValueError(f"profile {self.name}: phase times must increase, got {self.edges}")
        if self.baseline_users < 1:
            raise ValueError(f"profile {self.name}: baseline_users must be at least 1")

    @property
    def spike_users(self) -> int:
        return round(self.baseline_users * SPIKE_FACTOR)

    def phase(self, t: float) -> Phase:
        return next((p for p, end in zip(Phase, self.edges[1:-1], strict=False) if t < end),
                    Phase.AFTER)  # fmt: skip

    def target(self, t: float) -> tuple[int, float] | None:
        """(users, spawn rate per second) the shape asks for at `t`; None once it is over.

        Each ramp is a rate that reaches its target exactly at the phase's end."""
        if t >= self.end:
            return None
        base, spike = self.baseline_users, self.spike_users
        if t < self.down_at:  # warm-up and baseline
            return base, base / self.warm_up_end
        if t < self.spike_end:
            return spike, (spike - base) / max(self.rise_end - self.down_at, 1.0)
        return base, (spike - base) / max(self.fall_end - self.spike_end, 1.0)

    def phases(self) -> list[tuple[Phase, float, float]]:
        """Each phase with its start and end."""
        e = self.edges
        return [(phase, a, b) for phase, a, b in zip(Phase, e[:-1], e[1:], strict=True)]


def next_start(scheduled: float, now: float, gap: float) -> tuple[float, float]:
    """(next task's start time, wait until then) for a customer whose current task was
    scheduled at `scheduled` and who drew `gap` (exponential, mean PACE_S) for the next.
    Open loop: a slow answer does not delay the schedule, unless it fell more than
    MAX_LAG_S behind, when it restarts from `now` (no burst of catching up)."""
    nxt = scheduled + gap
    if nxt < now - MAX_LAG_S:
        nxt = now
    return nxt, max(0.0, nxt - now)


def expect(t: float, *, down_at: float | None, up_at: float | None) -> Expect:
    """What a /support answer completed at `t` should be, given when the call centers
    were actually switched down and up (None: not yet). Times on one clock."""
    if down_at is None or t < down_at:
        return Expect.CALL_CENTER
    if t < down_at + DETECT_S:
        return Expect.EITHER
    if up_at is None or t < up_at:
        return Expect.SELF_HELP
    if t < up_at + RECOVER_S:
        return Expect.EITHER
    return Expect.CALL_CENTER


# Full: five minutes, 110 s of them in the outage. CI: the same phases in 85 s. Smoke:
# the same phases in 22 s, for the gate's own test (tests/integration/test_spike_gate.py).
PROFILES: Final = {
    "full": Profile(
        name="full", baseline_users=1000, warm_up_end=30, down_at=90, rise_end=100,
        up_at=200, spike_end=220, fall_end=230, end=300,
    ),
    "ci": Profile(
        name="ci", baseline_users=1000, warm_up_end=10, down_at=25, rise_end=35,
        up_at=55, spike_end=62, fall_end=67, end=85,
    ),
    "smoke": Profile(
        name="smoke", baseline_users=100, warm_up_end=3, down_at=7, rise_end=9,
        up_at=14, spike_end=16, fall_end=17, end=22,
    ),
}  # fmt: skip
