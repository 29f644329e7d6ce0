"""Instructions-per-request run: each contender alone under callgrind.

Wall-clock numbers on a shared VM swing by tens of percent between runs; the number
of instructions a contender executes for the same requests repeats within a fraction
of a percent. So: start it under valgrind, warm it up, zero the counters, send exactly
N keep-alive GETs, dump, and divide the dump's `summary:` by N.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.stage import (
    PAGE,
    Contender,
    Processes,
    contenders,
    pinned,
    start,
    wait_ready,
)

WARMUP = 200
THREADS = 4
# Probes only at start-up: valgrind stretches time ~50x, so a probe every 250 ms would
# be charged to each request ~50x over. And a generous probe timeout: the first probe
# runs cold code under valgrind, and failing it would send every request to self-help.
PROBE_INTERVAL_MS = 600_000
PROBE_TIMEOUT_MS = 30_000
STARTUP_SECONDS = 600.0  # Python and its imports under valgrind


@dataclass(frozen=True, slots=True)
class Counted:
    ir: float  # instructions per request
    body: bytes  # the page every counted answer was
    seconds: float  # wall time of the counted window (clock-driven timers fire in it)
    idle_ir_per_s: float | None = None  # after it, with no requests: the timers alone


class Client:
    """`THREADS` keep-alive connections, kept open from the warm-up to the dump so that
    no connection set-up or teardown falls into the measured window. Every answer must
    be 200 with `expected` as body; None: whatever the first answer was."""

    def __init__(self, contender: Contender, expected: bytes | None) -> None:
        self.name = contender.name
        self.path = contender.page_path
        self.expected = expected
        self.conns = [
            http.client.HTTPConnection("127.0.0.1", contender.port, timeout=120)
            for _ in range(THREADS)
        ]

    def _get(self, conn: http.client.HTTPConnection) -> tuple[int, bytes]:
        conn.request("GET", self.path)
        answer = conn.getresponse()
        return answer.status, answer.read()

    def _send(self, conn: http.client.HTTPConnection, count: int) -> list[int]:
        """The statuses of the answers that were not the page."""
        wrong = []
        for _ in range(count):
            status, body = self._get(conn)
            if body != self.expected or status != 200:
                wrong.append(status)
        return wrong

    def send(self, count: int) -> None:
        """Exactly `count` requests, spread over the connections, all checked."""
        if self.expected is None:
            status, self.expected = self._get(self.conns[0])
            count -= 1
            if status != 200:
                raise SystemExit(f"bench: {self.name}: first answer was {status}")
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


def callgrind_control(option: str, pid: int) -> None:
    subprocess.run(  # noqa: S603
        ["callgrind_control", option, str(pid)],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=300,
    )


def dump_total(dump: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"^summary:\s+(\d+)", dump.read_text() if dump.exists() else "", re.M)
        if match:
            return int(match.group(1))
        time.sleep(0.2)
    raise SystemExit(f"bench: no summary in {dump}")


def _idle_rate(pid: int, out: Path, seconds: float) -> float:
    """Ir per second with no requests at all (dump 2): what runs by the clock alone."""
    callgrind_control("-z", pid)
    began = time.monotonic()
    time.sleep(seconds)
    callgrind_control("-d", pid)
    return dump_total(Path(f"{out}.2")) / (time.monotonic() - began)


def measure(
    tmp: Path,
    procs: Processes,
    contender: Contender,
    *,
    requests: int,
    expected: bytes | None,
    idle: float = 0.0,
) -> Counted:
    """Instructions (Ir) per request of one contender, alone on core 0 under callgrind;
    every answer checked against `expected` (None: the first answer). `idle` > 0: then
    also its Ir per second over `idle` seconds without requests."""
    out = tmp / f"cg.{contender.slug}.out"
    valgrind = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
    pid = start(procs, contender, wrap=valgrind)
    try:
        wait_ready(contender, seconds=STARTUP_SECONDS)
        client = Client(contender, expected)
        try:
            with pinned(1):
                client.send(WARMUP)
                callgrind_control("-z", pid)
                began = time.monotonic()
                client.send(requests)
                callgrind_control("-d", pid)
                seconds = time.monotonic() - began
        finally:
            client.close()
        idle_rate = _idle_rate(pid, out, idle) if idle > 0 else None
    finally:
        procs.stop(pid, grace=120)
    assert client.expected is not None  # set by the first send
    ir = dump_total(Path(f"{out}.1")) / requests
    return Counted(ir, client.expected, seconds, idle_rate)


def run_instructions(
    tmp: Path, upstream: str, procs: Processes, *, requests: int
) -> dict[str, float]:
    """Ir per request of each proxy contender, one at a time on core 0."""
    entrants = contenders(tmp, upstream, health=(PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS))
    return {c.name: measure(tmp, procs, c, requests=requests, expected=PAGE).ir for c in entrants}
