"""Applying a peer's verdict (failover/peers.py): a hold as routing sees it, rising on a
peer's word with a passing probe of our own, and the pool that carries both (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from failover.health import (
    FailureKind,
    HealthMachine,
    HealthPolicy,
    HealthState,
    Observation,
    ProbeResult,
)
from failover.peers import HoldKind, PeerHold, corroborated_rise
from failover.pool import CallCenterSpec, HealthChange, Pool, SwitchChanged
from failover.routing import RouteTo, SendToSelfHelp
from kernel.breaker import Breaker, OutlierPolicy

OK, FAIL, DEG = Observation.OK, Observation.FAIL, Observation.DEGRADED
UP, DOWN = HealthState.UP, HealthState.DOWN
C = "primary"
WALL = datetime(2026, 12, 24, 12, tzinfo=UTC)


def test_a_down_hold_shows_down_and_an_ejection_extends_our_own() -> None:
    down = PeerHold(kind=HoldKind.DOWN, replica="a")
    assert down.applied(UP, Breaker()) == (DOWN, Breaker())
    ejected = PeerHold(kind=HoldKind.EJECTED, replica="a", until=50.0)
    assert ejected.applied(UP, Breaker(ejected_until=80.0))[1].ejected_until == 80.0
    assert ejected.applied(UP, Breaker())[1].ejected_until == 50.0


def machine(*obs: Observation) -> HealthMachine:
    m = HealthMachine()
    for o in obs:
        m, _ = m.observe(o, now=0.0, policy=HealthPolicy())
    return m


@pytest.mark.parametrize(("obs", "rises"), [
    ((FAIL, FAIL, OK), True),  # DOWN, the last own probe passed
    ((FAIL, FAIL), False),  # DOWN, no passing probe of our own
    ((OK,), False),  # UP already
    ((FAIL, FAIL, DEG), False),  # not OK: our own probes say degraded
])  # fmt: skip
def test_a_peers_up_raises_us_only_on_a_passing_probe_of_our_own(
    obs: tuple[Observation, ...], rises: bool
) -> None:
    moved = corroborated_rise(machine(*obs), now=5.0, peer="a")
    assert (moved is not None) == rises
    if moved is not None:
        assert moved[0].state is UP
        assert moved[0].since == 5.0
        assert "a says up" in moved[1].reason


def pool() -> Pool:
    return Pool([CallCenterSpec(name=C, priority=1)], health=HealthPolicy(),
                outlier=OutlierPolicy(), hold_down=5.0)  # fmt: skip


def test_the_pool_routes_by_the_hold_and_lifting_it_restarts_the_hold_down() -> None:
    p = pool()
    p.observe_probe(C, ProbeResult(latency=0.01, http_status=200), now=0.0)
    assert p.route(now=0.0, wall=WALL)[0].__class__ is RouteTo
    events = p.set_peer_hold(C, PeerHold(kind=HoldKind.DOWN, replica="a"), now=1.0)
    assert [(e.switch, e.value) for e in events if isinstance(e, SwitchChanged)] == [
        ("peer", "down")
    ]
    assert p.route(now=1.0, wall=WALL)[0].__class__ is SendToSelfHelp
    assert p.snapshot().members[0].machine.state is UP  # our own verdict is untouched
    p.set_peer_hold(C, None, now=2.0)
    assert p.route(now=6.9, wall=WALL)[0].__class__ is SendToSelfHelp  # hold-down
    assert p.route(now=7.0, wall=WALL)[0].__class__ is RouteTo
    assert p.set_peer_hold(C, None, now=8.0) == []


def test_the_pool_rises_on_a_peers_word_with_one_passing_probe() -> None:
    p = pool()
    fail = ProbeResult(latency=0.01, failure=FailureKind.CONNECT)
    p.observe_probe(C, fail, now=0.0)
    p.observe_probe(C, fail, now=0.25)
    assert p.adopt_rise(C, peer="a", now=0.3) == []  # no passing probe of our own yet
    p.observe_probe(C, ProbeResult(latency=0.01, http_status=200), now=0.5)
    events = p.adopt_rise(C, peer="a", now=0.6)
    assert [e.transition.target for e in events if isinstance(e, HealthChange)] == [UP]
    assert p.snapshot().members[0].stable_since == 0.6
