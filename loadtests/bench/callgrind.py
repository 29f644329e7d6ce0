"""Instructions-per-request run: each contender alone under callgrind.

Wall-clock numbers on a shared VM swing by tens of percent between runs; the number
of instructions a contender executes for the same requests repeats within a fraction
of a percent. So: start it under valgrind, warm it up, zero the counters, send exactly
N keep-alive GETs, dump, and divide the dump's `summary:` by N.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from loadtests.bench.stage import (
    PAGE,
    PAGE_PATH,
    Contender,
    Processes,
    contenders,
    wait_until_answers,
)

WARMUP = 200
THREADS = 4
# Probes only at start-up: valgrind stretches time ~50x, so a probe every 250 ms would
# be charged to each request ~50x over. And a generous probe timeout: the first probe
# runs cold code under valgrind, and failing it would send every request to self-help.
PROBE_INTERVAL_MS = 600_000
PROBE_TIMEOUT_MS = 30_000
STARTUP_SECONDS = 600.0  # Python and its imports under valgrind


class Client:
    """`THREADS` keep-alive connections, kept open from the warm-up to the dump so that
    no connection set-up or teardown falls into the measured window."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.conns = [
            http.client.HTTPConnection("127.0.0.1", port, timeout=120) for _ in range(THREADS)
        ]

    @staticmethod
    def _send(conn: http.client.HTTPConnection, count: int) -> list[int]:
        """The statuses of the answers that were not the page."""
        wrong = []
        for _ in range(count):
            conn.request("GET", PAGE_PATH)
            answer = conn.getresponse()
            if answer.read() != PAGE or answer.status != 200:
                wrong.append(answer.status)
        return wrong

    def send(self, count: int) -> None:
        """Exactly `count` requests, spread over the connections, all checked."""
        shares = [count // THREADS + (i < count % THREADS) for i in range(THREADS)]
        with ThreadPoolExecutor(THREADS) as pool:
            wrong = [status for ws in pool.map(self._send, self.conns, shares) for status in ws]
        if wrong:
            raise SystemExit(
                f"bench: {self.name}: {len(wrong)} of {count} answers were not the page "
                f"(statuses {sorted(set(wrong))})"
            )

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


@contextmanager
def _pinned(core: int) -> Iterator[None]:
    """Pin this thread (and the client threads it starts) to `core`, as wrk is."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _callgrind_control(option: str, pid: int) -> None:
    subprocess.run(  # noqa: S603
        ["callgrind_control", option, str(pid)],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=300,
    )


def _summary(dump: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"^summary:\s+(\d+)", dump.read_text() if dump.exists() else "", re.M)
        if match:
            return int(match.group(1))
        time.sleep(0.2)
    raise SystemExit(f"bench: no summary in {dump}")


def measure(tmp: Path, procs: Processes, contender: Contender, *, requests: int) -> float:
    """Instructions (Ir) per request of one contender."""
    out = tmp / f"cg.{contender.slug}.out"
    pid = procs.spawn(
        0, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *contender.argv
    )
    try:
        wait_until_answers(contender.ready_url, seconds=STARTUP_SECONDS)
        client = Client(contender.name, contender.port)
        try:
            with _pinned(1):
                client.send(WARMUP)
                _callgrind_control("-z", pid)
                client.send(requests)
                _callgrind_control("-d", pid)
        finally:
            client.close()
    finally:
        procs.stop(pid, grace=120)
    return _summary(Path(f"{out}.1")) / requests


def run_instructions(
    tmp: Path, upstream: str, procs: Processes, *, requests: int
) -> dict[str, float]:
    """Ir per request of each contender, one at a time on core 0."""
    entrants = contenders(tmp, upstream, health=(PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS))
    return {c.name: measure(tmp, procs, c, requests=requests) for c in entrants}
