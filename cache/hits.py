"""Counting hits and votes off the response path: a bounded in-process buffer and the
background task that drains it into Redis (`cache.store.RedisStore.flush`).

A handler calls `HitBuffer.add_hit` / `add_vote`: dict bookkeeping, no I/O, no await.
Every `interval` seconds `HitFlusher` drains a `Batch` and hands it to the sink; if the
sink raises (Redis down: `StoreUnavailable`), the batch goes back into the buffer, older
than anything counted since, and the next tick tries again. The buffer is bounded by
distinct keys (bulletins, authors, votes), not by hits: counts for one key just add up,
so an outage loses nothing unless more distinct keys are counted than `max_keys`; past
that the least recently counted key goes first and its count is tallied in `dropped`.

Delivery is at-least-once: a batch whose pipeline was cut after Redis applied it (or
that the client's `Retry` re-sent) is counted twice; a lost count is the worse error
for a ranking, and hits are not money.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

from kernel.clock import Clock
from kernel.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_MAX_KEYS: Final = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Counts drained from a `HitBuffer`, written by one `RedisStore.flush`."""

    hits: Mapping[int, int] = field(default_factory=dict)
    author_hits: Mapping[str, int] = field(default_factory=dict)
    helpful: Mapping[int, int] = field(default_factory=dict)
    unhelpful: Mapping[int, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.hits or self.author_hits or self.helpful or self.unhelpful)

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())


_Kind = Literal["hit", "author", "helpful", "unhelpful"]
_Key = tuple[_Kind, int | str]


class HitBuffer:
    """In-process counts since the last flush; bounded by distinct keys, not by hits."""

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self._max = max_keys
        self._counts: OrderedDict[_Key, int] = OrderedDict()
        self.dropped = 0  # hits and votes given up because the buffer was full

    def __len__(self) -> int:
        return len(self._counts)

    @property
    def pending_hits(self) -> int:
        return sum(n for (kind, _), n in self._counts.items() if kind == "hit")

    def _add(self, key: _Key, n: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + n
        self._counts.move_to_end(key)
        if len(self._counts) > self._max:
            self._trim()

    def _trim(self) -> None:
        while len(self._counts) > self._max:
            _, n = self._counts.popitem(last=False)
            self.dropped += n

    def add_hit(self, bulletin_id: int, author: str | None = None, *, count: int = 1) -> None:
        """`count` views of a bulletin; `author` (its username) also counts for the
        leaderboard."""
        self._add(("hit", bulletin_id), count)
        if author is not None:
            self._add(("author", author), count)

    def add_vote(self, bulletin_id: int, helpful: bool) -> None:
        self._add(("helpful" if helpful else "unhelpful", bulletin_id), 1)

    def drain(self) -> Batch:
        counts, self._counts = self._counts, OrderedDict()

        def part(kind: _Kind) -> dict[int | str, int]:
            return {key: n for (k, key), n in counts.items() if k == kind}

        return Batch(
            hits={int(k): n for k, n in part("hit").items()},
            author_hits={str(k): n for k, n in part("author").items()},
            helpful={int(k): n for k, n in part("helpful").items()},
            unhelpful={int(k): n for k, n in part("unhelpful").items()},
        )

    def restore(self, batch: Batch) -> None:
        """Put back a batch that could not be written; it is older than what is buffered."""
        merged: OrderedDict[_Key, int] = OrderedDict(
            [(("hit", k), n) for k, n in batch.hits.items()]
            + [(("author", k), n) for k, n in batch.author_hits.items()]
            + [(("helpful", k), n) for k, n in batch.helpful.items()]
            + [(("unhelpful", k), n) for k, n in batch.unhelpful.items()]
        )
        for key, n in self._counts.items():
            merged[key] = merged.get(key, 0) + n
            merged.move_to_end(key)
        self._counts = merged
        self._trim()


class HitSink(Protocol):
    """Where batches go (`cache.store.RedisStore`); raises if the batch was not written."""

    async def flush(self, batch: Batch, now: float) -> None: ...


class HitFlusher:
    """Background task: drain the buffer into the store every `interval` seconds."""

    def __init__(
        self,
        store: HitSink,
        buffer: HitBuffer,
        *,
        interval: float = 1.0,
        clock: Clock,
        name: str = "switchboard:hit-flusher",
    ) -> None:
        self._store, self._buffer = store, buffer
        self._clock, self._name = clock, name
        self.interval = interval  # lengthened while shedding load (cache/runtime.py)
        self._task: asyncio.Task[None] | None = None
        self.failing = False  # the last flush could not reach Redis

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            raise RuntimeError("HitFlusher already started")
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self, *, final_flush: bool = True) -> None:
        """Cancel the loop, then try once more so a clean shutdown loses no hits."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        if final_flush:
            await self.flush_once()

    async def flush_once(self) -> bool:
        """Drain and write; on failure the batch goes back. True if it was written."""
        batch = self._buffer.drain()
        if batch.empty:
            return True
        try:
            await self._store.flush(batch, self._clock.epoch())
        except Exception as exc:  # StoreUnavailable, or a bug: keep the counts either way
            self._buffer.restore(batch)
            if not self.failing:  # once per outage, not once per tick
                log.warning("hits kept in memory, flush failed: %s", exc, exc_info=True)
            self.failing = True
            return False
        except BaseException:  # cancelled mid-flush: keep the counts (at-least-once)
            self._buffer.restore(batch)
            raise
        if self.failing:
            log.info("flush succeeded again, buffered hits written")
        self.failing = False
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush_once()
