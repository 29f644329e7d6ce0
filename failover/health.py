"""Active health: the rise/fall machine of one call center (pure: no I/O, no clock).

A probe result is first classified into an `Observation` (`classify`), then fed to
`HealthMachine.observe`, which returns the new machine and, when the state changed,
a `Transition`. The vocabulary is HAProxy's: `healthy_threshold` ("rise") consecutive
good probes bring a call center up, `unhealthy_threshold` ("fall") consecutive bad
ones take it down (HAProxy configuration manual, section 5.2 "rise"/"fall").

Semantic health (docs/architecture.md contract): a 2xx whose JSON says `"status": "down"` is a
failure; `"degraded"`, or a `queue_wait_seconds` above the configured limit, is
DEGRADED: customers are offered self-help first, with a link to go on to the call
center.

States and the rules that leave them live in `TRANSITIONS`; tests walk that table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Final


class HealthState(enum.StrEnum):
    UNKNOWN = "unknown"  # no probe answered yet
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class Observation(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAIL = "fail"


class FailureKind(enum.StrEnum):
    """Why a probe failed; backend-originated failures stay apart from local ones."""

    CONNECT = "connect"  # refused, reset, DNS: local-origin (Envoy's term)
    TIMEOUT = "timeout"  # local-origin
    HTTP_STATUS = "http_status"  # the call center answered non-2xx: backend-originated
    REPORTED_DOWN = "reported_down"  # 2xx, but its JSON says "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    """What one probe saw. Built by the probe adapter; classified here."""

    latency: float
    http_status: int | None = None
    failure: FailureKind | None = None
    reported_status: str | None = None
    agents_available: int | None = None
    queue_wait_seconds: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthPolicy:
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    max_queue_wait_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.healthy_threshold < 1 or self.unhealthy_threshold < 1:
            raise ValueError("health thresholds must be >= 1")


def classify(result: ProbeResult, policy: HealthPolicy) -> Observation:
    """Turn one probe result into what the machine counts."""
    if result.failure is not None:
        return Observation.FAIL
    if result.http_status is None or not 200 <= result.http_status < 300:
        return Observation.FAIL
    status = (result.reported_status or "ok").lower()
    if status == "down":
        return Observation.FAIL
    if status == "degraded":
        return Observation.DEGRADED
    limit = policy.max_queue_wait_seconds
    wait = result.queue_wait_seconds
    if limit is not None and wait is not None and wait > limit:
        return Observation.DEGRADED
    return Observation.OK


@dataclass(frozen=True, slots=True, kw_only=True)
class Streaks:
    """Consecutive-observation counters; each resets when its run breaks."""

    ok: int = 0  # consecutive OK
    not_fail: int = 0  # consecutive OK or DEGRADED
    fail: int = 0  # consecutive FAIL
    not_ok: int = 0  # consecutive DEGRADED or FAIL

    def after(self, obs: Observation) -> Streaks:
        is_ok = obs is Observation.OK
        is_fail = obs is Observation.FAIL
        return Streaks(
            ok=self.ok + 1 if is_ok else 0,
            not_fail=0 if is_fail else self.not_fail + 1,
            fail=self.fail + 1 if is_fail else 0,
            not_ok=0 if is_ok else self.not_ok + 1,
        )


class Threshold(enum.Enum):
    RISE = "healthy_threshold"
    FALL = "unhealthy_threshold"
    FIRST = "first"  # the first answer decides at once: no reason to wait at start-up


@dataclass(frozen=True, slots=True)
class Rule:
    """Go to `target` once streak `counter` reaches the `threshold`."""

    counter: str  # a field of Streaks
    threshold: Threshold
    target: HealthState


# Checked in order; the first rule that fires wins. Worse-first, so that a run of
# FAILs is never read as DEGRADED.
TRANSITIONS: Final[dict[HealthState, tuple[Rule, ...]]] = {
    HealthState.UNKNOWN: (
        Rule("fail", Threshold.FIRST, HealthState.DOWN),
        Rule("ok", Threshold.FIRST, HealthState.UP),
        Rule("not_fail", Threshold.FIRST, HealthState.DEGRADED),
    ),
    HealthState.UP: (
        Rule("fail", Threshold.FALL, HealthState.DOWN),
        Rule("not_ok", Threshold.FALL, HealthState.DEGRADED),
    ),
    HealthState.DEGRADED: (
        Rule("fail", Threshold.FALL, HealthState.DOWN),
        Rule("ok", Threshold.RISE, HealthState.UP),
    ),
    HealthState.DOWN: (
        Rule("ok", Threshold.RISE, HealthState.UP),
        Rule("not_fail", Threshold.RISE, HealthState.DEGRADED),
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    source: HealthState
    target: HealthState
    at: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthMachine:
    state: HealthState = HealthState.UNKNOWN
    streaks: Streaks = field(default_factory=Streaks)
    since: float = 0.0
    checks: int = 0

    def observe(
        self, obs: Observation, *, now: float, policy: HealthPolicy, detail: str = ""
    ) -> tuple[HealthMachine, Transition | None]:
        streaks = self.streaks.after(obs)
        for rule in TRANSITIONS[self.state]:
            if _reached(getattr(streaks, rule.counter), rule.threshold, policy):
                # Streaks carry over: after UP -> DEGRADED on (DEGRADED, FAIL), one more
                # FAIL completes the fall to DOWN instead of starting the count again.
                moved = HealthMachine(
                    state=rule.target, streaks=streaks, since=now, checks=self.checks + 1
                )
                why = f"{getattr(streaks, rule.counter)} x {obs.value}"
                if detail:
                    why = f"{why}: {detail}"
                return moved, Transition(source=self.state, target=rule.target, at=now, reason=why)
        return replace(self, streaks=streaks, checks=self.checks + 1), None


def _reached(count: int, threshold: Threshold, policy: HealthPolicy) -> bool:
    if threshold is Threshold.FIRST:
        return count >= 1
    limit: int = getattr(policy, threshold.value)
    return count >= limit


SERVING_STATES: Final = frozenset({HealthState.UP, HealthState.DEGRADED})
