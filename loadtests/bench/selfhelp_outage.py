"""Part 3 of the self-help bench: bulletin pages while Redis dies and comes back.

A front door with the default configuration; every bulletin requested once (so that
none is stale and refreshed in the foreground during the test); then a paced load of
bulletin pages (Zipf-like popularity, `rate` requests/s). `before` s in, our
redis-server gets SIGKILL; `during` s later a new one starts on the same port (empty:
no persistence); the load goes on `after` s more. Reported per `width`-second window.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from loadtests.bench.loadgen import Event, Mix, Request, Run, Window, every, run_load, windows
from loadtests.bench.selfhelp_pages import DOOR_START_S
from loadtests.bench.selfhelp_stage import READY_LOG, Lookups, SelfHelpStage, get, lookups
from loadtests.bench.stage import ops_base, start, wait_ready

CONCURRENCY = 32
KILLED = "redis-server killed (SIGKILL)"
RESTARTED = "redis-server restarted (empty)"


@dataclass(frozen=True, slots=True)
class OutageRun:
    rate: float
    width: float
    windows: list[Window]  # every `width` s
    phases: list[Window]  # before the kill, Redis down, after the restart
    events: list[tuple[float, float, str]]  # began, ended, what (s from the start)
    cuts: tuple[float, float]  # when the kill and the restart were due
    lookups: Lookups  # during the paced load
    redis_reachable_after: bool
    log: list[str]  # what the self-help layer logged


def _every_bulletin(stage: SelfHelpStage) -> tuple[int, Callable[[], Request]]:
    ids = itertools.cycle(t.id for t in stage.seed.topics)

    def pick() -> Request:
        return "bulletin", f"/help/bulletins/{next(ids)}"

    return len(stage.seed.topics), pick


def _selfhelp_log(text: str) -> list[str]:
    """What the self-help layer logged, but its start-up line: first line of each entry."""
    entry = re.compile(r" [A-Z]+ (cache\.|switchboard\.selfhelp)")
    return [ln[:220] for ln in text.splitlines() if entry.search(ln) and READY_LOG not in ln]


def _paced(
    stage: SelfHelpStage,
    base: str,
    *,
    seed: int,
    rate: float,
    cuts: tuple[float, float],
    total: float,
) -> Run:
    """The paced page load, Redis killed at cuts[0] and started again at cuts[1]."""
    events = [
        Event(cuts[0], KILLED, stage.kill_redis),
        Event(cuts[1], RESTARTED, stage.start_redis),
    ]
    mix = Mix(stage.seed, rng=random.Random(seed))
    return run_load(
        base,
        mix.bulletin,
        seconds=total,
        max_requests=int(rate * total),
        concurrency=CONCURRENCY,
        rate=rate,
        events=events,
    )


def run_outage(
    stage: SelfHelpStage,
    *,
    before: float = 10.0,
    during: float = 10.0,
    after: float = 10.0,
    rate: float = 500.0,
    width: float = 2.0,
    seed: int = 3,
) -> OutageRun:
    door = stage.door("outage", page_path="/help")
    pid = start(stage.procs, door)
    base = f"http://127.0.0.1:{door.port}"
    try:
        wait_ready(door, seconds=DOOR_START_S)
        count, pick = _every_bulletin(stage)
        run_load(base, pick, seconds=60.0, max_requests=count, concurrency=8)
        before_load = lookups(base)
        total = before + during + after
        run = _paced(stage, base, seed=seed, rate=rate, cuts=(before, before + during), total=total)
        after_load = lookups(base)
        status = json.loads(get(f"{ops_base(base)}/api/v1/status")[2])
    finally:
        stage.procs.stop(pid)
    assert door.log is not None
    return OutageRun(
        rate=rate,
        width=width,
        windows=windows(run.samples, every(width, total)),
        phases=windows(run.samples, [0.0, before, before + during, total]),
        events=sorted(run.events),
        cuts=(before, before + during),
        lookups={k: v - before_load.get(k, 0) for k, v in after_load.items()},
        redis_reachable_after=bool(status["redis"].get("reachable")),
        log=_selfhelp_log(door.log.read_text(errors="replace")),
    )
