"""The rise/fall machine of one call center: the transition table walked, scripted sequences."""

from __future__ import annotations

import dataclasses

import pytest

from failover.health import (
    SERVING_STATES,
    TRANSITIONS,
    HealthMachine,
    HealthPolicy,
    HealthState,
    Observation,
    Rule,
    Streaks,
    Threshold,
    Transition,
    classify,
)
from tests.support.health_machine import DEG, FAIL, OK, POLICY, ok_probe, run, states_along

# --- the table, walked -------------------------------------------------------------

# The observation that advances a counter without advancing any other counter that an
# earlier rule of the same state watches (OK also advances not_fail, FAIL also not_ok).
FEEDS: dict[str, Observation] = {"ok": OK, "fail": FAIL, "not_fail": DEG, "not_ok": DEG}

TABLE_CASES = [
    pytest.param(state, rule, id=f"{state.value}-{rule.counter}-to-{rule.target.value}")
    for state, rules in TRANSITIONS.items()
    for rule in rules
]


def needed(rule: Rule, policy: HealthPolicy) -> int:
    if rule.threshold is Threshold.FIRST:
        return 1
    count: int = getattr(policy, rule.threshold.value)
    return count


def test_every_state_has_its_rules_in_the_table() -> None:
    assert set(TRANSITIONS) == set(HealthState)


def test_every_rule_counts_a_real_streak() -> None:
    counters = {f.name for f in dataclasses.fields(Streaks)}
    for rules in TRANSITIONS.values():
        for rule in rules:
            assert rule.counter in counters
            assert rule.counter in FEEDS


@pytest.mark.parametrize(("state", "rule"), TABLE_CASES)
def test_no_rule_targets_its_own_state(state: HealthState, rule: Rule) -> None:
    assert rule.target is not state


@pytest.mark.parametrize(("state", "rule"), TABLE_CASES)
def test_each_rule_fires_at_exactly_its_threshold(state: HealthState, rule: Rule) -> None:
    n = needed(rule, POLICY)
    obs = FEEDS[rule.counter]
    m = HealthMachine(state=state)
    for i in range(n - 1):
        m, t = m.observe(obs, now=float(i), policy=POLICY)
        assert t is None, f"{rule} fired after {i + 1} < {n} observations"
        assert m.state is state
    m, t = m.observe(obs, now=100.0, policy=POLICY)
    assert t is not None
    assert (t.source, t.target, t.at) == (state, rule.target, 100.0)
    assert m.state is rule.target
    assert m.since == 100.0


@pytest.mark.parametrize(("state", "rule"), TABLE_CASES)
def test_rule_reason_names_the_streak_and_the_probe_detail(state: HealthState, rule: Rule) -> None:
    m = HealthMachine(state=state)
    obs = FEEDS[rule.counter]
    t: Transition | None = None
    for i in range(needed(rule, POLICY)):
        m, t = m.observe(obs, now=float(i), policy=POLICY, detail="connection refused")
    assert t is not None
    assert t.reason == f"{needed(rule, POLICY)} x {obs.value}: connection refused"


def test_fail_rules_come_before_the_others_so_a_fail_run_is_never_read_as_degraded() -> None:
    for state, rules in TRANSITIONS.items():
        fail_rules = [i for i, r in enumerate(rules) if r.counter == "fail"]
        if fail_rules:
            assert fail_rules == [0], state


# --- scripted sequences ------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "expected"),
    [(OK, HealthState.UP), (DEG, HealthState.DEGRADED), (FAIL, HealthState.DOWN)],
)
def test_unknown_is_decided_by_the_first_answer_at_once(
    first: Observation, expected: HealthState
) -> None:
    policy = HealthPolicy(healthy_threshold=5, unhealthy_threshold=5)
    m, transitions = run([first], policy, start=7.0)
    assert m.state is expected
    assert transitions == [
        Transition(source=HealthState.UNKNOWN, target=expected, at=7.0, reason=f"1 x {first}")
    ]


def test_a_new_machine_is_unknown_with_no_checks() -> None:
    m = HealthMachine()
    assert m.state is HealthState.UNKNOWN
    assert m.checks == 0
    assert m.state not in SERVING_STATES


@pytest.mark.parametrize("fall", [1, 2, 3, 5])
def test_up_goes_down_after_exactly_unhealthy_threshold_fails(fall: int) -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=fall)
    up, _ = run([OK], policy)
    almost, transitions = run([FAIL] * (fall - 1), policy, up)
    assert almost.state is HealthState.UP
    assert transitions == []
    down, transitions = run([FAIL], policy, almost)
    assert down.state is HealthState.DOWN
    assert [(t.source, t.target) for t in transitions] == [(HealthState.UP, HealthState.DOWN)]


