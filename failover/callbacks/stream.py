"""The durable callback queue in Redis: a Stream with a consumer group.

- `add` is idempotent: a Lua script stores `key -> entry id` and appends to the stream
  only the first time, atomically, so a retried submission gets the same entry.
- With `replicas` > 0, `add` sends `WAIT replicas timeout` on the same connection right
  after the script (one pipeline: WAIT counts the writes of its own connection), and
  raises `NotReplicated` when fewer replicas confirmed in time. The pipeline goes through
  `writer`, a client whose read timeout exceeds the WAIT's (wiring.py): on the app's
  client (0.5 s, failover/redisconn.py) a WAIT of 500 ms or more timed out on the socket
  first, which dropped the connection and blamed Redis. The entry is then on
  the primary but not yet on a replica, so the caller treats it as not stored by Redis
  (the intake spools it: see queue.py); a later `add` of the same key finds it and
  waits again, it never appends twice. Redis docs, WAIT: "WAIT does not make Redis a
  strongly consistent store"; what a failover can still lose is in docs/callbacks.md,
  "Redis Sentinel".
- `read` hands new entries to this consumer (XREADGROUP); they stay in the group's
  pending list until `ack`, so a crash between read and ack loses nothing.
- `reclaim` takes over entries another consumer read but did not ack for `min_idle`
  (XAUTOCLAIM, looping over its cursor until it comes back to 0-0).
- `dead_letter` moves an entry that keeps failing to a dead-letter stream and acks it,
  so the rest keep flowing.
- Delivered entries are acked and deleted; pending ones are never trimmed.
- `note_failure` counts the times a call center answered an entry with an error, in a
  hash every replica shares, so "N attempts, then the dead-letter stream" holds across
  replicas and restarts.
- The idempotency record (`sb:callbacks:key:<key>` -> entry id) expires after
  `KEY_TTL_S`: a retry within a week gets the same entry, and the records do not grow
  without bound.

Errors::

    Exception
     └── QueueUnavailable   Redis could not be reached or refused the command
          └── NotReplicated  on the primary, but too few replicas confirmed it in time
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

STREAM: Final = "sb:callbacks"
GROUP: Final = "dispatchers"
DEAD: Final = "sb:callbacks:dead"
KEY_PREFIX: Final = "sb:callbacks:key:"  # + idempotency key -> entry id, expiring
ATTEMPTS: Final = "sb:callbacks:attempts"  # hash: entry id -> failed deliveries
KEY_TTL_S: Final = 7 * 24 * 3600

# KEYS[1] = the key's record, KEYS[2] = stream; ARGV = key, payload, created_at, ttl
_ADD_ONCE: Final = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
local id = redis.call('XADD', KEYS[2], '*', 'key', ARGV[1], 'payload', ARGV[2],
                      'created_at', ARGV[3])
redis.call('SET', KEYS[1], id, 'EX', ARGV[4])
return {id, 1}
"""


class QueueUnavailable(Exception):  # noqa: N818 - reads as the condition it is
    pass


