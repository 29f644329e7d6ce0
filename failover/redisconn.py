"""Redis connection for the front door: a bounded, blocking pool with timeouts.

`redis://`, `rediss://`, `unix://` go through `BlockingConnectionPool.from_url`;
`redis+sentinel://h1:26379,h2:26379/mymaster/0` asks Sentinel for the master.
Every call is bounded: socket connect/read timeouts, a pool wait timeout, and the
asyncio `Retry` with jittered backoff for transient connection errors (redis-py docs,
"Retry Helpers").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from failover.tasks import cancel_and_wait

# redis-py before 8.2 left Sentinel.__init__ unannotated (mypy strict: untyped call), 8.2
# annotates it (a `type: ignore` there is then unused, also an error). Called through a
# typed name, the call checks the same under both, whichever version the range admits.
_new_sentinel: Callable[..., Sentinel] = Sentinel

SOCKET_TIMEOUT = 0.5
POOL_WAIT = 0.5
MAX_CONNECTIONS = 32


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


def connect(url: str) -> Redis:
    if url.startswith("redis+sentinel://"):
        return _via_sentinel(url)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        health_check_interval=15,
        # On the pool, not on Redis(): redis-py ignores Redis(retry=) when it is handed
        # a connection pool, and each connection would get no retries at all.
        retry=_retry(),
    )
    return Redis(connection_pool=pool)


def _via_sentinel(url: str) -> Redis:
    parts = urlsplit(url)
    hosts = []
    for item in parts.netloc.split(","):
        host, _, port = item.rpartition(":")
        hosts.append((host or item, int(port) if port.isdigit() else 26379))
    segments = [s for s in parts.path.split("/") if s]
    service = segments[0] if segments else "mymaster"
    db = int(segments[1]) if len(segments) > 1 else 0
    sentinel = _new_sentinel(
        hosts,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        sentinel_kwargs={"socket_timeout": SOCKET_TIMEOUT},
    )
    master = sentinel.master_for(service, db=db, socket_timeout=SOCKET_TIMEOUT, retry=_retry())
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
