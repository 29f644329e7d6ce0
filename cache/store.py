"""The Redis tier (L2) of the self-help layer: bulletins, hits, votes, rankings.

Keys (``prefix`` defaults to ``sb:``; ids are decimal strings, times epoch seconds):

    sb:bulletins             hash  id -> Bulletin.to_json()
    sb:bulletins:stored_at   hash  id -> when L2 got it from the origin (float)
    sb:hits                  hash  id -> all-time hits
    sb:top                   zset  id -> all-time hits (sorted: the all-time ranking)
    sb:trending              zset  id -> forward-decay score (cache/ranking.py)
    sb:trending:landmark     str   the landmark L of those scores (float)
    sb:author_hits           hash  author username -> hits on their bulletins
    sb:votes:helpful         hash  id -> "this helped" votes
    sb:votes:unhelpful       hash  id -> "this did not help" votes

Hits and votes never cost the response path a round trip: handlers count into a
`HitBuffer` and a `HitFlusher` task hands the drained `Batch` to `RedisStore.flush`,
which writes it in one non-transactional pipeline (buffering, outages and at-least-once
delivery: cache/hits.py; those names are re-exported here).

Trending: the flush reads the landmark (``SET NX`` + ``GET``, one round trip), then adds
``n * weight(now)``. Once a fresh hit would weigh more than `RESCALE_WEIGHT`, one flush
moves the landmark to ``now`` and multiplies every score by `rescale_factor`, atomically
(WATCH/MULTI on the landmark), pruning what decayed below one hit a window ago. Moving it
every half-life or so, not near float limits, bounds the race with a replica that read
the old landmark just before: its one batch weighs at most ``RESCALE_WEIGHT`` times too
much, instead of 2 ** 664.

Errors (one tree; every call is bounded by the client's socket and pool timeouts, see
failover/redisconn.py)::

    StoreError
     └── StoreUnavailable   any redis-py error (ConnectionError, TimeoutError,
                            BusyLoadingError, ReadOnlyError, ResponseError...) or OSError:
                            serve from L1 or the on-disk snapshot instead

A stored bulletin that no longer parses is logged and read as a miss.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from cache.hits import Batch, HitBuffer, HitFlusher, HitSink
from cache.model import Bulletin
from cache.ranking import (
    TrendingPolicy,
    decayed,
    needs_rescale,
    prune_threshold,
    rescale_factor,
    weight,
)

__all__ = [
    "Batch",
    "HitBuffer",
    "HitFlusher",
    "HitSink",
    "Keys",
    "RedisStore",
    "StoreError",
    "StoreUnavailable",
    "Votes",
]

log = logging.getLogger(__name__)

RESCALE_WEIGHT: Final = 2.0  # move the landmark once a fresh hit weighs more than this


class StoreError(Exception):
    """Base of the errors of this module."""


# N818 (Error suffix) waived: the name the service codes against reads as a state.
class StoreUnavailable(StoreError):  # noqa: N818
    """Redis did not answer in time or answered with an error: fall back to L1/snapshot."""


@contextlib.contextmanager
def _unavailable(operation: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:  # OSError includes the builtin TimeoutError
        raise StoreUnavailable(f"redis {operation}: {type(exc).__name__}: {exc}") from exc


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _scored(rows: Any) -> list[tuple[int, float]]:
    """``ZREVRANGE ... WITHSCORES`` replies as ``(member, score)`` pairs."""
    return [(int(_text(member)), float(score)) for member, score in rows]


class Keys:
    """Key names under one prefix (see the module docstring)."""

    def __init__(self, prefix: str = "sb:") -> None:
        self.prefix = p = prefix
        self.bulletins = f"{p}bulletins"
        self.stored_at = f"{p}bulletins:stored_at"
        self.hits = f"{p}hits"
        self.top = f"{p}top"
        self.trending = f"{p}trending"
        self.landmark = f"{p}trending:landmark"
        self.author_hits = f"{p}author_hits"
        self.helpful = f"{p}votes:helpful"
        self.unhelpful = f"{p}votes:unhelpful"


@dataclass(frozen=True, slots=True, kw_only=True)
class Votes:
    helpful: int = 0
    unhelpful: int = 0


class RedisStore:
    """L2: bulletins and counters in Redis. Every method raises only `StoreUnavailable`."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "sb:",
        policy: TrendingPolicy | None = None,
    ) -> None:
        self._redis = redis
        self.keys = Keys(prefix)
        self.policy = policy or TrendingPolicy()

    # --- bulletins ----------------------------------------------------------------------

    async def put(self, bulletin: Bulletin, stored_at: float) -> None:
        await self.put_many([bulletin], stored_at)

    async def put_many(self, bulletins: Iterable[Bulletin], stored_at: float) -> None:
        k = self.keys
        with _unavailable("put"):
            async with self._redis.pipeline(transaction=True) as pipe:  # both hashes or none
                for b in bulletins:
                    pipe.hset(k.bulletins, str(b.id), b.to_json())
                    pipe.hset(k.stored_at, str(b.id), repr(stored_at))
                if len(pipe):
                    await pipe.execute()

    async def get(self, bulletin_id: int) -> tuple[Bulletin, float] | None:
        return (await self.get_many([bulletin_id])).get(bulletin_id)

    async def get_many(self, ids: Sequence[int]) -> dict[int, tuple[Bulletin, float]]:
        if not ids:
            return {}
        k = self.keys
        with _unavailable("get"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(k.bulletins, [str(i) for i in ids])
                pipe.hmget(k.stored_at, [str(i) for i in ids])
                docs, times = await pipe.execute()
        found: dict[int, tuple[Bulletin, float]] = {}
        for bulletin_id, doc, at in zip(ids, docs, times, strict=True):
            if doc is None:
                continue
            try:
                found[bulletin_id] = (Bulletin.from_json(doc), float(at) if at else 0.0)
            except (ValueError, KeyError, TypeError):
                log.warning("bulletin %s in redis does not parse; treated as a miss", bulletin_id)
        return found

    async def remove(self, bulletin_id: int) -> None:
        """Forget a bulletin the community no longer shows (deleted, made private)."""
        k = self.keys
        with _unavailable("remove"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(k.bulletins, str(bulletin_id))
                pipe.hdel(k.stored_at, str(bulletin_id))
                await pipe.execute()

    async def all_ids(self) -> list[int]:
        with _unavailable("all_ids"):
            raw = await self._redis.hkeys(self.keys.bulletins)
        return sorted(int(_text(r)) for r in raw)

    # --- counting -----------------------------------------------------------------------

    async def flush(self, batch: Batch, now: float) -> None:
        """Write a drained batch; `now` is wall-clock time, shared by every replica."""
        if batch.empty:
            return
        k = self.keys
        with _unavailable("flush"):
            w = await self._trending_weight(now) if batch.hits else 0.0
            async with self._redis.pipeline(transaction=False) as pipe:
                for bulletin_id, n in batch.hits.items():
                    pipe.hincrby(k.hits, str(bulletin_id), n)
                    pipe.zincrby(k.top, n, str(bulletin_id))
                    pipe.zincrby(k.trending, n * w, str(bulletin_id))
                for author, n in batch.author_hits.items():
                    pipe.hincrby(k.author_hits, author, n)
                for key, votes in ((k.helpful, batch.helpful), (k.unhelpful, batch.unhelpful)):
                    for bulletin_id, n in votes.items():
                        pipe.hincrby(key, str(bulletin_id), n)
                await pipe.execute()

    async def _trending_weight(self, now: float) -> float:
        k = self.keys
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(k.landmark, repr(now), nx=True)  # the first flush ever sets it
            pipe.get(k.landmark)
            _, raw = await pipe.execute()
        w = self._fresh_weight(now, float(raw))
        if needs_rescale(w, limit=RESCALE_WEIGHT):
            w = self._fresh_weight(now, await self._rescale(now))
        return w

    def _fresh_weight(self, now: float, landmark: float) -> float:
        try:
            return weight(now, landmark, self.policy.half_life_seconds)
        except OverflowError:  # idle for over ~1000 half-lives
            return math.inf

    async def _rescale(self, now: float) -> float:
        """Move the landmark to `now` (unless another replica just did) and return it."""
        k, half_life = self.keys, self.policy.half_life_seconds
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(k.landmark)
                raw = await pipe.get(k.landmark)
                old = float(raw) if raw is not None else now
                fresh = self._fresh_weight(now, old)
                if raw is not None and not needs_rescale(fresh, limit=RESCALE_WEIGHT):
                    return old
                pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                pipe.zunionstore(k.trending, {k.trending: rescale_factor(old, now, half_life)})
                threshold = prune_threshold(now, now, self.policy)
                pipe.zremrangebyscore(k.trending, "-inf", f"({threshold!r}")
                pipe.set(k.landmark, repr(now))
                await pipe.execute()
            except WatchError:  # another replica moved it between our WATCH and EXEC
                raw = await self._redis.get(k.landmark)
                return float(raw) if raw is not None else now
        return now

    # --- rankings -----------------------------------------------------------------------

    async def top(self, n: int) -> list[tuple[int, int]]:
        """All-time: `(id, hits)`, most hits first, ties by id."""
        if n <= 0:
            return []
        with _unavailable("top"):
            rows = await self._redis.zrevrange(self.keys.top, 0, n - 1, withscores=True)
        return sorted(((i, int(s)) for i, s in _scored(rows)), key=lambda r: (-r[1], r[0]))

    async def trending(self, n: int, *, now: float) -> list[tuple[int, float]]:
        """`(id, decayed hit count at now)`, hottest first, ties by id."""
        if n <= 0:
            return []
        k, half_life = self.keys, self.policy.half_life_seconds
        with _unavailable("trending"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(k.landmark)
                pipe.zrevrange(k.trending, 0, n - 1, withscores=True)
                raw, rows = await pipe.execute()
        if raw is None:
            return []
        landmark = float(raw)
        scored = [(i, decayed(s, now, landmark, half_life)) for i, s in _scored(rows)]
        return sorted(scored, key=lambda r: (-r[1], r[0]))

    async def hits_of(self, ids: Sequence[int]) -> dict[int, int]:
        if not ids:
            return {}
        with _unavailable("hits_of"):
            raw = await self._redis.hmget(self.keys.hits, [str(i) for i in ids])
        return {i: int(v) if v is not None else 0 for i, v in zip(ids, raw, strict=True)}

    async def author_stats(self) -> dict[str, int]:
        """Hits per author username."""
        with _unavailable("author_stats"):
            raw = await self._redis.hgetall(self.keys.author_hits)
        return {_text(a): int(n) for a, n in raw.items()}

    async def votes_of(self, bulletin_id: int) -> Votes:
        k = self.keys
        with _unavailable("votes_of"):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(k.helpful, str(bulletin_id))
                pipe.hget(k.unhelpful, str(bulletin_id))
                helpful, unhelpful = await pipe.execute()
        return Votes(helpful=int(helpful or 0), unhelpful=int(unhelpful or 0))
