"""Pool reconfiguration on a configuration reload (issue 17): pure, no event loop."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover.health import SERVING_STATES, HealthPolicy, HealthState, ProbeResult
from failover.members import CallCenterSpec, Member, reconfigured
from failover.pool import SwitchChanged
from failover.routing import SELF_HELP, Override, OverrideKind
from kernel.breaker import Outcome
from tests.support.pool import FAIL, OK, OUTLIER, bring_up, make_pool, started, where

NAMES = ("a", "b", "c", "d", "e")


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, Member], list[CallCenterSpec], set[str]]:
    """A pool that has lived a while, and the specs of a new configuration."""
    before = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
    pool = make_pool(*(CallCenterSpec(name=n, priority=i + 1) for i, n in enumerate(before)))
    steps = draw(st.lists(st.tuples(st.sampled_from(before), st.integers(0, 3)), max_size=30))
    for t, (name, what) in enumerate(steps):
        if what == 0:
            pool.observe_probe(name, OK, now=float(t))
        elif what == 1:
            pool.observe_probe(name, FAIL, now=float(t))
        elif what == 2:
            pool.record_outcome(name, Outcome.LOCAL_FAILURE, now=float(t))
        else:
            pool.set_drained(name, True, now=float(t))
    after = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
    specs = [
        CallCenterSpec(name=n, priority=draw(st.integers(1, 5)), emergency=draw(st.booleans()))
        for n in after
    ]
    reset = set(draw(st.lists(st.sampled_from(after), unique=True)))
    members = {m.spec.name: m for m in pool.snapshot().members}
    return members, specs, reset


@given(histories())
def test_kept_members_keep_their_state_added_ones_start_unknown_removed_ones_go(
    case: tuple[dict[str, Member], list[CallCenterSpec], set[str]],
) -> None:
    old, specs, reset = case
    new = reconfigured(old, specs, reset=reset)
    assert list(new) == [s.name for s in specs]  # the new file's order; removed ones gone
    for order, spec in enumerate(specs):
        m = new[spec.name]
        assert m.spec == spec
        assert m.order == order
        was = old.get(spec.name)
        if was is None or spec.name in reset:
            assert m.machine.state is HealthState.UNKNOWN
            assert m.machine.state not in SERVING_STATES
            assert m.last_probe is None
            assert not m.drained
            assert m.emergency == spec.emergency
        else:
            assert m.machine == was.machine
            assert m.breaker == was.breaker
            assert m.last_probe == was.last_probe
            assert m.drained == was.drained
            assert m.stable_since == was.stable_since
            if spec.emergency == was.spec.emergency:
                assert m.emergency == was.emergency  # an operator's switch stays
            else:
                assert m.emergency == spec.emergency  # the file changed it: the file wins


def test_an_added_call_center_takes_customers_only_once_probed_up() -> None:
    pool = started()  # primary (1) and backup (2), traffic on primary
    specs = [CallCenterSpec(name="new", priority=1), CallCenterSpec(name="primary", priority=2),
             CallCenterSpec(name="backup", priority=3)]  # fmt: skip
    pool.reconfigure(specs, health=HealthPolicy(healthy_threshold=2, unhealthy_threshold=2),
                     outlier=OUTLIER, hold_down=10.0, now=1.0)  # fmt: skip
    assert where(pool, 1.0) == "primary"  # new is UNKNOWN: not serving
    bring_up(pool, "new", now=2.0)
    assert where(pool, 2.0) == "new"  # never down, so no hold-down: preferred at once


def test_removing_the_call_center_in_use_moves_customers_to_the_next() -> None:
    pool = started()
    pool.reconfigure([CallCenterSpec(name="backup", priority=1)],
                     health=HealthPolicy(healthy_threshold=2, unhealthy_threshold=2),
                     outlier=OUTLIER, hold_down=10.0, now=1.0)  # fmt: skip
    assert pool.names == ("backup",)
    assert where(pool, 1.0) == "backup"
    assert pool.record_outcome("primary", Outcome.SUCCESS, now=1.0) == []  # a late answer


def test_new_thresholds_apply_from_the_next_probe() -> None:
    pool = started()
    pool.reconfigure([CallCenterSpec(name="primary", priority=1),
                      CallCenterSpec(name="backup", priority=2)],
                     health=HealthPolicy(healthy_threshold=1, unhealthy_threshold=1),
                     outlier=OUTLIER, hold_down=0.0, now=1.0)  # fmt: skip
    pool.observe_probe("primary", FAIL, now=1.0)  # one failure is enough now (was two)
    assert where(pool, 1.0) == "backup"


def test_removing_every_serving_call_center_sends_customers_to_self_help() -> None:
    pool = started()
    pool.reconfigure([CallCenterSpec(name="fresh", priority=1)],
                     health=HealthPolicy(healthy_threshold=2, unhealthy_threshold=2),
                     outlier=OUTLIER, hold_down=10.0, now=1.0)  # fmt: skip
    assert where(pool, 1.0) == SELF_HELP
    pool.observe_probe("fresh", ProbeResult(latency=0.01, http_status=200), now=2.0)
    assert where(pool, 2.0) == "fresh"


def test_an_override_pinned_to_a_removed_call_center_is_lifted() -> None:
    pool = started()
    pool.set_override(Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="backup"), now=0.5)
    assert where(pool, 0.5) == "backup"
    events = pool.reconfigure([CallCenterSpec(name="primary", priority=1)],
                              health=HealthPolicy(healthy_threshold=2, unhealthy_threshold=2),
                              outlier=OUTLIER, hold_down=10.0, now=1.0)  # fmt: skip
    assert pool.snapshot().override is None
    assert [(e.switch, e.value) for e in events if isinstance(e, SwitchChanged)] == [
        ("override", "automatic")
    ]
    assert where(pool, 1.0) == "primary"


def test_an_override_pinned_to_a_kept_call_center_stays() -> None:
    pool = started()
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="backup")
    pool.set_override(pin, now=0.5)
    events = pool.reconfigure([CallCenterSpec(name="backup", priority=1)],
                              health=HealthPolicy(healthy_threshold=2, unhealthy_threshold=2),
                              outlier=OUTLIER, hold_down=10.0, now=1.0)  # fmt: skip
    assert events == []
    assert pool.snapshot().override == pin
