"""Redis connection for the front door: a bounded, blocking pool with timeouts.

`redis://`, `rediss://`, `unix://` go through `BlockingConnectionPool.from_url`;
`redis+sentinel://h1:26379,h2:26379/mymaster/0` asks Sentinel for the master. Both get
the same pool policy: at most `MAX_CONNECTIONS`, a caller waits `POOL_WAIT` for one
(then `ConnectionError`, which the callers' fallbacks handle), a PING on a connection
idle for `HEALTH_CHECK_S`. redis-py has no blocking Sentinel pool, so `_SentinelPool`
puts its `SentinelConnectionPool` (which asks Sentinel for the master's address on each
new connection) in front of `BlockingConnectionPool` (which bounds and waits).

Every call is bounded: socket connect/read timeouts, a pool wait timeout, and the
asyncio `Retry` with jittered backoff for transient connection errors (redis-py docs,
"Retry Helpers"). After a failover, a retry must ask Sentinel again rather than dial the
dead primary: redis-py #3874 (retries reconnect to the cached address) does not bite the
8.x line we lock (`SentinelManagedConnection.connect_to` connects without the inner retry,
so each attempt of the outer one re-reads the address from Sentinel; a demoted primary's
READONLY/UNBLOCKED answers disconnect, so the next connection asks again). The failover
test (tests/integration/test_sentinel_failover.py) checks it end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from failover.settings.validators import _parse_sentinel
from kernel.tasks import cancel_and_wait

# redis-py before 8.2 left Sentinel.__init__ unannotated (mypy strict: untyped call), 8.2
# annotates it (a `type: ignore` there is then unused, also an error). Called through a
# typed name, the call checks the same under both, whichever version the range admits.
_new_sentinel: Callable[..., Sentinel] = Sentinel

SOCKET_TIMEOUT = 0.5
POOL_WAIT = 0.5
MAX_CONNECTIONS = 32
HEALTH_CHECK_S = 15


class _SentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's master discovery with the blocking pool's bound and wait (MRO:
    SentinelConnectionPool.__init__ hands its remaining keywords to
    BlockingConnectionPool.__init__, whose get_connection/release then apply)."""

    async def aclose(self) -> None:
        # The pool is closed with its client (Redis.aclose(close_connection_pool=True));
        # the Sentinel's own clients, one per sentinel, would otherwise stay open.
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


def _retry() -> Retry:
    # A connection error (typically a pooled connection Redis closed when it restarted)
    # is retried on a fresh connection; a timeout is not: a hung Redis should cost one
    # socket timeout, after which the callers' own fallbacks (breakers, the callback
    # spool) take over.
    return Retry(
        EqualJitterBackoff(base=0.01, cap=0.2),
        retries=2,
        supported_errors=(RedisConnectionError,),
    )


def connect(url: str, *, read_timeout: float = SOCKET_TIMEOUT) -> Redis:
    """A client with its own bounded pool. `read_timeout` is how long a command's reply
    may take (connecting is always bounded by `SOCKET_TIMEOUT`): longer only for a client
    whose commands block on purpose (the callbacks' WAIT: failover/callbacks/wiring.py)."""
    if url.lower().startswith("redis+sentinel://"):
        return _via_sentinel(url, read_timeout)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT,
        socket_timeout=read_timeout,
        socket_connect_timeout=SOCKET_TIMEOUT,
        health_check_interval=HEALTH_CHECK_S,
        # On the pool, not on Redis(): redis-py ignores Redis(retry=) when it is handed
        # a connection pool, and each connection would get no retries at all.
        retry=_retry(),
    )
    return Redis(connection_pool=pool)


def _via_sentinel(url: str, read_timeout: float) -> Redis:
    target = _parse_sentinel(url)
    # The URL's credentials are the data nodes' (requirepass/ACL); sentinels are asked
    # without them (a sentinel without requirepass refuses AUTH).
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    sentinel = _new_sentinel(
        list(target.sentinels),
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        # Sentinels are asked one after another until one answers: each gets a short
        # budget, and no retries of its own (a dead sentinel is skipped, not retried).
        sentinel_kwargs={
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
        },
    )
    master = sentinel.master_for(
        target.service,
        connection_pool_class=_SentinelPool,
        db=target.db,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT,
        socket_timeout=read_timeout,
        socket_connect_timeout=SOCKET_TIMEOUT,
        health_check_interval=HEALTH_CHECK_S,
        check_connection=True,  # PING a new connection: a half-up master is found at once
        retry=_retry(),
        **auth,
    )
    return cast(Redis, master)


async def reachable(client: Redis) -> bool:
    try:
        return bool(await client.ping())
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return False


class RedisWatch:
    """Pings Redis once a second and reports the answer (for `switchboard_redis_up`)."""

    def __init__(self, client: Redis, report: Callable[[bool], None], every: float = 1.0):
        self._client = client
        self._report = report
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="redis-watch")

    async def _loop(self) -> None:
        while True:
            self._report(await reachable(self._client))
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
