"""The callback machinery's lifetime: queue, dispatcher, spool mover, backlog sampler.

`CallbackRuntime.start` checks the Redis durability settings (and says loudly when a
202 would not survive a Redis crash), then runs three named tasks:

- the dispatcher (`dispatcher.Dispatcher.run`);
- the spool mover: once a second, while anything is spooled, hand it to Redis (also
  what the spool files of another worker layout hold, adopt.py);
- the backlog sampler: once a second, the counts the metrics and `/status` show;
- the form secret's check (formsecret.py): every few seconds, agree on the secret that
  signs callback forms with the other replicas, through Redis.

`stop` cancels them and closes the spool and the stream's own client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from failover.callbacks.adopt import Adopted
from failover.callbacks.dispatcher import Dispatcher
from failover.callbacks.formsecret import SYNC_EVERY_S, FormSecrets
from failover.callbacks.queue import CallbackQueue
from failover.callbacks.spool import Spool, SpoolError
from failover.callbacks.stream import CallbackStream, QueueUnavailable
from kernel.tasks import cancel_and_wait
from monitoring.callbacks import BacklogSample

log = logging.getLogger("switchboard.callbacks")

SAMPLE_EVERY: Final = 1.0
MOVE_EVERY: Final = 1.0


async def durability(redis: Redis) -> str:
    """How a Redis write survives: "aof always", "aof everysec", "aof no", "no aof", or
    "unknown" (CONFIG refused, as managed services often do)."""
    try:
        config = await redis.config_get("append*")
    except RedisError:
        return "unknown"
    if config.get("appendonly") != "yes":
        return "no aof"
    return f"aof {config.get('appendfsync', '?')}"


class CallbackRuntime:
    def __init__(
        self,
        *,
        redis: Redis,
        stream: CallbackStream,
        spool: Spool,
        queue: CallbackQueue,
        dispatcher: Dispatcher,
        secrets: FormSecrets | None = None,
        adopted: Adopted | None = None,
    ) -> None:
        self._redis = redis
        self.secrets = secrets if secrets is not None else FormSecrets()
        self.stream = stream
        self.spool = spool
        self.queue = queue
        self.dispatcher = dispatcher
        self.adopted = adopted  # another worker layout's spool files (adopt.py)
        self.sample: BacklogSample | None = None
        self.durability = "unknown"
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.durability = await durability(self._redis)
        if self.durability not in ("aof always", "aof everysec", "unknown"):
            log.error(
                "callbacks: Redis runs with %s: an accepted callback can be lost when Redis "
                "restarts; see docs/callbacks.md, 'Callback durability'",
                self.durability,
            )
        try:
            await self.stream.ensure_group()
        except QueueUnavailable as exc:
            log.warning("callbacks: Redis not ready at start (%s); will retry", exc)
        # Before the first form is served, so a form from this process verifies anywhere.
        await self.secrets.sync(self._redis)
        self._spawn(self._dispatch(), "callbacks-dispatcher")
        self._spawn(self._move_loop(), "callbacks-spool-mover")
        self._spawn(self._sample_loop(), "callbacks-backlog")
        if not self.secrets.configured:
            self._spawn(self._secret_loop(), "callbacks-form-secret")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        self.spool.close()
        if self.adopted is not None:
            self.adopted.close()
        await self.stream.aclose()

    async def _dispatch(self) -> None:
        while True:
            try:
                await self.stream.ensure_group()  # again after a Redis that lost its data
                break
            except QueueUnavailable:
                await asyncio.sleep(MOVE_EVERY)
        await self.dispatcher.run()

    async def _move_loop(self) -> None:
        while True:
            if self.adopted is not None and self.adopted.busy and await self.adopted.move():
                self.dispatcher.wake.set()
            if self.queue.spooled or self.queue.deletes_pending:
                try:
                    if await self.queue.move_spooled():
                        self.dispatcher.wake.set()
                except (QueueUnavailable, SpoolError) as exc:
                    log.info("callbacks: spool not moved yet: %s", exc)
            await asyncio.sleep(MOVE_EVERY)

    async def _secret_loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY_S)
            await self.secrets.sync(self._redis)

    async def _sample_loop(self) -> None:
        while True:
            await self.take_sample()
            await asyncio.sleep(SAMPLE_EVERY)

    async def take_sample(self) -> BacklogSample:
        oldest: list[float] = []
        spooled = self.queue.spooled + (self.adopted.spooled if self.adopted else 0)
        if spooled:
            with contextlib.suppress(SpoolError):
                first = await asyncio.to_thread(self.spool.oldest, 1)
                oldest += [item.created_at for item in first]
        previous = self.sample
        try:
            backlog = await self.stream.backlog()
        except QueueUnavailable:  # keep the last known Redis figures, marked down
            if previous is not None and previous.oldest_created_at is not None:
                oldest.append(previous.oldest_created_at)
            sample = BacklogSample(
                pending=previous.pending if previous else 0,
                spooled=spooled,
                dead=previous.dead if previous else 0,
                oldest_created_at=min(oldest) if oldest else None,
                redis_ok=False,
            )
        else:
            if backlog.oldest_created_at is not None:
                oldest.append(backlog.oldest_created_at)
            sample = BacklogSample(
                pending=backlog.pending,
                spooled=spooled,
                dead=backlog.dead,
                oldest_created_at=min(oldest) if oldest else None,
                redis_ok=True,
            )
        self.sample = sample
        return sample
