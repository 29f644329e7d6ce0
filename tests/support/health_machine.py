"""Observations, a policy and drivers shared by the health machine test modules."""

from __future__ import annotations

from collections.abc import Sequence

from failover.health import (
    FailureKind,
    HealthMachine,
    HealthPolicy,
    HealthState,
    Observation,
    ProbeResult,
    Transition,
)

OK, DEG, FAIL = Observation.OK, Observation.DEGRADED, Observation.FAIL

# rise != fall, so that a rule counting against the wrong threshold shows up.
POLICY = HealthPolicy(healthy_threshold=3, unhealthy_threshold=4)


def run(
    observations: Sequence[Observation],
    policy: HealthPolicy = POLICY,
    machine: HealthMachine | None = None,
    *,
    start: float = 0.0,
) -> tuple[HealthMachine, list[Transition]]:
    """Feed observations one second apart; return the last machine and every transition."""
    m = HealthMachine() if machine is None else machine
    transitions: list[Transition] = []
    for i, obs in enumerate(observations):
        m, t = m.observe(obs, now=start + i, policy=policy)
        if t is not None:
            transitions.append(t)
    return m, transitions


def states_along(
    observations: Sequence[Observation], policy: HealthPolicy, machine: HealthMachine | None = None
) -> list[HealthState]:
    """The state after each observation."""
    m = HealthMachine() if machine is None else machine
    seen = []
    for i, obs in enumerate(observations):
        m, _ = m.observe(obs, now=float(i), policy=policy)
        seen.append(m.state)
    return seen


def ok_probe(
    *,
    http_status: int | None = 200,
    failure: FailureKind | None = None,
    reported_status: str | None = None,
    queue_wait_seconds: float | None = None,
) -> ProbeResult:
    """A probe that answered 200 in 10 ms unless told otherwise."""
    return ProbeResult(
        latency=0.01,
        http_status=http_status,
        failure=failure,
        reported_status=reported_status,
        queue_wait_seconds=queue_wait_seconds,
    )
