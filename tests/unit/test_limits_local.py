"""Per-process limits (what decides while Redis does not answer) and the view log:
bounded memory, counted once per window, the same GCRA as in Redis."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cache.views import ViewLog
from failover.limits_wiring import policies
from kernel.limits.gcra import Outcome, Rule
from kernel.limits.local import LocalLimits, Policy
from tests.support.settings import assert_problem, load, problems

CENTER = '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def ms(self) -> int:
        return int(self.now * 1000)


def test_a_pair_counts_once_per_window_then_again() -> None:
    clock = Clock()
    local = LocalLimits(Policy(rule=Rule(burst=10, per_hour=60), once_ms=60_000), 100, clock)
    assert local.decide("4:198.51.100.1", 7, clock.ms(), True).allowed
    assert local.decide("4:198.51.100.1", 7, clock.ms(), True).outcome is Outcome.REPEAT
    assert local.decide("4:198.51.100.2", 7, clock.ms(), True).allowed  # another client
    assert local.decide("4:198.51.100.1", 8, clock.ms(), True).allowed  # another bulletin
    clock.now += 61
    assert local.decide("4:198.51.100.1", 7, clock.ms(), True).allowed


def test_a_client_over_its_limit_is_told_when_to_come_back() -> None:
    clock = Clock()
    local = LocalLimits(Policy(rule=Rule(burst=3, per_hour=60)), 100, clock)
    verdicts = [local.decide("4:198.51.100.1", None, clock.ms(), True) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after_s == 60
    assert local.decide("4:198.51.100.1", None, clock.ms(), False).allowed  # limits off
    clock.now += 60
    assert local.decide("4:198.51.100.1", None, clock.ms(), True).allowed


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 50)), max_size=500))
def test_memory_stays_bounded_whatever_the_clients(pairs: list[tuple[int, int]]) -> None:
    clock = Clock()
    local = LocalLimits(
        Policy(rule=Rule(burst=2, per_hour=3600), once_ms=3_600_000), entries=64, timer=clock
    )
    for client, subject in pairs:
        local.decide(f"4:10.0.{client // 256}.{client % 256}", subject, clock.ms(), True)
        clock.now += 0.001
    assert len(local.tats) <= 64
    assert len(local.seen) <= 64


def test_the_view_log_keeps_distinct_pairs_and_is_bounded() -> None:
    log = ViewLog(max_pairs=3)
    for _ in range(300):
        log.note(7, "4:198.51.100.1")  # 300 views of one bulletin by one client: one pair
    log.note(8, "4:198.51.100.1")
    log.note(7, "4:198.51.100.2")
    log.note(9, "4:198.51.100.3")  # a fourth pair does not fit
    log.note(7, "4:198.51.100.1")  # one already there is not a drop
    assert log.dropped == 1
    pairs, hot = log.drain()
    assert pairs == {(7, "4:198.51.100.1"), (8, "4:198.51.100.1"), (7, "4:198.51.100.2")}
    assert hot == 0
    assert log.drain() == (set(), 0)


def test_limits_are_on_by_default_sized_for_a_carrier_grade_nat(tmp_path: Path) -> None:
    limits = load(tmp_path, CENTER).limits
    assert limits.enabled
    assert limits.callbacks_burst >= 50  # 50 customers behind one address, one each
    rules = policies(limits)
    assert all(p.rule.burst >= 50 for p in rules.values())
    assert {p.once_ms for p in rules.values()} == {0, 3_600_000, 86_400_000}


def test_limits_are_read_from_the_environment(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_LIMITS__CALLBACKS_BURST": "7", "SWITCHBOARD_LIMITS__ENABLED": "false"}
    limits = load(tmp_path, CENTER, env=env).limits
    assert (limits.callbacks_burst, limits.enabled) == (7, False)


def test_bad_limits_name_the_key(tmp_path: Path) -> None:
    text = CENTER + "[limits]\ncallbacks_burst = 0\nipv6_prefix = 8\nviews_per_hour = 0\n"
    found = problems(tmp_path, text)
    assert_problem(found, tmp_path, "limits.callbacks_burst", "at least 1")
    assert_problem(found, tmp_path, "limits.ipv6_prefix", "at least 32")
    assert_problem(found, tmp_path, "limits.views_per_hour", "at least 1")


def test_checks_on_their_way_to_redis_count_as_let_through_when_deciding_alone() -> None:
    clock, client = Clock(), "4:198.51.100.1"
    local = LocalLimits(Policy(rule=Rule(burst=3, per_hour=30)), 100, clock)  # 120 s each
    local.follow(client, None, local.decide(client, None, clock.ms(), True), clock.ms())
    local.ask([(client, None)] * 2, +1)  # two more asked of Redis, no answer yet
    refused = local.decide(client, None, clock.ms(), True)
    assert refused.outcome is Outcome.LIMITED
    assert 0 < refused.retry_after_ms <= 120_000  # known once those answers are
    local.ask([(client, None)] * 2, -1)  # they came back (refused, say)
    assert local.decide(client, None, clock.ms(), True).allowed


def test_a_client_let_through_alone_has_a_lead_that_shrinks_with_time() -> None:
    clock = Clock()
    local = LocalLimits(Policy(rule=Rule(burst=3, per_hour=30)), 100, clock)  # 120 s each
    a, b = "4:198.51.100.1", "4:198.51.100.2"
    for _ in range(2):
        assert local.decide(a, None, clock.ms(), True).allowed
        local.let_through_alone(a)
    assert local.decide(b, None, clock.ms(), True).allowed  # b: not let through alone
    items = [(a, None), (b, None), (a, None)]
    assert local.leads(items, clock.ms()) == [240_000, 0, 0]  # a's, on its first item
    clock.now += 100  # the allowance grows; the lead shrinks
    assert local.leads(items, clock.ms()) == [140_000, 0, 0]
    local.told(items)
    assert local.leads(items, clock.ms()) == [0, 0, 0]


def test_a_pair_on_its_way_to_redis_is_a_repeat_when_deciding_alone() -> None:
    clock, client = Clock(), "4:198.51.100.1"
    local = LocalLimits(Policy(rule=Rule(burst=10, per_hour=60), once_ms=60_000), 100, clock)
    local.ask([(client, 7)], +1)  # a vote for bulletin 7 asked of Redis, no answer yet
    assert local.decide(client, 7, clock.ms(), True).outcome is Outcome.REPEAT
    assert local.decide(client, 8, clock.ms(), True).allowed  # another bulletin
    local.ask([(client, 7)], -1)
    assert local.decide(client, 7, clock.ms(), True).allowed
