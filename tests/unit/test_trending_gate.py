""" "Trending now" ranks only what enough distinct customers read and that says something
(issue 19: a handful of views in a short session put "ok click" on top)."""

from __future__ import annotations

from datetime import UTC, datetime

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer
from cache.model import Bulletin
from cache.ranking import TrendingGate
from cache.runtime import SelfHelpRuntime
from cache.service import SelfHelpService
from tests.support.clock import FakeClock

ANSWER = (
    "<p>Unplug the router for thirty seconds, plug it back in, and wait until the light "
    "turns steady green before you try the wifi again.</p>"
)


def bulletin(bid: int, body: str, title: str = "Wifi drops") -> Bulletin:
    return Bulletin(
        id=bid, title=title, slug="wifi", author="ann", author_name="Ann", category="Internet",
        tags=(), excerpt=body[:40], body_html=body, created_at=datetime(2026, 12, 24, tzinfo=UTC),
        updated_at=datetime(2026, 12, 24, tzinfo=UTC),
    )  # fmt: skip


def runtime_with(bulletins: list[Bulletin], gate: TrendingGate) -> SelfHelpRuntime:
    clock = FakeClock()
    service = SelfHelpService(
        origin=None, store=None, policy=FreshnessPolicy(),
        count_lookup=lambda tier, result, amount=1: None, hits=HitBuffer(), clock=clock,
    )  # fmt: skip
    service.load(bulletins, clock.epoch(), "snapshot")
    return SelfHelpRuntime(service, store=None, snapshot=None, flusher=None, gate=gate, clock=clock)


def test_the_gate_needs_both_enough_views_and_enough_text() -> None:
    gate = TrendingGate(min_views=5, min_chars=100)
    assert gate.admits(5.0, lambda: 100)
    assert gate.admits(4.96, lambda: 100)  # five views, one of them a minute old
    assert not gate.admits(4.9, lambda: 10_000)
    assert not gate.admits(500.0, lambda: 99)


def test_the_body_is_not_parsed_when_the_views_do_not_suffice() -> None:
    def parse() -> int:
        raise AssertionError("parsed")

    assert not TrendingGate(min_views=5).admits(1.0, parse)


def test_ok_click_read_by_a_few_in_a_short_session_does_not_lead_trending() -> None:
    ok_click = bulletin(1, "<p>ok click</p>", title="ok click")
    answer = bulletin(2, ANSWER)
    runtime = runtime_with([ok_click, answer], TrendingGate(min_views=5, min_chars=100))
    # Decayed view counts as the store returns them: "ok click" read by 3 customers.
    assert runtime._boosted({1: 3.0, 2: 2.0}) == []
    # Read by many, it still says nothing: never trending; the answer is.
    assert runtime._boosted({1: 40.0, 2: 6.0}) == [2]
    assert [b.id for b in runtime.service.trending(5)] == []  # not refreshed: nothing
    runtime.service.trending_ids = runtime._boosted({1: 40.0, 2: 6.0})
    assert [b.id for b in runtime.service.trending(5)] == [2]


def test_with_a_gate_of_one_view_and_no_text_every_read_bulletin_may_trend() -> None:
    runtime = runtime_with(
        [bulletin(1, "<p>ok click</p>"), bulletin(2, ANSWER)],
        TrendingGate(min_views=1, min_chars=0),
    )
    assert runtime._boosted({1: 3.0, 2: 2.0}) == [1, 2]
