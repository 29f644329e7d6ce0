"""Intake: a validated callback is acknowledged only once it is durable.

`submit` stores it in the Redis Stream, or, when Redis cannot take it, in the local
spool (SQLite, fsynced); `mover` hands spooled callbacks to Redis when it is back. When
neither can take it, `NotSaved` is raised, so the customer is told the truth.

Keys: the stored key is a digest of the client's idempotency key (or form token) *and*
the request, so a retry (same key, same request) finds the first entry and gets its
ticket, while two customers who happen to send the same key never swallow each
other's request.

Order: while anything is spooled, new callbacks are spooled behind it, so the stream
receives them in the order customers asked. Durability comes before order: when the
spool cannot take a callback (disk full, remounted read-only), Redis is tried before
the customer is refused, and a callback it takes goes ahead of those still spooled.

Errors::

    Exception
     └── NotSaved   neither Redis nor the spool could store the callback
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from failover.callbacks.request import CallbackRequest, ticket_id
from failover.callbacks.spool import Spool, SpoolError
from failover.callbacks.stream import CallbackStream, NotReplicated, QueueUnavailable
from kernel.clock import Clock

log = logging.getLogger("switchboard.callbacks")

REDIS_RETRY_AFTER: Final = 1.0  # after Redis failed, go straight to the spool this long
MOVE_BATCH: Final = 200


class NotSaved(Exception):  # noqa: N818 - reads as the condition it is
    """Neither Redis nor the spool could store the callback (message names both causes)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    ticket: str
    stored: Literal["redis", "spool"]
    new: bool  # False: a retry of a callback already stored


def entry_key(idempotency_key: str, request: CallbackRequest) -> str:
    """The key a callback is stored and delivered under (`Idempotency-Key` at the call
    center): the client's key bound to what was asked."""
    digest = hashlib.sha256(
        idempotency_key.encode("utf-8", "surrogatepass") + b"\x00" + request.to_json().encode()
    ).hexdigest()
    return digest[:32]


class CallbackQueue:
    def __init__(
        self,
        stream: CallbackStream,
        spool: Spool,
        *,
        clock: Clock,
        on_stored: Callable[[Receipt], None] = lambda _: None,
    ) -> None:
        self._stream = stream
        self._spool = spool
        self._clock = clock
        self._on_stored = on_stored
        self._redis_down_until = 0.0
        self._undeleted: set[str] = set()  # in Redis, still in the spool (delete failed)
        self.spooled = len(spool)  # this process owns the spool file: the count is ours

    async def submit(self, idempotency_key: str, request: CallbackRequest) -> Receipt:
        key = entry_key(idempotency_key, request)
        ticket = ticket_id(key)
        wall = self._clock.wall()
        payload = request.to_json(ticket=ticket, requested_at=wall.isoformat())
        created_at = wall.timestamp()
        redis_first = self.spooled == 0 and self._clock.monotonic() >= self._redis_down_until
        problem = ""
        if redis_first:
            stored = await self._to_redis(key, ticket, payload, created_at)
            if isinstance(stored, Receipt):
                return stored
            problem = stored
        try:
            added = await asyncio.to_thread(self._spool.put, key, payload, created_at)
        except SpoolError as exc:
            if not redis_first:
                # Durability before order: the spool cannot take it, Redis may, ahead of
                # what is spooled (moved in after it).
                stored = await self._to_redis(key, ticket, payload, created_at)
                if isinstance(stored, Receipt):
                    log.warning("callbacks: spool failing (%s); %s went to Redis", exc, ticket)
                    return stored
                problem = stored
            # The causes are in the message; a traceback adds nothing.
            log.error("callbacks: NOT SAVED %s: %s%s", ticket, problem, exc)  # noqa: TRY400
            raise NotSaved(f"{problem}{exc}") from exc
        if added:
            self.spooled += 1
        return self._stored(Receipt(ticket, "spool", added))

    async def _to_redis(
        self, key: str, ticket: str, payload: str, created_at: float
    ) -> Receipt | str:
        """The receipt once Redis has it, else why not (with "; " to join the spool's)."""
        try:
            _, added = await self._stream.add(key, payload, created_at)
        except NotReplicated as exc:
            # Redis works; its replicas did not confirm (none connected, or lagging): the
            # spool keeps the callback until one does (the mover adds it again and waits).
            self._redis_down_until = self._clock.monotonic() + REDIS_RETRY_AFTER
            log.warning("callbacks: %s; spooling it until a replica confirms", exc)
            return f"{exc}; "
        except QueueUnavailable as exc:
            self._redis_down_until = self._clock.monotonic() + REDIS_RETRY_AFTER
            log.warning("callbacks: Redis cannot take callbacks, spooling: %s", exc)
            return f"{exc}; "
        return self._stored(Receipt(ticket, "redis", added))

    def _stored(self, receipt: Receipt) -> Receipt:
        self._on_stored(receipt)
        return receipt

    @property
    def deletes_pending(self) -> bool:
        """Moved to Redis, but the spool could not delete them yet (see `move_spooled`)."""
        return bool(self._undeleted)

    async def move_spooled(self) -> int:
        """Hand spooled callbacks to Redis, oldest first; how many moved. An item is
        removed from the spool only after Redis took it; a crash in between queues it
        again on the next move, which `add` recognises by its key.

        If the spool cannot delete what Redis took (its disk remounted read-only), the
        move goes on: those items are in Redis, so they no longer count as `spooled`
        (new callbacks go straight to Redis again), their keys are kept here so they
        are not added again, and the delete is retried on every move."""
        await self._retry_deletes()
        moved = 0
        after = 0
        while True:
            items = await asyncio.to_thread(self._spool.oldest, MOVE_BATCH, after)
            if not items:
                break
            after = items[-1].seq
            todo = [item for item in items if item.key not in self._undeleted]
            done: list[str] = []
            try:
                for item in todo:
                    await self._stream.add(item.key, item.payload, item.created_at)
                    done.append(item.key)
            except QueueUnavailable:
                if not done:
                    raise
            finally:
                moved += await self._forget(done)
            if len(done) < len(todo):
                break
        if moved:
            self._redis_down_until = 0.0
            log.warning("callbacks: moved %d spooled callbacks to Redis", moved)
        return moved

    async def _forget(self, keys: list[str]) -> int:
        """Delete from the spool what Redis took; how many left `spooled`. Never raises:
        what the spool cannot delete is remembered in `_undeleted`."""
        if not keys:
            return 0
        try:
            removed = await asyncio.to_thread(self._spool.remove, keys)
        except SpoolError as exc:
            log.error("callbacks: %d moved to Redis, not deleted from the spool: %s",  # noqa: TRY400
                      len(keys), exc)  # fmt: skip
            self._undeleted.update(keys)
            removed = len(keys)
        self.spooled = max(0, self.spooled - removed)
        return removed

    async def _retry_deletes(self) -> None:
        if not self._undeleted:
            return
        try:
            await asyncio.to_thread(self._spool.remove, sorted(self._undeleted))
        except SpoolError as exc:
            log.info("callbacks: spool still cannot delete moved callbacks: %s", exc)
            return
        self._undeleted.clear()
