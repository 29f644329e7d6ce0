"""The benches' two measurements (docs/benchmarks.md, "Method"): wall clock (wrk, CPU per
request from /proc) and instructions per request (callgrind, exactly N GETs)."""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from loadtests.bench.stage import Contender, start, wait_ready
from sims.harness.procs import Processes, family_cpu_seconds, pinned

T = TypeVar("T")
WARMUP_S = 2  # each contender's wrk warm-up before the rounds
WARMUP = 200  # callgrind: GETs before the counters are zeroed
THREADS = 4  # callgrind: keep-alive connections, one thread each
# Under callgrind (why: docs/benchmarks.md, "Instructions"): probes only at start-up, with
# a generous timeout (failing the cold first one would send every request to self-help);
# no load shedding (a door shedding valgrind's loop lag would be counted on another path).
PROBES: dict[str, Mapping[str, object]] = {
    "health": {"interval_ms": 600_000, "timeout_ms": 30_000},
    "overload": {"enabled": False},
}
STARTUP_SECONDS = 600.0  # Python and its imports under valgrind
PIPELINE_LUA: Final = Path(__file__).with_name("pipeline.lua")


@dataclass(frozen=True, slots=True, kw_only=True)
class Wrk:
    """What one wrk run printed."""

    responses: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # "Non-2xx or 3xx responses"
    socket_errors: int  # connect, read, write and timeout errors together


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"bench: cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _find(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"bench: unexpected wrk output:\n{out}")
    return match.group(1)


def run_wrk(
    url: str, seconds: int, *, connections: int = 32, script: Path | None = None,
    script_args: Sequence[str] = (),
) -> Wrk:  # fmt: skip
    """wrk -t1 on core 1 (a Lua `script` with its `script_args`, if given), read."""
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
           *(["-s", str(script)] if script else []), url,
           *(["--", *script_args] if script_args else [])]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Wrk(
        responses=int(_find(r"(\d+) requests in", out)),
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"^\s+99%\s+(\S+)", out)),
        non_2xx=int(m.group(1)) if m else 0,
        socket_errors=sum(map(int, s.groups())) if s else 0,
    )


def alternate(
    entrants: Sequence[Contender], measure: Callable[[Contender, str, int], T], *,
    seconds: int, rounds: int, keep_warmup: bool = False,
) -> dict[str, list[T]]:  # fmt: skip
    """`measure(contender, label, seconds)` for each contender in turn: a WARMUP_S warm-up
    each ("warm-up", kept only if `keep_warmup`), then once per round ("round N")."""
    runs: dict[str, list[T]] = {c.name: [] for c in entrants}
    plan = [("warm-up", WARMUP_S)] + [(f"round {i + 1}", seconds) for i in range(rounds)]
    for label, length in plan:
        for c in entrants:
            run = measure(c, label, length)
            if keep_warmup or label != "warm-up":
                runs[c.name].append(run)
    return runs


@dataclass(frozen=True, slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # CPU time of the server's processes per request (user + system)


def wallclock(
    entrants: Sequence[Contender], pids: Mapping[str, int], *, seconds: int, rounds: int,
    pipeline: int = 1,
) -> dict[str, list[Result]]:  # fmt: skip
    """Contenders already up (their pids by name): `alternate` wrk runs, each one's CPU
    counted for the contender's pid and its child processes (nginx's worker); `pipeline` > 1:
    that many GETs written at once on each connection (pipeline.lua)."""

    def one(c: Contender, _: str, length: int) -> Result:
        before = family_cpu_seconds(pids[c.name])
        script = PIPELINE_LUA if pipeline > 1 else None
        run = run_wrk(c.url, length, script=script, script_args=[str(pipeline)] if script else [])
        cpu = family_cpu_seconds(pids[c.name]) - before
        p50, p99 = (run.p50_ms, run.p99_ms) if pipeline == 1 else (0.0, 0.0)  # per batch: none
        return Result(run.rps, p50, p99, run.non_2xx + run.socket_errors,
                      cpu / max(run.responses, 1) * 1e6)  # fmt: skip

    return alternate(entrants, one, seconds=seconds, rounds=rounds)


@dataclass(frozen=True, slots=True)
class Counted:
    ir: float  # instructions per request
    body: bytes  # the page every counted answer was
    seconds: float  # wall time of the counted window (clock-driven timers fire in it)
    idle_ir_per_s: float | None = None  # after it, with no requests: the timers alone


class Client:
    """`THREADS` keep-alive connections, open from the warm-up to the dump, so that no
    connection set-up or teardown falls into the counted window. Every answer must be 200
    with `expected` as body (None: the first answer's). Not wrk or locust: exactly N requests
    must reach the server between `-z` and `-d`, each checked, and wrk runs for a time."""

    def __init__(self, contender: Contender, expected: bytes | None) -> None:
        self.name, self.path, self.expected = contender.name, contender.page_path, expected
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
        answers = (self._get(conn) for _ in range(count))
        return [status for status, body in answers if body != self.expected or status != 200]

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
            raise SystemExit(f"bench: {self.name}: {len(wrong)} of {count} answers were not "
                             f"the page (statuses {sorted(set(wrong))})")  # fmt: skip

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


def callgrind_control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True,  # noqa: S603, S607
                   capture_output=True, timeout=300)  # fmt: skip


def counted_window(pid: int, work: Callable[[], object]) -> float:
    """Zero callgrind's counters, run `work`, dump them; the seconds it took."""
    callgrind_control("-z", pid)
    began = time.monotonic()
    work()
    callgrind_control("-d", pid)
    return time.monotonic() - began


def dump_total(dump: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"^summary:\s+(\d+)", dump.read_text() if dump.exists() else "", re.M)
        if match:
            return int(match.group(1))
        time.sleep(0.2)
    raise SystemExit(f"bench: no summary in {dump}")


def instructions(
    tmp: Path, procs: Processes, contender: Contender, *, requests: int,
    expected: bytes | None, idle: float = 0.0,
) -> Counted:  # fmt: skip
    """Instructions (Ir) per request of one contender, alone on core 0 under callgrind;
    every answer checked against `expected` (None: the first answer). `idle` > 0: then
    also its Ir per second over `idle` seconds without requests (dump 2): what runs by the
    clock alone."""
    out = tmp / f"cg.{contender.slug}.out"
    valgrind = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
    pid = start(procs, contender, wrap=valgrind)
    idle_rate = None
    try:
        wait_ready(contender, seconds=STARTUP_SECONDS)
        client = Client(contender, expected)
        try:
            with pinned(1):
                client.send(WARMUP)
                seconds = counted_window(pid, lambda: client.send(requests))
        finally:
            client.close()
        if idle > 0:
            idle_s = counted_window(pid, lambda: time.sleep(idle))
            idle_rate = dump_total(Path(f"{out}.2")) / idle_s
    finally:
        procs.stop(pid, grace=120)
    assert client.expected is not None  # set by the first send
    return Counted(dump_total(Path(f"{out}.1")) / requests, client.expected, seconds, idle_rate)
