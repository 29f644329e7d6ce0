"""A callback form served by one replica is accepted by any other (issue 15): without
`[callbacks] form_secret` the replicas agree on one secret through Redis
(failover/callbacks/formsecret.py). Real redis-server, two front doors in process."""

from __future__ import annotations

import time
from pathlib import Path

from redis.asyncio import Redis

from failover.callbacks import formtoken
from failover.callbacks.formsecret import KEY, FormSecrets
from failover.callbacks.intake import INTAKE
from failover.redisconn import connect
from switchboard.callbacks_web import TOKEN_FIELD
from tests.support.callback_form import (
    FORM,
    TICKET,
    browser_like,
    config,
    open_form,
    send_form,
)
from tests.support.redis import RedisServer
from tests.support.stack import running_stack


async def test_a_form_served_by_one_replica_is_accepted_by_another(
    tmp_path: Path, redis: RedisServer
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        running_stack(tmp_path / "a", extra=config(redis)) as a,
        running_stack(tmp_path / "b", extra=config(redis)) as b,
        browser_like() as browser,  # one cookie jar: 127.0.0.1, whichever port answers
    ):
        assert a.app[INTAKE].secrets.current == b.app[INTAKE].secrets.current
        for served_by, posted_to in ((a, b), (b, a)):
            token = (await open_form(browser, served_by)).values[TOKEN_FIELD]
            status, page = await send_form(browser, posted_to, FORM | {TOKEN_FIELD: token})
            assert status == 202, page
            assert TICKET.search(page) is not None


async def test_replicas_adopt_the_first_secret_and_keep_accepting_their_own(
    redis: RedisServer,
) -> None:
    client = connect(redis.url)
    try:
        first, second = FormSecrets(), FormSecrets()
        cookie, now = formtoken.new_cookie(), time.time()
        early = formtoken.issue(second.current, cookie, now)  # served before Redis answered
        assert await first.sync(client)
        assert await second.sync(client)
        assert second.current == first.current == await client.get(KEY)
        assert second.shared
        # A form the second replica signed with its own secret before it adopted the
        # shared one is still accepted by it...
        assert second.verify(cookie, early, now, max_age=60).ok
        # ...and a form signed with the shared secret is accepted by both.
        shared = formtoken.issue(first.current, cookie, now)
        assert first.verify(cookie, shared, now, max_age=60).ok
        assert second.verify(cookie, shared, now, max_age=60).ok
        # A token under a secret nobody holds is refused, with the current secret's reason.
        forged = formtoken.issue(b"x" * 32, cookie, now)
        assert second.verify(cookie, forged, now, max_age=60).reason is formtoken.Reason.FORGED
    finally:
        await client.aclose(close_connection_pool=True)


async def test_a_secret_redis_lost_is_set_again_from_the_one_in_use(
    redis: RedisServer,
) -> None:
    client = connect(redis.url)
    try:
        replica = FormSecrets()
        assert await replica.sync(client)
        in_use = replica.current
        await client.delete(KEY)  # a restart without data, or a failover before replication
        assert await replica.sync(client)
        assert await client.get(KEY) == in_use
        assert replica.current == in_use
    finally:
        await client.aclose(close_connection_pool=True)


async def test_a_process_keeps_its_own_secret_without_redis_and_a_configured_one_skips_it(
    redis: RedisServer,
) -> None:
    dead = Redis(host="127.0.0.1", port=redis.port, socket_timeout=0.5)
    own = FormSecrets()
    before = own.current
    await redis.stop()
    try:
        assert not await own.sync(dead)
        assert own.current == before
        assert not own.shared
    finally:
        await dead.aclose()
    await redis.start()
    client = connect(redis.url)
    try:
        configured = FormSecrets(b"c" * 32)
        assert await configured.sync(client)
        assert configured.current == b"c" * 32
        assert await client.get(KEY) is None
    finally:
        await client.aclose(close_connection_pool=True)
