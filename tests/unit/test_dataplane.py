"""Haproxy mode's pure parts: the agent's answers, the counters read back, the timeouts
and the rendered config (issue 18)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover.agentcheck import CHOSEN, RETRY, agent_answers
from failover.haproxy_config import attempt_timeouts
from failover.haproxy_stats import Counters, outcomes_between, parse_show_stat
from failover.routing import OfferSelfHelp, RouteTo, SelfHelpCause, SendToSelfHelp
from kernel.breaker import Outcome, OutlierPolicy

NAMES = ("a", "b", "c")
POLICY = OutlierPolicy(consecutive_5xx=5, consecutive_local_failures=3)


def test_chosen_is_up_the_retry_target_is_in_the_farm_and_the_rest_down() -> None:
    answers = agent_answers(RouteTo(callcenter="b", fallbacks=("c", "a")), NAMES)
    assert answers == {"b": CHOSEN, "c": RETRY, "a": "down"}


def test_without_a_fallback_only_the_chosen_one_is_up() -> None:
    assert agent_answers(RouteTo(callcenter="a"), NAMES) == {"a": CHOSEN, "b": "down", "c": "down"}


def test_self_help_and_degraded_take_every_server_down_so_switchboard_answers() -> None:
    for decision in (
        SendToSelfHelp(cause=SelfHelpCause.DOWN, reason="x"),
        OfferSelfHelp(callcenter="a", fallbacks=("b",)),
    ):
        assert set(agent_answers(decision, NAMES).values()) == {"down"}


@given(
    chosen=st.sampled_from(NAMES),
    fallbacks=st.lists(st.sampled_from(NAMES), unique=True, max_size=3),
)
def test_exactly_one_chosen_and_at_most_one_retry_target(chosen: str, fallbacks: list[str]) -> None:
    others = tuple(f for f in fallbacks if f != chosen)
    answers = agent_answers(RouteTo(callcenter=chosen, fallbacks=others), NAMES)
    assert [n for n, a in answers.items() if a == CHOSEN] == [chosen]
    retry = [n for n, a in answers.items() if a == RETRY]
    assert retry == list(others[:1])


SHOW_STAT = (
    "# pxname,svname,qcur,econ,eresp,wretr,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,status\n"
    "fe_customers,FRONTEND,,,,,0,900,5,3,0,OPEN\n"
    "be_callcenters,cc_a,0,2,1,4,0,100,2,3,7,UP\n"
    "be_callcenters,cc_b,0,,,,0,0,0,0,0,DOWN\n"
    "be_callcenters,BACKEND,0,2,1,4,0,100,2,3,7,UP\n"
    "be_other,cc_a,0,99,99,99,0,0,0,0,99,UP\n"
)


def test_show_stat_gives_the_call_centers_counters_only() -> None:
    assert parse_show_stat(SHOW_STAT, names=("a", "b")) == {
        "a": Counters(ok=105, backend=7, local=3),  # 2 + 1 + 4 retries, less 4 for the 5xx
        "b": Counters(),
    }


def test_counter_growth_becomes_outcomes_successes_first_failures_capped() -> None:
    before = Counters(ok=10, backend=0, local=0)
    after = Counters(ok=50, backend=100, local=2)
    assert outcomes_between(before, after, policy=POLICY) == (
        [Outcome.SUCCESS] + [Outcome.BACKEND_FAILURE] * 5 + [Outcome.LOCAL_FAILURE] * 2
    )


def test_counters_going_back_mean_haproxy_restarted_and_say_nothing() -> None:
    assert outcomes_between(Counters(ok=5), Counters(ok=1, local=9), policy=POLICY) == []


@given(connect=st.integers(1, 60_000), read=st.integers(1, 60_000), budget=st.integers(2, 120_000))
def test_two_attempts_fit_in_the_budget(connect: int, read: int, budget: int) -> None:
    t = attempt_timeouts(connect_ms=connect, read_ms=read, budget_ms=budget)
    assert t.connect_ms >= 1
    assert t.server_ms >= 1
    if connect + read <= budget // 2:
        assert (t.connect_ms, t.server_ms) == (connect, read)
    elif budget >= 4:
        assert 2 * (t.connect_ms + t.server_ms) <= budget
        assert t.connect_ms <= connect
