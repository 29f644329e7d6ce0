"""The dispatcher: pending callbacks to the healthiest call center, oldest first.

One loop per front door. Each round it takes, in this order:

1. its own pending entries (handed to it earlier, not acked: after a restart under the
   same consumer name they come back at once); not asked for again once Redis has said
   there are none, until it reads or reclaims some;
2. every `reclaim_idle / 2`, entries another replica was handed and left idle for
   `reclaim_idle` (that replica presumed dead; XAUTOCLAIM);
3. new entries.

and delivers them one by one, at most `rate` a second (`TokenBucket`), to the call
center the router sends customers to; with none (self-help), it waits. What each
answer means is `delivery.Outcome`:

- `Delivered`: ack (the entry is deleted). The time since the request is observed.
- `Rejected`: dead-lettered at once, with the call center's reason.
- `EntryFailed`: counted against the entry in Redis (shared by all replicas); at
  `max_attempts` it is dead-lettered, else retried after a growing pause while the
  others keep flowing.
- `Unreachable`: the round stops and the dispatcher backs off (jittered, growing)
  from that call center; nothing is counted against the entry, so a flapping call
  center never dead-letters good callbacks. When the router sees it down and then
  healthy again, or picks another, delivery resumes at once.

When a round finds nothing, the next look at the queue is `IDLE_READ_EVERY` later,
unless intake in this process wakes it (or the router had no call center to send to):
an idle front door reads the stream once a second, with one XREADGROUP.

Delivery is at least once; the `Idempotency-Key` makes it once at the call center. A
second POST of one entry comes from a POST that timed out or lost its connection after
the call center had it (the client retries: counted as `retried`, or `unreachable` and
delivered again later), or from a crash between the call center's answer and our ack.
A batch is no larger than what the rate lets us finish in a quarter of `reclaim_idle`,
and a round stops once a quarter of `reclaim_idle` has passed since its batch was read
even when the call center answers slower than the rate (what is left is read again from
this consumer's own pending list, which resets its idle time), so a live replica's
entries never look abandoned and are not delivered a second time by another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Protocol

from failover.callbacks.delivery import (
    CallbackClient,
    Delivered,
    EntryFailed,
    Outcome,
    Rejected,
    Unreachable,
)
from failover.callbacks.pacing import TokenBucket
from failover.callbacks.stream import CallbackStream, Entry, QueueUnavailable
from kernel.clock import Clock

log = logging.getLogger("switchboard.callbacks")

IDLE_POLL = 0.25  # seconds between looks at the router when idle
# ...and between looks at the queue, unless intake here wakes it: what another replica
# took in, that replica delivers itself, so this look is only a safety net.
IDLE_READ_EVERY = 1.0
MAX_BACKOFF = 10.0
ENTRY_RETRY_BASE = 1.0  # an entry that failed waits 1, 2, 4... seconds (capped)
MAX_BATCH = 100


class Observer(Protocol):
    def delivered(self, seconds_since_request: float) -> None: ...
    def dead_lettered(self, why: str) -> None: ...
    def failed(self, kind: str) -> None: ...


class Dispatcher:
    def __init__(
        self,
        stream: CallbackStream,
        client: CallbackClient,
        *,
        target: Callable[[], str | None],
        clock: Clock,
        observer: Observer,
        rate: float,
        burst: int,
        max_attempts: int,
        reclaim_idle: float,
    ) -> None:
        self._stream = stream
        self._client = client
        self._target = target
        self._clock = clock
        self._observer = observer
        self._bucket = TokenBucket(rate, burst)
        self._max_attempts = max_attempts
        self._reclaim_idle = reclaim_idle
        self.batch = max(1, min(MAX_BATCH, int(rate * reclaim_idle / 4)))
        self._next_reclaim = 0.0
        self._not_before: dict[str, float] = {}  # entry id -> monotonic time to retry
        self._backoff = 0.0
        self._paused_until = 0.0
        self._paused_target: str | None = None
        self.wake = asyncio.Event()  # set by intake: something new to deliver
        # False once Redis said this consumer holds nothing: entries join its pending
        # list only through its own read or reclaim, so until one returns something,
        # asking again (twice as many Redis calls when idle) can only answer "nothing".
        self._may_hold = True
        self._quiet_until = 0.0  # no look at the queue before this, unless woken

    @property
    def client(self) -> CallbackClient:
        return self._client

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                busy = await self.step()
            except QueueUnavailable as exc:
                log.warning("callbacks: Redis unavailable, dispatcher waits: %s", exc)
                busy = False
                self._may_hold = True  # a failed-over Redis may hold what this one did not
                await asyncio.sleep(self._grow_backoff())
            if not busy:
                await self._idle()

    async def _idle(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for returns the result when
        # a cancel arrives as the event is set, and the cancel is lost (the loop goes on).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(IDLE_POLL):
                await self.wake.wait()

    async def step(self) -> bool:
        """One round; True if it did something (so the next round should follow at once)."""
        # Cleared here, before the queue is read: a wake that comes during the read is
        # kept, and the next round reads again at once.
        woken = self.wake.is_set()
        self.wake.clear()
        now = self._clock.monotonic()
        target = self._target()
        if target is None:
            # Down for the router too: when a call center is healthy again, start at
            # once rather than sit out a pause from before.
            self._paused_until = 0.0
            self._backoff = 0.0
            self._quiet_until = 0.0
            return False
        if now < self._paused_until and target == self._paused_target:
            return False
        if now < self._quiet_until and not woken:
            return False
        entries = await self._next_batch(now)
        self._quiet_until = 0.0 if entries else now + IDLE_READ_EVERY
        read_at = self._clock.monotonic()
        for entry in entries:
            target = self._target()
            if target is None:
                return True
            if self._clock.monotonic() - read_at > self._reclaim_idle / 4:
                return True  # the rest is read again (own pending) before it looks idle
            await self._pace()
            outcome = await self._client.deliver(target, entry)
            if not await self._settle(entry, outcome, target):
                break
        return bool(entries)

    async def _next_batch(self, now: float) -> list[Entry]:
        if self._may_hold:
            waiting = len(self._not_before)
            own = await self._stream.own_pending(self.batch + waiting)
            self._may_hold = bool(own)
            due = [e for e in own if self._not_before.get(e.id, 0.0) <= now]
            if due:
                return due[: self.batch]
        if now >= self._next_reclaim:
            self._next_reclaim = now + self._reclaim_idle / 2
            claimed = await self._stream.reclaim(
                min_idle_ms=int(self._reclaim_idle * 1000), count=self.batch
            )
            if claimed:
                self._may_hold = True
                log.warning("callbacks: took over %d abandoned by another replica", len(claimed))
                return claimed
        new = await self._stream.read(self.batch)
        if new:
            self._may_hold = True
        return new

    async def _pace(self) -> None:
        delay = self._bucket.wait(self._clock.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)
        self._bucket.take(self._clock.monotonic())

    async def _settle(self, entry: Entry, outcome: Outcome, target: str) -> bool:
        """Act on the answer; False when the round should stop."""
        if isinstance(outcome, Delivered):
            await self._stream.ack(entry)
            self._not_before.pop(entry.id, None)
            self._backoff = 0.0
            self._observer.delivered(max(0.0, self._clock.wall().timestamp() - entry.created_at))
            return True
        if isinstance(outcome, Rejected):
            await self._dead_letter(entry, f"rejected by {target}: {outcome.reason}", "rejected")
            return True
        if isinstance(outcome, EntryFailed):
            self._observer.failed("entry")
            attempts = await self._stream.note_failure(entry)
            if attempts >= self._max_attempts:
                await self._dead_letter(
                    entry, f"{attempts} attempts failed; last at {target}: {outcome.reason}",
                    "attempts",
                )  # fmt: skip
            else:
                pause = min(MAX_BACKOFF, ENTRY_RETRY_BASE * 2 ** (attempts - 1))
                self._not_before[entry.id] = self._clock.monotonic() + pause
                log.info("callbacks: %s failed (%d): %s", entry.id, attempts, outcome.reason)
            return True
        assert isinstance(outcome, Unreachable)
        self._observer.failed("unreachable")
        pause = self._grow_backoff()
        self._paused_until = self._clock.monotonic() + pause
        self._paused_target = target
        log.warning("callbacks: call center unreachable, pausing %.1fs: %s", pause, outcome.reason)
        return False

    async def _dead_letter(self, entry: Entry, reason: str, why: str) -> None:
        await self._stream.dead_letter(entry, reason)
        self._not_before.pop(entry.id, None)
        self._observer.dead_lettered(why)
        log.error("callbacks: %s dead-lettered: %s", entry.id, reason)

    def _grow_backoff(self) -> float:
        self._backoff = min(MAX_BACKOFF, max(0.5, self._backoff * 2))
        return self._backoff * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not secrets
