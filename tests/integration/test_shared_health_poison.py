"""Poisoned reports in Redis (issue 15, docs/replicas.md: anything malformed "is dropped"):
two front doors on one real redis-server, with bad reports stored under
`sb:health:replica:<id>` (listed in `sb:health:replicas`, as a replica writes its own)
and pushed on the channel. Before the fix, a number no float can hold or JSON nested past
the recursion limit raised out of `report_of`; stored, it raised at every read of the
stored reports, so no replica's listener ever came up and sharing stopped for good.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from failover import shared_health
from failover.peers import Report, report_of
from failover.routing import SELF_HELP
from failover.shared_health import CHANNEL, INDEX, KEY_PREFIX
from tests.support.redis import RedisServer
from tests.support.replicas import CENTER, Replicas, running_replicas
from tests.support.stack import wait_for

EXTRA = "[routing]\nhold_down_ms = 500\n"
HEAD = '{"v":1,"replica":"%s","boot":"b","seq":1,"centers":'
HUGE = "1" + "0" * 400  # an integer no float can hold
POISONS = {
    "evil-huge": HEAD % "evil-huge" + f'{{"{CENTER}":{{"state":"down","episode":{HUGE}}}}}}}',
    "evil-deep": HEAD % "evil-deep" + "[" * 20_000 + "]" * 20_000 + "}",
}


async def store_poison(url: str, names: list[str]) -> None:
    client = Redis.from_url(url)
    try:
        for name in names:
            await client.set(KEY_PREFIX + name, POISONS.get(name, HEAD % name + "{}}"))
            await client.sadd(INDEX, name)
        for poison in POISONS.values():
            await client.publish(CHANNEL, poison)
    finally:
        await client.aclose()


async def follows_the_other(replicas: Replicas) -> None:
    """r1 alone loses its path to the call center; r0 takes its word within a second."""
    r0, r1 = replicas.members
    mark = time.monotonic()
    await r1.fault.set_mode("refuse")
    await wait_for(lambda: r1.destination == SELF_HELP, within=3, what="r1 in self-help")
    await wait_for(lambda: r0.moved_to(SELF_HELP, after=mark) is not None, within=1,
                   what="r0 follows r1 (rule 1)")  # fmt: skip
    assert all(r.shared is not None and r.shared.connected for r in replicas)


async def test_stored_and_pushed_poison_is_dropped_and_the_replicas_still_share(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    await store_poison(redis_server.url, list(POISONS))
    # running_replicas waits (10 s at most) until each replica is connected and hears
    # the other: before the fix, the listener raised at every read of the stored reports.
    async with running_replicas(tmp_path, redis_url=redis_server.url, count=2,
                                extra=EXTRA) as replicas:  # fmt: skip
        await store_poison(redis_server.url, [])  # pushed again, while they listen
        await follows_the_other(replicas)


async def test_a_stored_report_that_raises_is_skipped_and_the_others_are_read(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever raises while one stored report is taken (here a stand-in for a bug),
    # the reports stored after it are still read, at start and after every reconnect.
    def raising(raw: bytes | str) -> Report | None:
        if b"evil-bug" in (raw if isinstance(raw, bytes) else raw.encode()):
            raise RuntimeError("a bug while taking one stored report")
        return report_of(raw)

    monkeypatch.setattr(shared_health, "report_of", raising)
    await store_poison(redis_server.url, ["evil-bug"])
    async with running_replicas(tmp_path, redis_url=redis_server.url, count=2,
                                extra=EXTRA) as replicas:  # fmt: skip
        await follows_the_other(replicas)
