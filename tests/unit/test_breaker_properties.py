"""Properties of the breaker over random outcome sequences and policies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.breaker import Breaker, Outcome, OutlierPolicy
from tests.support.breaker_feed import B5, LOC, S

# --- properties --------------------------------------------------------------------

outlier_policies = st.builds(
    OutlierPolicy,
    consecutive_5xx=st.integers(min_value=1, max_value=6),
    consecutive_local_failures=st.integers(min_value=1, max_value=4),
    base_ejection_time=st.sampled_from([1.0, 10.0, 30.0]),
    max_ejection_time=st.just(300.0),
)


def without_a_full_run(seq: list[Outcome], policy: OutlierPolicy) -> list[Outcome]:
    """`seq` with a success slipped in wherever a failure would complete a run.

    Every sequence that has no full run maps to itself, so drawing any sequence and
    repairing it reaches all of them.
    """
    limit = {B5: policy.consecutive_5xx, LOC: policy.consecutive_local_failures}
    out: list[Outcome] = []
    runs = {B5: 0, LOC: 0}
    for outcome in seq:
        if outcome is not S and runs[outcome] + 1 >= limit[outcome]:
            out.append(S)
            runs = {B5: 0, LOC: 0}
            if limit[outcome] == 1:
                continue  # one alone is a full run: leave it out
        if outcome is S:
            runs = {B5: 0, LOC: 0}
        else:
            runs[outcome] += 1
        out.append(outcome)
    return out


@settings(max_examples=200)
@given(
    raw=st.lists(st.sampled_from(list(Outcome)), max_size=80),
    policy=outlier_policies,
    gap=st.sampled_from([0.0, 0.5, 7.0, 100.0]),
)
def test_without_a_full_run_of_either_kind_it_never_ejects(
    raw: list[Outcome], policy: OutlierPolicy, gap: float
) -> None:
    seq = without_a_full_run(raw, policy)
    b = Breaker()
    now = 0.0
    for outcome in seq:
        now += gap
        b, ejection = b.record(outcome, now=now, policy=policy)
        assert ejection is None
        assert not b.is_ejected(now)
    assert b.ejections_total == 0


@settings(max_examples=100)
@given(seq=st.lists(st.sampled_from(list(Outcome)), max_size=80), policy=outlier_policies)
def test_first_ejection_comes_exactly_when_a_run_reaches_its_threshold(
    seq: list[Outcome], policy: OutlierPolicy
) -> None:
    # Reference model: two counters, each reset by a success only.
    n5 = nl = 0
    expected: int | None = None
    for i, outcome in enumerate(seq):
        if outcome is S:
            n5 = nl = 0
        elif outcome is B5:
            n5 += 1
        else:
            nl += 1
        if n5 >= policy.consecutive_5xx or nl >= policy.consecutive_local_failures:
            expected = i
            break
    b = Breaker()
    got: int | None = None
    for i, outcome in enumerate(seq):
        b, ejection = b.record(outcome, now=0.0, policy=policy)
        if ejection is not None:
            got = i
            break
    assert got == expected


@settings(max_examples=100)
@given(
    seq=st.lists(st.sampled_from(list(Outcome)), max_size=100),
    policy=outlier_policies,
    gap=st.sampled_from([0.0, 0.5, 3.0, 20.0]),
)
def test_every_ejection_lasts_base_times_count_capped_and_ignores_traffic_meanwhile(
    seq: list[Outcome], policy: OutlierPolicy, gap: float
) -> None:
    b = Breaker()
    now = 0.0
    total = 0
    for outcome in seq:
        now += gap
        was_ejected = b.is_ejected(now)
        before = b
        b, ejection = b.record(outcome, now=now, policy=policy)
        if was_ejected:
            assert ejection is None
            assert b == before
        if ejection is not None:
            total += 1
            duration = ejection.until - now
            assert duration == min(
                policy.base_ejection_time * ejection.count, policy.max_ejection_time
            )
            assert ejection.count >= 1
            assert b.is_ejected(now)
            assert b.last_break() == ejection.until
    assert b.ejections_total == total