class NotReplicated(QueueUnavailable):
    """Redis took the callback, but fewer replicas than asked confirmed it in time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    id: str
    key: str
    payload: str
    created_at: float
    deliveries: int = 1  # how many times the group has handed it out


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    pending: int
    oldest_created_at: float | None  # wall-clock seconds; None when nothing is pending
    dead: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(raw_id: Any, fields: dict[Any, Any], deliveries: int = 1) -> Entry:
    f = {_text(k): _text(v) for k, v in fields.items()}
    return Entry(
        id=_text(raw_id),
        key=f["key"],
        payload=f["payload"],
        created_at=float(f["created_at"]),
        deliveries=deliveries,
    )


class CallbackStream:
    def __init__(
        self,
        redis: Redis,
        *,
        consumer: str,
        replicas: int = 0,
        replica_timeout_ms: int = 500,
        writer: Redis | None = None,
    ) -> None:
        """`writer`: the client `add` uses when it waits for replicas (its read timeout
        must exceed `replica_timeout_ms`); closed by `aclose`. Default: `redis`."""
        self._redis = redis
        self._writer = writer
        self.consumer = consumer
        self.replicas = replicas
        self.replica_timeout_ms = replica_timeout_ms
        # EVALSHA, loading the script on NOSCRIPT (redis-py Script): the body is not
        # sent and hashed again with every callback.
        self._add_once = redis.register_script(_ADD_ONCE)

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise QueueUnavailable(f"cannot create group {GROUP}: {exc}") from exc
        except RedisError as exc:
            raise QueueUnavailable(f"cannot create group {GROUP}: {exc}") from exc

    async def add(self, key: str, payload: str, created_at: float) -> tuple[str, bool]:
        """Append once per key; returns (entry id, newly added). With `replicas`, only
        once that many replicas have it too."""
        keys = [KEY_PREFIX + key, STREAM]
        args: list[str | int] = [key, payload, repr(created_at), KEY_TTL_S]
        try:
            if not self.replicas:
                entry_id, added = await self._add_once(keys=keys, args=args)
                return _text(entry_id), bool(added)
            writer = self._writer if self._writer is not None else self._redis
            async with writer.pipeline(transaction=False) as pipe:
                await self._add_once(keys=keys, args=args, client=pipe)
                pipe.wait(self.replicas, self.replica_timeout_ms)
                (entry_id, added), acked = await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot queue callback {key}: {exc}") from exc
        if int(acked) < self.replicas:
            confirmed = "no replica" if not int(acked) else f"only {acked} of {self.replicas}"
            raise NotReplicated(
                f"{confirmed} confirmed callback {key} within {self.replica_timeout_ms} ms "
                f"({self.replicas} asked): it is on the primary only"
            )
        return _text(entry_id), bool(added)

    async def aclose(self) -> None:
        """Close `writer` (the app's client is the app's to close)."""
        if self._writer is not None:
            await self._writer.aclose(close_connection_pool=True)

    async def read(self, count: int, *, block_ms: int | None = None) -> list[Entry]:
        """New entries, handed to this consumer (they join its pending list)."""
        return await self._read(">", count, block_ms)

    async def own_pending(self, count: int) -> list[Entry]:
        """Entries this consumer was handed and has not acked, oldest first: after a
        restart under the same consumer name, the work it held comes back at once."""
        return await self._read("0", count, None)

    async def _read(self, start: str, count: int, block_ms: int | None) -> list[Entry]:
        try:
            try:
                answer = await self._xreadgroup(start, count, block_ms)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis came back without the group (restarted without its data, or a
                # replica promoted that never had it): what was queued since must still go.
                await self.ensure_group()
                answer = await self._xreadgroup(start, count, block_ms)
        except RedisError as exc:
            raise QueueUnavailable(f"cannot read callbacks: {exc}") from exc
        # An entry deleted while pending comes back with no fields; there is nothing to do.
        return [_entry(i, f) for _, items in answer or [] for i, f in items if f]

    async def _xreadgroup(self, start: str, count: int, block_ms: int | None) -> list[Any]:
        # With RESP2 (our connections) the reply is [[stream, [(id, fields), ...]]];
        # redis-py's annotation also covers RESP3's dict.
        return cast(
            list[Any],
            await self._redis.xreadgroup(
                GROUP, self.consumer, {STREAM: start}, count=count, block=block_ms
            ),
        )

    async def reclaim(self, *, min_idle_ms: int, count: int = 100) -> list[Entry]:
        """Entries other consumers read but did not ack within `min_idle_ms`."""
        claimed: list[Entry] = []
        cursor = "0-0"
        try:
            while True:
                answer = await self._redis.xautoclaim(
                    STREAM, GROUP, self.consumer, min_idle_ms, start_id=cursor, count=count
                )
                cursor = _text(answer[0])
                claimed += [_entry(i, f) for i, f in answer[1] if f]
                if cursor == "0-0" or len(claimed) >= count:
                    break
            counts = await self._delivery_counts([e.id for e in claimed])
        except RedisError as exc:
            raise QueueUnavailable(f"cannot reclaim callbacks: {exc}") from exc
        return [
            Entry(
                id=e.id, key=e.key, payload=e.payload, created_at=e.created_at,
                deliveries=counts.get(e.id, 1),
            )
            for e in claimed
        ]  # fmt: skip

    async def _delivery_counts(self, ids: Sequence[str]) -> dict[str, int]:
        if not ids:
            return {}
        rows = await self._redis.xpending_range(
            STREAM, GROUP, min=ids[0], max=ids[-1], count=len(ids) * 2
        )
        return {_text(r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def ack(self, entry: Entry) -> None:
        """Delivered: acknowledge and delete (only delivered entries are ever removed)."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(STREAM, GROUP, entry.id)
                pipe.xdel(STREAM, entry.id)
                pipe.hdel(ATTEMPTS, entry.id)
                await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot ack {entry.id}: {exc}") from exc

    async def note_failure(self, entry: Entry) -> int:
        """The call center answered this entry with an error: how many times so far."""
        try:
            return int(await self._redis.hincrby(ATTEMPTS, entry.id, 1))
        except RedisError as exc:
            raise QueueUnavailable(f"cannot count a failure of {entry.id}: {exc}") from exc

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    DEAD,
                    {"key": entry.key, "payload": entry.payload, "reason": reason[:500],
                     "created_at": repr(entry.created_at), "source_id": entry.id},
                )  # fmt: skip
                pipe.xack(STREAM, GROUP, entry.id)
                pipe.xdel(STREAM, entry.id)
                pipe.hdel(ATTEMPTS, entry.id)
                await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot dead-letter {entry.id}: {exc}") from exc

    async def pending(self) -> int:
        """Entries not yet delivered: never read, or read and not acked."""
        return (await self.backlog()).pending

    async def backlog(self) -> Backlog:
        """Pending and dead-lettered counts and the oldest pending entry's created_at,
        in one round trip."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xlen(STREAM)
                pipe.xrange(STREAM, "-", "+", count=1)
                pipe.xlen(DEAD)
                pending, first, dead = await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot count callbacks: {exc}") from exc
        oldest = _entry(*first[0]).created_at if first else None
        return Backlog(pending=int(pending), oldest_created_at=oldest, dead=int(dead))
