"""Replicas that act as one (issue 15): three front doors, one real redis-server, one real
call center, each replica probing it through a TCP fault proxy of its own.

Measured: for each replica, when its routing moved (the pool's `RouteChange`, which the
customers' requests and the probes decide); the spread is the last minus the first. The
probes run at the default 250 ms interval (jitter 0.1, timeout 200 ms, rise and fall 2),
so replicas probing on their own notice a death up to about one interval apart; sharing
should move them all within moments of the first. The figures are printed (pytest -s);
they are noisy on a shared machine, the bound asserted is one probe interval.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from failover.health import HealthState
from failover.peers import HoldKind
from failover.pool import Ejected
from failover.routing import SELF_HELP
from kernel.breaker import Outcome
from tests.integration.test_metrics_scenarios import scrape, value
from tests.support.redis import RedisServer
from tests.support.replicas import (
    CENTER,
    Customers,
    Replica,
    Replicas,
    running_replicas,
    spread,
)
from tests.support.stack import wait_for

INTERVAL = 0.25  # [health] interval_ms default
HOLD_DOWN = 0.5
# The probes decide here: with customers every 20 ms, passive detection would eject the
# call center (3 local failures) before any probe noticed; ejections are shared too, and
# have a test of their own below.
PROBES_ONLY = "[outlier]\nconsecutive_local_failures = 1000\nconsecutive_5xx = 1000\n"
EXTRA = f"[routing]\nhold_down_ms = {int(HOLD_DOWN * 1000)}\n"
ROUNDS = 2


def own_health(r: Replica) -> HealthState:
    return r.pool.snapshot().members[0].machine.state


def report(line: str) -> None:
    print(f"\n{line}")  # noqa: T201 - the measured figures, for the reader of the run


async def outage_and_return(replicas: Replicas, label: str) -> tuple[float, float]:
    """Take the call center down for everyone, then bring it back; the two spreads."""
    await asyncio.sleep(0.3)  # customers served by the call center for a moment first
    mark = time.monotonic()
    await replicas.sim.set_mode("down")
    await wait_for(lambda: replicas.all_at(SELF_HELP), within=5, what="all in self-help")
    down = spread(replicas.moves(SELF_HELP, after=mark))
    # An outage longer than a blip: every replica's own probes see it too.
    await wait_for(lambda: all(own_health(r) is HealthState.DOWN for r in replicas),
                   within=5, what="every replica's own probes down")  # fmt: skip
    mark = time.monotonic()
    await replicas.sim.set_mode("up")
    await wait_for(lambda: replicas.all_at(CENTER), within=5, what="all back")
    back = spread(replicas.moves(CENTER, after=mark))
    report(f"[{label}] spread going to self-help {down * 1000:.1f} ms, "
           f"coming back {back * 1000:.1f} ms")  # fmt: skip
    return down, back


@pytest.mark.parametrize("sharing", [True, False], ids=["sharing", "alone"])
async def test_replicas_fail_over_and_come_back_within_one_probe_interval(
    tmp_path: Path, redis_server: RedisServer, sharing: bool
) -> None:
    async with (
        running_replicas(tmp_path, redis_url=redis_server.url, extra=EXTRA + PROBES_ONLY,
                         sharing=sharing, stagger=INTERVAL / 3) as replicas,
        Customers(replicas=replicas) as customers,
    ):  # fmt: skip
        spreads = [
            await outage_and_return(replicas, f"{'sharing' if sharing else 'alone'} {i}")
            for i in range(ROUNDS)
        ]
    assert customers.failures() == {}, "a customer saw a 5xx or no answer"
    assert customers.locations == {"/help/search?q=billing"}
    for codes in customers.codes.values():
        assert codes[303], codes  # every replica sent customers both ways
        assert codes[200], codes
    if sharing:
        for down, back in spreads:
            assert down <= INTERVAL, spreads
            assert back <= INTERVAL, spreads


async def test_one_replica_that_cannot_reach_a_call_center_does_not_keep_it_from_the_others(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with running_replicas(tmp_path, redis_url=redis_server.url, extra=EXTRA) as replicas:
        cut, *others = replicas.members
        mark = time.monotonic()
        await cut.fault.set_mode("refuse")  # only r0's path is broken
        await wait_for(lambda: cut.destination == SELF_HELP, within=3, what="r0 in self-help")
        await wait_for(lambda: all(r.moved_to(SELF_HELP, after=mark) for r in others),
                       within=1, what="the others take r0's word")  # fmt: skip
        # The others take r0's word at once, then their own passing probes refute it:
        # back on the call center after about rise x interval + hold-down.
        took = await wait_for(
            lambda: all(r.destination == CENTER and r.pool.snapshot().members[0].peer is None
                        for r in others),
            within=HOLD_DOWN + 6 * INTERVAL + 1.0, what="the others back on the call center",
        )  # fmt: skip
        report(f"[asymmetric] the others back on the call center after {took * 1000:.0f} ms")
        # r0 keeps saying DOWN (a heartbeat every refresh): the others stay put.
        await asyncio.sleep(2.5)
        assert all(r.destination == CENTER for r in others)
        assert cut.destination == SELF_HELP
        assert all(r.shared is not None for r in others)
        assert all(r.shared.book.verdicts(CENTER, now=time.monotonic())["r0"].state == "down"
                   for r in others if r.shared is not None)  # fmt: skip


async def test_a_peers_ejection_is_held_for_its_time_then_lifted(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    extra = EXTRA + "[outlier]\nbase_ejection_time_ms = 1500\nconsecutive_5xx = 3\n"
    async with running_replicas(tmp_path, redis_url=redis_server.url, extra=extra) as replicas:
        first, *others = replicas.members
        assert first.shared is not None
        # Three customers' 5xx on r0 (recorded as the proxy records them) eject it there.
        now = time.monotonic()
        events = [
            e
            for _ in range(3)
            for e in first.pool.record_outcome(CENTER, Outcome.BACKEND_FAILURE, now=now)
        ]
        assert any(isinstance(e, Ejected) for e in events)
        first.shared.on_events(events)  # what the event sink tells it
        mark = time.monotonic()
        await wait_for(
            lambda: all(
                (m := r.pool.snapshot().members[0]).peer is not None
                and m.peer.kind is HoldKind.EJECTED for r in others
            ),
            within=2, what="the others hold r0's ejection",
        )  # fmt: skip
        await wait_for(
            lambda: all(r.pool.snapshot().members[0].peer is None for r in others),
            within=4,
            what="the ejection lifted on the others",
        )
        assert all(r.moved_to(SELF_HELP, after=mark - 0.1) is not None for r in others)


async def test_cut_off_from_redis_replicas_decide_alone_and_rejoin_when_it_returns(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        running_replicas(
            tmp_path, redis_url=redis_server.url, extra=EXTRA + PROBES_ONLY
        ) as replicas,
        Customers(replicas=replicas) as customers,
    ):
        await redis_server.stop()
        await wait_for(lambda: not any(r.shared and r.shared.connected for r in replicas),
                       within=5, what="every replica cut off")  # fmt: skip
        # Alone, on their own probes: out and back, customers never see a 5xx.
        await outage_and_return(replicas, "redis gone")
        await redis_server.start()  # same port, empty: nothing stored survived
        took = await wait_for(lambda: replicas.connected(2), within=10, what="rejoined")
        report(f"[redis back] every replica connected and hearing both peers in "
               f"{took * 1000:.0f} ms")  # fmt: skip
        assert replicas.all_at(CENTER)  # no stale verdict holds the call center
        down, back = await outage_and_return(replicas, "rejoined")
        assert down <= INTERVAL
        assert back <= INTERVAL
    assert customers.failures() == {}, "a customer saw a 5xx or no answer"


async def test_the_operator_status_and_the_metrics_show_the_peers(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    token = "t" * 32
    async with (
        running_replicas(tmp_path, redis_url=redis_server.url, extra=EXTRA + PROBES_ONLY,
                         stagger=INTERVAL / 3, token=token) as replicas,
        aiohttp.ClientSession() as s,
    ):  # fmt: skip
        await replicas.sim.set_mode("down")
        await wait_for(lambda: all(own_health(r) is HealthState.DOWN for r in replicas),
                       within=5, what="every replica's own probes down")  # fmt: skip
        r1 = replicas.members[1]
        assert r1.shared is not None
        book = r1.shared.book
        await wait_for(lambda: all(v.state is HealthState.DOWN
                                   for v in book.verdicts(CENTER, now=time.monotonic()).values()),
                       within=2, what="r1 heard both peers' DOWN")  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        async with s.get(f"{r1.ops_url}/api/v1/status", headers=auth) as resp:
            peers = (await resp.json())["peers"]
        assert (peers["replica"], peers["connected"]) == ("r1", True)
        assert {p["replica"]: p["verdicts"] for p in peers["peers"]} == {
            "r0": {CENTER: "down"}, "r2": {CENTER: "down"},
        }  # fmt: skip
        async with s.get(f"{r1.ops_url}/api/v1/status") as resp:
            assert "peers" not in await resp.json()  # replica names are operator-only
        scraped = [await scrape(r.ops_url) for r in replicas]
    for series in scraped:
        assert value(series, "switchboard_shared_health_connected") == 1
        assert value(series, "switchboard_shared_health_peers") == 2
        assert (CENTER, "rise") in {
            (dict(labels)["backend"], dict(labels)["kind"]) for name, labels in series
            if name == "switchboard_shared_health_adopted_total"
        }  # fmt: skip
    # All but the first to notice took a peer's word (unless their own probes were first).
    adopted = [value(x, "switchboard_shared_health_adopted_total", backend=CENTER, kind="down")
               for x in scraped]  # fmt: skip
    assert sum(adopted) >= 1, adopted


async def test_a_hung_redis_blocks_neither_customers_nor_probes(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        running_replicas(tmp_path, redis_url=redis_server.url,
                         extra=EXTRA + PROBES_ONLY) as replicas,
        Customers(replicas=replicas) as customers,
    ):  # fmt: skip
        redis_server.pause()  # SIGSTOP: connections stay open, nothing answers
        try:
            await wait_for(lambda: not any(r.shared and r.shared.connected for r in replicas),
                           within=5, what="every replica sees Redis gone")  # fmt: skip
            await outage_and_return(replicas, "redis hung")
        finally:
            redis_server.resume()
        await wait_for(lambda: replicas.connected(2), within=10, what="rejoined")
        down, back = await outage_and_return(replicas, "resumed")
        assert down <= INTERVAL
        assert back <= INTERVAL
    assert customers.failures() == {}, "a customer saw a 5xx or no answer"


async def test_a_replica_whose_path_flaps_moves_the_others_twice_not_on_every_flap(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with running_replicas(tmp_path, redis_url=redis_server.url, extra=EXTRA) as replicas:
        cut, *others = replicas.members
        moved = []
        for flap in range(4):
            mark = time.monotonic()
            await cut.fault.set_mode("refuse")
            await wait_for(lambda: own_health(cut) is HealthState.DOWN, within=3,
                           what=f"r0 down, flap {flap}")  # fmt: skip
            await asyncio.sleep(4 * INTERVAL)  # the others refute it (or were never moved)
            await cut.fault.set_mode("pass")
            await wait_for(lambda: own_health(cut) is HealthState.UP, within=3,
                           what=f"r0 up, flap {flap}")  # fmt: skip
            moved.append([r.moved_to(SELF_HELP, after=mark) is not None for r in others])
        report(f"[flapping path] the others moved on flaps: {moved}")
        # Followed at first, then no more: two clean refutations make a peer distrusted
        # (a probe of theirs that timed out on a busy machine does not count as one).
        assert moved[0] == [True, True]
        assert moved[-1] == [False, False]
        assert all(sum(m[i] for m in moved) <= 3 for i in range(2)), moved
        await wait_for(lambda: all(r.destination == CENTER for r in others), within=3,
                       what="the others on the call center")  # fmt: skip
