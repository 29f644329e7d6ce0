"""Wall-clock run: wrk against each contender in alternating rounds (shared by the benches)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench import nginx
from loadtests.bench.stage import (
    Contender,
    Processes,
    contenders,
    same_bytes,
    start,
    wait_ready,
)


@dataclass(frozen=True, slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # CPU time of the proxy process per request (user + system)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"bench: cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (nginx's master and its worker)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:  # the thread ended meanwhile
                continue
    return found


def _tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            total += _cpu_seconds(p)
        except OSError:  # a child that ended meanwhile: its time is gone with it
            continue
    return total


def _find(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"bench: unexpected wrk output:\n{out}")
    return match.group(1)


def wrk(url: str, seconds: int, pid: int) -> Result:
    """One wrk run; CPU counted for `pid` and its child processes (nginx's worker)."""
    before = _tree_cpu_seconds(pid)
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    cpu = _tree_cpu_seconds(pid) - before
    total = int(_find(r"(\d+) requests in", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Result(
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"^\s+99%\s+(\S+)", out)),
        errors=(int(m.group(1)) if m else 0) + (sum(map(int, s.groups())) if s else 0),
        cpu_us=cpu / max(total, 1) * 1e6,
    )


def alternate(
    entrants: Sequence[Contender], pids: Mapping[str, int], *, seconds: int, rounds: int
) -> dict[str, list[Result]]:
    """Contenders already up (their pids by name): a 2 s warm-up each, then one wrk run
    each per round, in turn, so that machine noise hits all alike."""
    for c in entrants:
        wrk(c.url, 2, pids[c.name])
    results: dict[str, list[Result]] = {c.name: [] for c in entrants}
    for _ in range(rounds):
        for c in entrants:
            results[c.name].append(wrk(c.url, seconds, pids[c.name]))
    return results


def run_wallclock(
    tmp: Path, upstream: str, procs: Processes, *, seconds: int, rounds: int
) -> dict[str, list[Result]]:
    """All proxy contenders up at once on core 0 (the front door with its default
    configuration, probes on; nginx proxy_pass with one worker), checked to serve the
    page, then `alternate`."""
    entrants = [*contenders(tmp, upstream), nginx.proxy_pass(tmp, upstream)]
    pids = {c.name: start(procs, c) for c in entrants}
    for c in entrants:
        wait_ready(c)
    same_bytes([c.url for c in entrants])
    results = alternate(entrants, pids, seconds=seconds, rounds=rounds)
    for pid in pids.values():
        procs.stop(pid)
    return results
