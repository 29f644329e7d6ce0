"""Part 2 of the self-help bench: which tier answers under a mixed read load.

Both front doors run with `[selfhelp] max_age_s = MAX_AGE_S` (5 s): L1 (cache/local.py
`L1Cache`) is TTL'd to max-age, and so is the page hot path (cache/web.py `bulletin`), so
with it every L1 entry expires several times during the mixed load and the requests after
each expiry re-read the bulletin from Redis, as in production once a minute (default
60 s). With the default the 20 s load would never outlive an L1 entry and show L1 only.

- warm front door: started against an empty Redis with the community sim up; once its
  start-up fill is done (every bulletin fetched from the origin into L1 and Redis), the
  mixed load (`loadgen.Mix.mixed`) for `seconds`;
- cold replica: a second front door started against the Redis the first one filled, with
  the community sim `down`; the mixed load from the moment it accepts connections, for
  its first `requests` requests.

Counts are deltas of `switchboard_cache_lookups_total{tier,result}` on each front door's
/metrics, and the requests the community sim served (by path).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from loadtests.bench.loadgen import Mix, Run, run_load
from loadtests.bench.selfhelp_pages import DOOR_START_S
from loadtests.bench.selfhelp_stage import Lookups, SelfHelpStage, fill_seconds, lookups
from loadtests.bench.stage import Contender, start, wait_ready, wait_until_answers

CONCURRENCY = 16
MAX_AGE_S = 5  # [selfhelp] max_age_s of both front doors here: see the docstring
REPLICA_MAX_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class HitRun:
    name: str
    seconds: float  # of load
    requests: Mapping[str, int]  # by kind
    errors: int  # answers other than 200, or none
    lookups: Lookups  # during the load only
    community: Mapping[str, int]  # requests the community sim served during the load
    fill_s: float | None = None  # from listening to the end of the start-up fill

    def count(self, tier: str, *results: str) -> int:
        """Lookups of `tier` with any of `results` (all results if none given)."""
        return int(
            sum(
                n
                for (t, r), n in self.lookups.items()
                if t == tier and (not results or r in results)
            )
        )

    def ratio(self, tier: str) -> float | None:
        hit, miss = self.count(tier, "hit"), self.count(tier, "miss")
        return hit / (hit + miss) if hit + miss else None

    @property
    def origin_fetches(self) -> int:
        """Requests for a bulletin sent to the origin, whatever came of them."""
        return self.count("origin", "hit", "miss", "error")


def _delta(after: Lookups, before: Lookups) -> Lookups:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _hit_run(
    name: str, run: Run, found: Lookups, community: Mapping[str, int], door: Contender | None
) -> HitRun:
    """`door`: whose log tells how long its start-up fill took (None: not this run's)."""
    log = door.log.read_text(errors="replace") if door and door.log else ""
    return HitRun(
        name=name,
        seconds=max((s.at for s in run.samples), default=0.0),
        requests=Counter(s.kind for s in run.samples),
        errors=sum(s.status != 200 for s in run.samples),
        lookups=found,
        community=community,
        fill_s=fill_seconds(log),
    )


def run_warm(stage: SelfHelpStage, mix: Mix, *, seconds: float) -> tuple[HitRun, HitRun]:
    """The start-up fill, then the mixed load, on one front door: (fill, load)."""
    stage.community_requests(reset=True)
    door = stage.door("mixed", page_path="/help", max_age_s=MAX_AGE_S)
    pid = start(stage.procs, door)
    wait_ready(door, seconds=DOOR_START_S)
    base = f"http://127.0.0.1:{door.port}"
    filled = lookups(base)
    fill = _hit_run(
        "warm front door: start-up fill", Run(), filled, stage.community_requests(), door
    )
    stage.community_requests(reset=True)
    run = run_load(
        base,
        mix.mixed,
        seconds=seconds,
        max_requests=int(seconds * 10_000),
        concurrency=CONCURRENCY,
    )
    during = _delta(lookups(base), filled)
    stage.procs.stop(pid)
    load = _hit_run("warm front door: mixed load", run, during, stage.community_requests(), None)
    return fill, load


def run_cold_replica(stage: SelfHelpStage, mix: Mix, *, requests: int) -> HitRun:
    """A second front door (same config), Redis already filled, the community site down."""
    stage.community("down")
    stage.community_requests(reset=True)
    door = stage.door("replica", page_path="/help", max_age_s=MAX_AGE_S)
    pid = start(stage.procs, door)
    base = f"http://127.0.0.1:{door.port}"
    try:
        wait_until_answers(f"{base}/healthz", seconds=DOOR_START_S)
        run = run_load(
            base,
            mix.mixed,
            seconds=REPLICA_MAX_SECONDS,
            max_requests=requests,
            concurrency=CONCURRENCY,
        )
        found = lookups(base)
    finally:
        stage.procs.stop(pid)
        stage.community("up")
    name = f"cold replica, community down: first {requests} requests"
    return _hit_run(name, run, found, stage.community_requests(), door)


def run_hits(
    stage: SelfHelpStage, *, seconds: float, replica_requests: int, seed: int = 1
) -> list[HitRun]:
    mix = Mix(stage.seed, rng=random.Random(seed))
    fill, load = run_warm(stage, mix, seconds=seconds)
    return [fill, load, run_cold_replica(stage, mix, requests=replica_requests)]
