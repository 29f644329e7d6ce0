"""A small load client for the self-help bench: aiohttp, loopback only, bounded in both
requests and seconds, run pinned to core 1 (with wrk's core).

- `Mix`: what customers ask for: bulletin pages with Zipf-like popularity (rank r weighs
  1/r, ranks a seeded shuffle of the ids), plus /help, /help/search?q=<two title words>
  and /api/v1/bulletins.
- `run_load`: closed loop (each of `concurrency` workers sends the next request when the
  last one is answered) or paced (`rate` requests/s on a fixed schedule). Latency is
  counted from when a request went out; for a paced load each request also records how
  late it went out (all workers busy waiting on a stalled server shows up there, instead
  of hiding as fewer slow samples). `events` run at given seconds, in a thread.
- `windows`: requests, errors and p50/p99 per time window (`every` n seconds, or any).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from urllib.parse import quote

import aiohttp
import uvloop

from loadtests.bench.stage import pinned
from sims.community_seed import Seed

SIDE_CORE = 1
TIMEOUT_S = 5.0
# Shares of the mixed read load, cumulative: bulletin pages, /help, search, the JSON list.
MIX = (("bulletin", 0.80), ("help", 0.88), ("search", 0.96), ("api", 1.0))

Request = tuple[str, str]  # (kind, path)


class Mix:
    def __init__(self, seed: Seed, *, rng: random.Random, s: float = 1.0) -> None:
        self._rng = rng
        self.ids = [t.id for t in seed.topics]
        rng.shuffle(self.ids)  # popularity rank: not the id order, not the /latest order
        self._cum = list(accumulate(1 / rank**s for rank in range(1, len(self.ids) + 1)))
        titles = " ".join(t.title for t in seed.topics).lower()
        self._words = sorted(set(re.findall(r"[a-z]{4,}", titles)))

    def bulletin(self) -> Request:
        (chosen,) = self._rng.choices(self.ids, cum_weights=self._cum)
        return "bulletin", f"/help/bulletins/{chosen}"

    def mixed(self) -> Request:
        roll = self._rng.random()
        kind = next(k for k, upto in MIX if roll < upto)
        if kind == "bulletin":
            return self.bulletin()
        if kind == "help":
            return kind, "/help"
        if kind == "search":
            return kind, "/help/search?q=" + quote(" ".join(self._rng.sample(self._words, 2)))
        return kind, "/api/v1/bulletins"


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # when it was due (paced) or sent (closed loop), s from the start
    ms: float  # from sent to answered
    lag_ms: float  # sent after it was due (paced): the generator fell behind
    status: int  # 0: no answer (refused, reset, timed out)
    kind: str


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # s from the start
    what: str
    run: Callable[[], None]  # blocking; runs in a thread so the load goes on


@dataclass(slots=True)
class Run:
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, float, str]] = field(default_factory=list)  # began, ended, what


async def _get(session: aiohttp.ClientSession, url: str) -> int:
    try:
        async with session.get(url, allow_redirects=False) as answer:
            await answer.read()
            return answer.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def _load(
    base: str,
    pick: Callable[[], Request],
    *,
    seconds: float,
    max_requests: int,
    concurrency: int,
    rate: float | None,
    events: Sequence[Event],
) -> Run:
    run, counter, t0 = Run(), itertools.count(), time.perf_counter()

    def now() -> float:
        return time.perf_counter() - t0

    async def worker(session: aiohttp.ClientSession) -> None:
        while (k := next(counter)) < max_requests:
            due = k / rate if rate else now()
            if due >= seconds:
                return
            await asyncio.sleep(max(0.0, due - now()))
            kind, path = pick()
            sent = now()
            status = await _get(session, base + path)
            ms, lag_ms = (now() - sent) * 1000, (sent - due) * 1000
            run.samples.append(Sample(due, ms, lag_ms, status, kind))

    async def fire(event: Event) -> None:
        await asyncio.sleep(event.at - now())
        began = now()
        await asyncio.to_thread(event.run)
        run.events.append((began, now(), event.what))

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [fire(e) for e in events] + [worker(session) for _ in range(concurrency)]
        await asyncio.gather(*tasks)
    return run


def run_load(
    base: str,
    pick: Callable[[], Request],
    *,
    seconds: float,
    max_requests: int,
    concurrency: int = 16,
    rate: float | None = None,
    events: Sequence[Event] = (),
) -> Run:
    """Load `base` with `pick()`ed requests until `seconds` or `max_requests`, whichever
    comes first, from core 1."""
    load = _load(
        base,
        pick,
        seconds=seconds,
        max_requests=max_requests,
        concurrency=concurrency,
        rate=rate,
        events=events,
    )
    with pinned(SIDE_CORE), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(load)


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest rank; NaN for no values."""
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(q / 100 * len(sorted_ms)) - 1))]


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    requests: int
    errors: int  # not 200, or no answer
    p50_ms: float
    p99_ms: float
    max_lag_ms: float


def windows(samples: Sequence[Sample], edges: Sequence[float]) -> list[Window]:
    """One window per pair of consecutive `edges` (s from the start), by when requests were
    due or sent."""
    found = []
    for start, end in itertools.pairwise(edges):
        inside = [s for s in samples if start <= s.at < end]
        ms = sorted(s.ms for s in inside)
        errors = sum(s.status != 200 for s in inside)
        lag = max((s.lag_ms for s in inside), default=0.0)
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        found.append(Window(start, end, len(inside), errors, p50, p99, lag))
    return found


def every(width: float, until: float) -> list[float]:
    """Edges of `width`-second windows from 0 to `until`."""
    return [i * width for i in range(int(until / width + 0.5) + 1)]
