"""The callback bench's load: wrk POSTing valid JSON callbacks, each with its own
`Idempotency-Key`, against each contender in alternating rounds; after each run, the
stream entries it added are counted against the 202s wrk saw.

wrk stops at its deadline with up to one request in flight per connection; the server
still stores those, but wrk never counts their answers. So a run is sound when
0 <= entries - 202s <= connections. Fewer entries than 202s would be acks for callbacks
that were never stored (lost acks); the front door's own counter
(`switchboard_callbacks_accepted_total`) must also equal its entries, all in Redis.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.callbacks_stage import BODY, CallbackStage, door_accepted
from loadtests.bench.stage import DOOR, Contender

# The wall-clock bench's wrk output parsing (latency units, CPU of a process).
from loadtests.bench.wallclock import _cpu_seconds, _find, _ms

WARMUP_S = 2
SETTLE_S = 0.3  # entries unchanged this long: the server has finished what wrk left
SETTLE_MAX_S = 10.0

# One thread state per wrk thread: `tid` is set by `setup` (in the main state), the run's
# prefix comes after `--` on wrk's command line, the counter is per thread.
LUA = """
local counter = 0
local prefix = "run"
local threads = 0

wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = args[1] .. "-" .. tostring(tid)
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format()
end
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    label: str  # "warm-up", "round 1", ...
    rps: float  # wrk's Requests/sec
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the server's utime + stime per response
    redis_cpu_us: float  # redis-server's, per stream entry added
    responses: int
    non_2xx: int
    socket_errors: int
    entries: int  # stream entries added by the run, once the server settled
    counted: float | None  # front door: accepted_total{store="redis"} added
    spooled: float | None  # front door: accepted_total{store="spool"} added

    @property
    def acks(self) -> int:
        """202s wrk counted (non-2xx must be 0; no other 2xx is ever answered)."""
        return self.responses - self.non_2xx

    @property
    def accepted_per_s(self) -> float:
        return self.rps * self.acks / max(self.responses, 1)

    @property
    def server_busy(self) -> float:
        """The share of its core the server used: CPU seconds per second of load."""
        return self.rps * self.cpu_us / 1e6

    @property
    def unanswered(self) -> int:
        """Entries wrk never saw answered: in flight when it stopped."""
        return self.entries - self.acks

    def problems(self, connections: int) -> list[str]:
        found = []
        if self.non_2xx:
            found.append(f"{self.non_2xx} non-2xx")
        if self.socket_errors:
            found.append(f"{self.socket_errors} socket errors")
        if self.unanswered < 0:
            found.append(f"{-self.unanswered} lost acks (202 without an entry)")
        if self.unanswered > connections:
            found.append(f"{self.unanswered} entries beyond the 202s, more than in flight")
        if self.counted is not None and self.counted != self.entries:
            found.append(f"door counted {self.counted:.0f} stored, stream has {self.entries}")
        if self.spooled:
            found.append(f"{self.spooled:.0f} spooled, not in Redis")
        return found


def write_script(tmp: Path) -> Path:
    script = tmp / "callbacks.lua"
    script.write_text(LUA.replace("{body}", BODY.decode()))
    return script


def _settled(stage: CallbackStage, contender: Contender) -> int:
    last, since = stage.entries(contender), time.monotonic()
    deadline = since + SETTLE_MAX_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = stage.entries(contender)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_S:
            break
    return last


def run_wrk(
    stage: CallbackStage,
    contender: Contender,
    pid: int,
    *,
    script: Path,
    label: str,
    seconds: int,
    connections: int,
) -> Run:
    door = contender.name == DOOR
    entries, counted = stage.entries(contender), door_accepted(contender) if door else {}
    cpu, redis_cpu = _cpu_seconds(pid), _cpu_seconds(stage.redis_pid)
    prefix = f"{contender.slug}-{uuid.uuid4().hex[:12]}"
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    cmd += ["--latency", "-s", str(script), contender.url, "--", prefix]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    cpu, redis_cpu = _cpu_seconds(pid) - cpu, _cpu_seconds(stage.redis_pid) - redis_cpu
    added = _settled(stage, contender) - entries
    after = door_accepted(contender) if door else {}
    responses = int(_find(r"(\d+) requests in", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Run(
        label=label,
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"^\s+99%\s+(\S+)", out)),
        cpu_us=cpu / max(responses, 1) * 1e6,
        redis_cpu_us=redis_cpu / max(added, 1) * 1e6,
        responses=responses,
        non_2xx=int(m.group(1)) if m else 0,
        socket_errors=sum(map(int, s.groups())) if s else 0,
        entries=added,
        counted=after.get("redis", 0.0) - counted.get("redis", 0.0) if door else None,
        spooled=after.get("spool", 0.0) - counted.get("spool", 0.0) if door else None,
    )


def alternate(
    stage: CallbackStage,
    entrants: Sequence[Contender],
    pids: Mapping[str, int],
    *,
    script: Path,
    seconds: int,
    rounds: int,
    connections: int,
    warmup: bool = True,
) -> dict[str, list[Run]]:
    """Contenders already up (their pids by name): a 2 s warm-up each (if `warmup`), then
    one wrk run each per round, in turn, so that machine noise hits all alike. Every run
    is checked and kept; the report takes medians over the rounds only."""
    runs: dict[str, list[Run]] = {c.name: [] for c in entrants}
    plan = ([("warm-up", WARMUP_S)] if warmup else []) + [
        (f"round {i + 1}", seconds) for i in range(rounds)
    ]
    for label, length in plan:
        for c in entrants:
            run = run_wrk(
                stage,
                c,
                pids[c.name],
                script=script,
                label=label,
                seconds=length,
                connections=connections,
            )
            runs[c.name].append(run)
            print(
                f"bench: {c.name}, {label}: {run.accepted_per_s:.0f} accepted/s, "
                f"{run.acks} 202s, {run.entries} entries"
                + "".join(f"; {p}" for p in run.problems(connections))
            )
    return runs
