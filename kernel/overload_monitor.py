"""The adapter around kernel/overload.py: it measures, decides, and tells who acts.

Two signals, both real and cheap:

- event-loop lag: a task sleeps `interval` and measures how late it woke. On a
  saturated asyncio process every callback waits its turn, this one too, so its delay is
  the delay every request's next step meets (the same measure as Node's
  `monitorEventLoopDelay` and aiomonitor's). Smoothed (EWMA, weight `SMOOTHING`), so
  that one garbage-collection pause weighs less than a run of late wake-ups;
- requests in flight: self-help requests that may wait on Redis or the community site
  (cache/web.py) `enter` and `leave` `InFlight`; each reading takes the peak since the
  one before, so a burst shorter than `interval` is seen too. They pile up here when
  those slow down, before the loop itself is busy. Nothing that waits on the client
  counts: a few hundred slow clients must not shed everyone's pages.

Each sample goes through `decide`; a change is logged (event `overload_change`, with
from, to and reason), counted, and handed to every listener (the self-help runtime and
pages, which do less). The last transitions are kept for /status.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Final

from kernel.overload import OverloadPolicy, Reading, Shedding, Stage, Transition, decide
from kernel.tasks import cancel_and_wait

log = logging.getLogger("switchboard.overload")

SMOOTHING: Final = 0.5  # weight of the newest lag sample
KEPT: Final = 20  # transitions shown on /status

Listener = Callable[[Stage], None]


class InFlight:
    """Requests being answered now, and the most at once since `take_peak`."""

    __slots__ = ("now", "peak")

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1

    def take_peak(self) -> int:
        peak, self.peak = self.peak, self.now
        return peak


class OverloadMonitor:
    def __init__(
        self,
        policy: OverloadPolicy,
        *,
        interval: float,
        measure: bool = True,
        monotonic: Callable[[], float],  # the app clock's (kernel/clock.py)
        on_transition: Callable[[Transition], None] = lambda _: None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self.policy = policy
        self.interval = interval
        self.measure = measure  # False: only a forced stage applies, nothing is sampled
        self.in_flight = InFlight()
        self.lag = 0.0  # s, smoothed
        self.last = Reading(lag=0.0, in_flight=0)
        self.state = Shedding(since=monotonic())
        self.recent: deque[Transition] = deque(maxlen=KEPT)
        self._now = monotonic
        self._on_transition = on_transition
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def stage(self) -> Stage:
        return self.state.stage

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Apply a forced stage now (before the first request), then sample."""
        self.observe(0.0)
        if self.measure and self.policy.forced is None:
            self._task = asyncio.create_task(self._sample(), name="overload-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.observe(max(0.0, loop.time() - due))

    def observe(self, lag: float) -> Transition | None:
        """One sample: `lag` s late, in flight as counted. The transition, if any."""
        self.lag = SMOOTHING * lag + (1 - SMOOTHING) * self.lag
        self.last = Reading(lag=self.lag, in_flight=self.in_flight.take_peak())
        self.state, change = decide(self.state, self.last, now=self._now(), policy=self.policy)
        if change is not None:
            self._apply(change)
        return change

    def _apply(self, change: Transition) -> None:
        self.recent.append(change)
        level = logging.WARNING if change.target.level > change.source.level else logging.INFO
        log.log(
            level, "overload: %s -> %s (%s)", change.source, change.target, change.reason,
            extra={"event": "overload_change", "from": change.source.value,
                   "to": change.target.value, "reason": change.reason},
        )  # fmt: skip
        self._on_transition(change)
        for listener in self._listeners:
            try:
                listener(change.target)
            except Exception:  # one listener's bug must not stop the others from shedding
                log.exception("overload: a listener failed on %s", change.target)