@pytest.mark.parametrize("rise", [1, 2, 3, 5])
def test_down_comes_up_after_exactly_healthy_threshold_oks(rise: int) -> None:
    policy = HealthPolicy(healthy_threshold=rise, unhealthy_threshold=2)
    down, _ = run([FAIL], policy)
    almost, transitions = run([OK] * (rise - 1), policy, down)
    assert almost.state is HealthState.DOWN
    assert transitions == []
    up, transitions = run([OK], policy, almost)
    assert up.state is HealthState.UP
    assert [(t.source, t.target) for t in transitions] == [(HealthState.DOWN, HealthState.UP)]


@pytest.mark.parametrize("threshold", [2, 3])
@pytest.mark.parametrize("start", [OK, FAIL])
def test_interleaved_ok_and_fail_never_cross_a_threshold(
    threshold: int, start: Observation
) -> None:
    policy = HealthPolicy(healthy_threshold=threshold, unhealthy_threshold=threshold)
    first, _ = run([start], policy)
    flipping = [FAIL, OK] * 50 if start is OK else [OK, FAIL] * 50
    m, transitions = run(flipping, policy, first)
    assert transitions == []
    assert m.state is first.state


def test_degraded_observations_interleaved_with_ok_keep_an_up_machine_up() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=2)
    up, _ = run([OK], policy)
    m, transitions = run([DEG, OK] * 20, policy, up)
    assert transitions == []
    assert m.state is HealthState.UP


def test_up_becomes_degraded_after_unhealthy_threshold_degraded_reports() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=3)
    up, _ = run([OK], policy)
    seen = states_along([DEG, DEG, DEG], policy, up)
    assert seen == [HealthState.UP, HealthState.UP, HealthState.DEGRADED]


def test_degraded_comes_back_up_after_healthy_threshold_oks() -> None:
    policy = HealthPolicy(healthy_threshold=3, unhealthy_threshold=2)
    degraded, _ = run([DEG], policy)
    seen = states_along([OK, OK, OK], policy, degraded)
    assert seen == [HealthState.DEGRADED, HealthState.DEGRADED, HealthState.UP]


def test_down_comes_back_degraded_when_it_answers_degraded_healthy_threshold_times() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=2)
    down, _ = run([FAIL], policy)
    seen = states_along([DEG, DEG, OK, OK], policy, down)
    assert seen == [
        HealthState.DOWN,
        HealthState.DEGRADED,
        HealthState.DEGRADED,
        HealthState.UP,
    ]


def test_degraded_via_reported_status() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=2)
    obs = classify(ok_probe(reported_status="degraded"), policy)
    assert obs is DEG
    m, _ = run([obs], policy)
    assert m.state is HealthState.DEGRADED


def test_degraded_via_queue_wait_above_the_limit() -> None:
    policy = HealthPolicy(max_queue_wait_seconds=120.0)
    slow = classify(ok_probe(reported_status="ok", queue_wait_seconds=121.0), policy)
    assert slow is DEG
    up, _ = run([OK], policy)
    m, transitions = run([slow] * policy.unhealthy_threshold, policy, up)
    assert m.state is HealthState.DEGRADED
    assert [t.target for t in transitions] == [HealthState.DEGRADED]


def test_streaks_carry_over_so_degraded_then_fail_completes_the_fall() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=2)
    up, _ = run([OK], policy)
    m, transitions = run([DEG, FAIL], policy, up)
    assert m.state is HealthState.DEGRADED
    assert [(t.source, t.target) for t in transitions] == [(HealthState.UP, HealthState.DEGRADED)]
    m, transitions = run([FAIL], policy, m)
    assert m.state is HealthState.DOWN
    assert [(t.source, t.target) for t in transitions] == [(HealthState.DEGRADED, HealthState.DOWN)]


def test_checks_count_observations_and_since_marks_the_last_transition() -> None:
    policy = HealthPolicy(healthy_threshold=2, unhealthy_threshold=2)
    m, _ = run([OK, OK, OK, FAIL, FAIL, FAIL], policy, start=10.0)
    assert m.checks == 6
    assert m.state is HealthState.DOWN
    assert m.since == 14.0  # the second FAIL, at 10 + 4


def test_observe_does_not_mutate_the_machine() -> None:
    m = HealthMachine()
    m2, _ = m.observe(OK, now=1.0, policy=POLICY)
    assert m == HealthMachine()
    assert m2 is not m


def test_thresholds_below_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        HealthPolicy(healthy_threshold=0)
    with pytest.raises(ValueError, match="thresholds"):
        HealthPolicy(unhealthy_threshold=0)
