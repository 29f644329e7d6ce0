"""GCRA: a burst, then one per interval; never more in any window; an exact wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.limits.gcra import Outcome, Rule, Verdict, decide
from kernel.limits.script import verdict_of

RULE = Rule(burst=5, per_hour=60)  # one a minute after 5 back to back


def run(rule: Rule, times: list[int]) -> list[Verdict]:
    tat: int | None = None
    out = []
    for now in times:
        verdict, new = decide(tat, now, rule)
        if new is not None:
            tat = new
        out.append(verdict)
    return out


def test_a_burst_is_allowed_back_to_back_then_one_more_per_interval() -> None:
    verdicts = run(RULE, [0] * 6)
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    assert verdicts[-1] == Verdict(Outcome.LIMITED, 60_000)
    assert verdicts[-1].retry_after_s == 60
    later = run(RULE, [0] * 5 + [60_000, 60_000])
    assert [v.allowed for v in later] == [True] * 6 + [False]


def test_an_idle_client_gets_its_whole_burst_back() -> None:
    assert all(v.allowed for v in run(RULE, [0] * 5 + [300_000] * 5))


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert Verdict(Outcome.LIMITED, 1).retry_after_s == 1
    assert Verdict(Outcome.LIMITED, 1001).retry_after_s == 2


@pytest.mark.parametrize(("burst", "per_hour"), [(0, 10), (1, 0), (1, 3_600_001)])
def test_a_rule_that_allows_nothing_or_is_finer_than_a_millisecond_is_refused(
    burst: int, per_hour: int
) -> None:
    with pytest.raises(ValueError, match="burst"):
        Rule(burst=burst, per_hour=per_hour)


def test_the_script_answers_map_to_verdicts() -> None:
    assert verdict_of(0).allowed
    assert verdict_of(-1).outcome is Outcome.REPEAT
    assert verdict_of(-2).outcome is Outcome.SATURATED
    assert verdict_of(1500) == Verdict(Outcome.LIMITED, 1500)
    with pytest.raises(ValueError, match="unexpected"):
        verdict_of(-3)


rules = st.builds(Rule, burst=st.integers(1, 50), per_hour=st.integers(1, 36_000))
arrivals = st.lists(st.integers(0, 20_000_000), max_size=300).map(sorted)


@given(rules, arrivals)
def test_no_window_ever_admits_more_than_the_burst_plus_what_refilled(
    rule: Rule, times: list[int]
) -> None:
    allowed = [t for t, v in zip(times, run(rule, times), strict=True) if v.allowed]
    # GCRA's bound: in any span [a, b], at most burst + (b - a) / interval allowed.
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            assert j - i + 1 <= rule.burst + (allowed[j] - start) // rule.interval_ms


@given(rules, arrivals)
def test_a_refused_request_is_allowed_exactly_when_its_wait_is_over(
    rule: Rule, times: list[int]
) -> None:
    tat: int | None = None
    for now in times:
        verdict, new = decide(tat, now, rule)
        if verdict.allowed:
            tat = new
            continue
        wait = verdict.retry_after_ms
        assert decide(tat, now + wait, rule)[0].allowed
        assert not decide(tat, now + wait - 1, rule)[0].allowed


@given(rules, st.integers(0, 10**13))
def test_a_client_that_paces_itself_at_the_rate_is_never_refused(rule: Rule, start: int) -> None:
    times = [start + i * rule.interval_ms for i in range(200)]
    assert all(v.allowed for v in run(rule, times))
