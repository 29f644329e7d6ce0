"""The durable callback queue in Redis: a Stream with a consumer group.

- `add` is idempotent: a Lua script stores `key -> entry id` and appends to the stream
  only the first time, atomically, so a retried submission gets the same entry.
- `read` hands new entries to this consumer (XREADGROUP); they stay in the group's
  pending list until `ack`, so a crash between read and ack loses nothing.
- `reclaim` takes over entries another consumer read but did not ack for `min_idle`
  (XAUTOCLAIM, looping over its cursor until it comes back to 0-0).
- `dead_letter` moves an entry that keeps failing to a dead-letter stream and acks it,
  so the rest keep flowing.
- Delivered entries are acked and deleted; pending ones are never trimmed.

Errors::

    Exception
     └── QueueUnavailable   Redis could not be reached or refused the command
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
KEYS: Final = "sb:callbacks:keys"  # hash: idempotency key -> entry id

# KEYS[1] = keys hash, KEYS[2] = stream; ARGV = key, payload, created_at
_ADD_ONCE: Final = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {existing, 0} end
local id = redis.call('XADD', KEYS[2], '*', 'key', ARGV[1], 'payload', ARGV[2],
                      'created_at', ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], id)
return {id, 1}
"""


class QueueUnavailable(Exception):  # noqa: N818 - reads as the condition it is
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    id: str
    key: str
    payload: str
    created_at: float
    deliveries: int = 1  # how many times the group has handed it out


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
    def __init__(self, redis: Redis, *, consumer: str) -> None:
        self._redis = redis
        self.consumer = consumer

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise QueueUnavailable(f"cannot create group {GROUP}: {exc}") from exc
        except RedisError as exc:
            raise QueueUnavailable(f"cannot create group {GROUP}: {exc}") from exc

    async def add(self, key: str, payload: str, created_at: float) -> tuple[str, bool]:
        """Append once per key; returns (entry id, newly added)."""
        try:
            entry_id, added = await self._redis.eval(
                _ADD_ONCE, 2, KEYS, STREAM, key, payload, repr(created_at)
            )
        except RedisError as exc:
            raise QueueUnavailable(f"cannot queue callback {key}: {exc}") from exc
        return _text(entry_id), bool(added)

    async def read(self, count: int, *, block_ms: int | None = None) -> list[Entry]:
        try:
            # With RESP2 (our connections) the reply is [[stream, [(id, fields), ...]]];
            # redis-py's annotation also covers RESP3's dict.
            answer = cast(
                list[Any],
                await self._redis.xreadgroup(
                    GROUP, self.consumer, {STREAM: ">"}, count=count, block=block_ms
                ),
            )
        except RedisError as exc:
            raise QueueUnavailable(f"cannot read callbacks: {exc}") from exc
        return [_entry(i, fields) for _, items in answer or [] for i, fields in items]

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
                await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot ack {entry.id}: {exc}") from exc

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
                await pipe.execute()
        except RedisError as exc:
            raise QueueUnavailable(f"cannot dead-letter {entry.id}: {exc}") from exc

    async def pending(self) -> int:
        """Entries not yet delivered: never read, or read and not acked."""
        try:
            length: int = await self._redis.xlen(STREAM)
        except RedisError as exc:
            raise QueueUnavailable(f"cannot count callbacks: {exc}") from exc
        return length
