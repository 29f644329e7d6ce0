"""Passive detection in haproxy mode: HAProxy's per-server counters fed to the pool.

HAProxy carries the customers, so the proxy outcomes the aiohttp path records per
request (failover/web.py -> `Pool.record_outcome`) happen inside HAProxy. Every
`stats_poll_ms` this reads `show stat` over the stats socket (HAProxy management guide,
"show stat", CSV) and turns the counters' growth since the last read into outcomes:

- `econ` (connect errors), `eresp` (response errors: resets, server timeouts) and
  `wretr` (retries: each one an attempt that failed): local failures, less the retries
  that a 5xx caused (HAProxy counts a retried 503 in `hrsp_5xx` and in `wretr`; the
  counters cannot tell which retry was which, so up to `hrsp_5xx` retries are taken
  for those: an approximation that can only under-count local failures);
- `hrsp_5xx`: backend failures (HAProxy counts 501/505 too; a rare over-count);
- `hrsp_1xx`..`hrsp_4xx`: successes.

Order inside one interval is lost, so successes are fed first and failures last: a run
of failures at the end of the interval counts, one in the middle is broken by the
successes around it, as it would have been. Each kind is capped per read at the
threshold that ejects (more says nothing new), so one read costs O(call centers).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from failover.haproxy_config import BACKEND
from failover.pool import Event, Pool
from kernel.breaker import Outcome, OutlierPolicy
from kernel.clock import Clock
from kernel.tasks import cancel_and_wait

log = logging.getLogger("switchboard.haproxy_stats")

MAX_STAT_BYTES = 1024 * 1024
READ_TIMEOUT = 1.0
_LOCAL = ("econ", "eresp", "wretr")
_OK = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx")


@dataclass(frozen=True, slots=True, kw_only=True)
class Counters:
    ok: int = 0
    backend: int = 0
    local: int = 0


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def parse_show_stat(text: str, *, names: Sequence[str]) -> dict[str, Counters]:
    """The counters of the call centers' servers in `show stat` CSV output (pure)."""
    wanted = {f"cc_{n}": n for n in names}
    reader = csv.DictReader(io.StringIO(text.removeprefix("# ")))
    out: dict[str, Counters] = {}
    for row in reader:
        if row.get("pxname") != BACKEND or row.get("svname") not in wanted:
            continue
        backend = _int(row.get("hrsp_5xx"))
        local = sum(_int(row.get(k)) for k in _LOCAL)
        out[wanted[row["svname"]]] = Counters(
            ok=sum(_int(row.get(k)) for k in _OK),
            backend=backend,
            # A 5xx retried elsewhere counts in `wretr` too: once is enough.
            local=max(0, local - min(backend, _int(row.get("wretr")))),
        )
    return out


def outcomes_between(before: Counters, after: Counters, *, policy: OutlierPolicy) -> list[Outcome]:
    """The outcomes to record for one server's counter growth (pure, bounded)."""
    if after.ok < before.ok or after.backend < before.backend or after.local < before.local:
        return []  # HAProxy restarted (counters reset): nothing to infer
    ok = min(after.ok - before.ok, 1)  # one success breaks a run as well as many
    backend = min(after.backend - before.backend, policy.consecutive_5xx)
    local = min(after.local - before.local, policy.consecutive_local_failures)
    return (
        [Outcome.SUCCESS] * ok
        + [Outcome.BACKEND_FAILURE] * backend
        + [Outcome.LOCAL_FAILURE] * local
    )


async def read_show_stat(path: str) -> str:
    async with asyncio.timeout(READ_TIMEOUT):
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_STAT_BYTES)
        try:
            writer.write(b"show stat -1 4 -1\n")  # every proxy, servers only
            await writer.drain()
            data = await reader.read(MAX_STAT_BYTES)
            chunks = [data]
            total = len(data)
            while data and total < MAX_STAT_BYTES:
                data = await reader.read(MAX_STAT_BYTES - total)
                chunks.append(data)
                total += len(data)
        finally:
            writer.close()
    return b"".join(chunks).decode("utf-8", "replace")


class StatsFeed:
    """The polling loop: one named task, bounded per read in time and bytes."""

    def __init__(
        self,
        pool: Pool,
        clock: Clock,
        observe: Callable[[Sequence[Event]], None],
        *,
        socket_path: str,
        interval: float,
        policy: OutlierPolicy,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._observe = observe
        self._path = socket_path
        self._interval = interval
        self._policy = policy
        self._last: Mapping[str, Counters] | None = None
        self._task: asyncio.Task[None] | None = None
        self.reads = 0  # successful reads, for tests
        self.fed: dict[str, int] = {}  # failures fed per call center, for tests and logs

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="haproxy-stats")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)

    def feed(self, current: Mapping[str, Counters]) -> None:
        last, self._last = self._last, current
        if last is None:
            return  # the first read is the baseline
        now = self._clock.monotonic()
        for name, after in current.items():
            before = last.get(name)
            if before is None:
                continue
            for outcome in outcomes_between(before, after, policy=self._policy):
                if outcome is not Outcome.SUCCESS:
                    self.fed[name] = self.fed.get(name, 0) + 1
                events = self._pool.record_outcome(name, outcome, now=now)
                if events:
                    self._observe(events)

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                text = await read_show_stat(self._path)
                self.feed(parse_show_stat(text, names=self._pool.names))
                self.reads += 1
                failing = False
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, ValueError, csv.Error) as exc:
                if not failing:  # once per outage of the socket, not every interval
                    log.warning("cannot read HAProxy stats at %s: %s", self._path, exc)
                failing = True
            await asyncio.sleep(self._interval)
