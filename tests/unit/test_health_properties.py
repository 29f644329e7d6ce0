"""Properties of the rise/fall machine over random observation sequences and policies."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from failover.health import (
    HealthMachine,
    HealthPolicy,
    HealthState,
    Observation,
)
from tests.support.health_machine import DEG, FAIL, OK, run, states_along

# --- properties --------------------------------------------------------------------

observations = st.lists(st.sampled_from(list(Observation)), max_size=40)
policies = st.builds(
    HealthPolicy,
    healthy_threshold=st.integers(min_value=1, max_value=5),
    unhealthy_threshold=st.integers(min_value=1, max_value=5),
)


def trailing(seq: Sequence[Observation], allowed: frozenset[Observation]) -> int:
    n = 0
    for obs in reversed(seq):
        if obs not in allowed:
            break
        n += 1
    return n


@settings(max_examples=100)
@given(seq=observations, policy=policies)
def test_from_down_it_never_comes_up_with_fewer_than_rise_trailing_good_answers(
    seq: list[Observation], policy: HealthPolicy
) -> None:
    m = HealthMachine()
    been_down = False
    for i, obs in enumerate(seq):
        before = m.state
        m, _ = m.observe(obs, now=float(i), policy=policy)
        if m.state is HealthState.UP and before is not HealthState.UP and been_down:
            seen = seq[: i + 1]
            assert trailing(seen, frozenset({OK, DEG})) >= policy.healthy_threshold
            # stronger: the way up is always rise OKs in a row
            assert trailing(seen, frozenset({OK})) >= policy.healthy_threshold
            been_down = False
        if m.state is HealthState.DOWN:
            been_down = True


@settings(max_examples=100)
@given(seq=observations, policy=policies)
def test_it_only_falls_to_down_after_fall_fails_in_a_row_once_known(
    seq: list[Observation], policy: HealthPolicy
) -> None:
    m = HealthMachine()
    for i, obs in enumerate(seq):
        before = m.state
        m, t = m.observe(obs, now=float(i), policy=policy)
        if t is not None and t.target is HealthState.DOWN and before is not HealthState.UNKNOWN:
            assert trailing(seq[: i + 1], frozenset({FAIL})) >= policy.unhealthy_threshold


@settings(max_examples=100)
@given(prefix=observations, policy=policies)
def test_fall_fails_in_a_row_take_any_state_down_and_rise_oks_bring_any_state_up(
    prefix: list[Observation], policy: HealthPolicy
) -> None:
    reached, _ = run(prefix, policy)
    down, _ = run([FAIL] * policy.unhealthy_threshold, policy, reached, start=len(prefix))
    assert down.state is HealthState.DOWN, reached.state
    up, _ = run([OK] * policy.healthy_threshold, policy, reached, start=len(prefix))
    assert up.state is HealthState.UP, reached.state


@settings(max_examples=100)
@given(seq=observations, policy=policies)
def test_checks_count_observations_and_transitions_report_every_change(
    seq: list[Observation], policy: HealthPolicy
) -> None:
    m = HealthMachine()
    last_change = 0.0
    for i, obs in enumerate(seq):
        before = m
        m, t = m.observe(obs, now=float(i), policy=policy)
        assert m.checks == i + 1
        if t is None:
            assert m.state is before.state
            assert m.since == before.since
        else:
            assert t.source is before.state
            assert t.target is m.state
            assert t.source is not t.target
            assert t.at == float(i)
            last_change = float(i)
    assert m.since == last_change


@settings(max_examples=100)
@given(
    seq=st.lists(st.sampled_from([DEG, FAIL]), max_size=40),
    policy=policies,
)
def test_without_a_single_ok_it_never_reaches_up(
    seq: list[Observation], policy: HealthPolicy
) -> None:
    assert HealthState.UP not in states_along(seq, policy)
