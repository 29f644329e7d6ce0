"""The self-help bench's stage and its three parts (docs/benchmarks.md, "Method"): a healthy
call center (the nginx upstream), a redis-server of ours and the community simulator as
origin, all on the side core; `pages` (1), `hits` (2), `outage` (3)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests.bench import nginx
from loadtests.bench import stage as s
from loadtests.bench.load import Event, Plan, Run, Window, every, run_load, windows
from loadtests.bench.measure import PROBES, Counted, Result, instructions, wallclock
from loadtests.bench.stage import READY_LOG, Contender
from loadtests.spike.readings import LOOKUPS
from sims.community_seed import DEFAULT_SEED, Seed, build_seed
from sims.harness.ports import fetch, free_port, post, wait_http
from sims.harness.procs import Processes
from sims.harness.redis import start_redis

TOPICS = 300  # the community sim's default, and its default seed: the same bulletins here
BARE_PAGE = "bare aiohttp, same bytes"  # the page's body and headers (the goal's baseline)
BARE_BODY = "bare aiohttp, same body only"  # Content-Type alone: the baseline until 2026-12
PAGE_MAX_AGE_S = 3600  # part 1: see the docstring
HIT_MAX_AGE_S = 5  # part 2: see the docstring
IDLE_S = 10.0  # callgrind: Ir/s of each contender with no requests, after the counted ones
# Headers every server writes itself (Content-Type is given apart); nginx also its ETag and
# Server. The rest of the front door's answer is copied, Age and X-Request-ID as they were.
OWN = frozenset({"content-length", "content-type", "date", "connection", "transfer-encoding"})
NGINX_OWN = OWN | {"etag", "server"}
KILLED, RESTARTED = "redis-server killed (SIGKILL)", "redis-server restarted (empty)"
Lookups = dict[tuple[str, str], float]  # (tier, result) -> count


def get(url: str) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of a loopback GET (4xx/5xx too)."""
    status, headers, body = fetch(url)
    return status, headers.get("Content-Type", ""), body


def lookups(door: Contender) -> Lookups:
    """`switchboard_cache_lookups_total` by (tier, result), scraped from /metrics."""
    return {(t, r): v for (t, r), v in door.counter(LOOKUPS, "tier", "result").items()}


def fill_seconds(log: str) -> float | None:
    """From "listening" to the end of the self-help start-up fill, by the door's log."""
    stamps = {}
    for line in log.splitlines():
        for key in ("listening on", READY_LOG):
            if key in line and key not in stamps:
                stamps[key] = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")  # noqa: DTZ007
    if len(stamps) < 2:
        return None
    return (stamps[READY_LOG] - stamps["listening on"]).total_seconds()


@dataclass(slots=True)
class SelfHelpStage:
    tmp: Path
    procs: Processes
    upstream: str = ""  # a healthy call center, so that no outage banner shows
    origin: str = ""
    control: str = ""
    redis_port: int = 0
    redis_pid: int = 0
    seed: Seed = field(default_factory=lambda: build_seed(TOPICS, DEFAULT_SEED))

    def start(self) -> None:
        self.upstream = nginx.start_upstream(self.tmp, self.procs)
        self.redis_port = free_port()
        self.start_redis()
        self.origin, self.control = s.start_community(self.procs, self.tmp, topics=TOPICS)

    def start_redis(self) -> None:
        """A redis-server of ours (no persistence) on `redis_port`; again after a kill."""
        self.redis_pid = start_redis(self.procs, self.tmp, port=self.redis_port, core=s.SIDE_CORE,
                                     log=self.tmp / "redis.log").pid  # fmt: skip

    def community(self, mode: str) -> None:
        """Switch the community sim: up, down, ..."""
        post(f"{self.control}/_sim/mode", {"mode": mode})

    def community_requests(self, *, reset: bool = False) -> dict[str, int]:
        """Requests the community sim served, by path; `reset` zeroes them afterwards."""
        state = json.loads(get(f"{self.control}/_sim/state")[2])
        counts: dict[str, int] = state["requests_by_path"]
        if reset:
            post(f"{self.control}/_sim/reset")
        return counts

    def door(
        self, slug: str, *, page_path: str = "/help", name: str = s.DOOR,
        ready_log: str | None = READY_LOG, probes: bool = False, max_age_s: int | None = None,
        workers: int | None = None,
    ) -> Contender:  # fmt: skip
        """A front door on fresh ports: [redis] and [selfhelp] origin set to ours (no
        snapshot), one healthy call center; otherwise the defaults, except callgrind's
        `probes` (only at start-up), `[selfhelp] max_age_s` and `[server] workers`."""
        settings: dict[str, Mapping[str, object]] = dict(PROBES) if probes else {}
        if max_age_s is not None:
            settings["selfhelp"] = {"max_age_s": max_age_s}
        if workers is not None:
            settings["server"] = {"workers": workers}
        return s.door(
            self.tmp, slug, name=name, page_path=page_path, log=True, ready_log=ready_log,
            redis_port=self.redis_port, community_port=self.origin, data_dir=self.tmp,
            snapshot=False, centers=[("cc", self.upstream)], settings=settings,
        )  # fmt: skip

    def bares(
        self, slug: str, path: str, body: bytes, content_type: str, headers: Mapping[str, str]
    ) -> list[Contender]:
        """The bare aiohttp app (bare.py page) answering `body` at `path` with `content_type`
        and `headers` (BARE_PAGE), and again with Content-Type alone (BARE_BODY)."""
        page, named = self.tmp / f"page-{slug}.html", self.tmp / f"headers-{slug}.json"
        page.write_bytes(body)
        named.write_text(json.dumps(dict(headers)))
        app = ("page", str(page), content_type)
        return [
            s.bare(BARE_PAGE, slug, *app, str(named), page_path=path),
            s.bare(BARE_BODY, f"{slug}-body", *app, page_path=path),
        ]


@dataclass(frozen=True, slots=True)
class PageRun:
    bulletin_id: int
    size: int
    content_type: str
    wall: dict[str, list[Result]]
    counted: dict[str, Counted] | None  # callgrind, by contender name


def pages(
    stage: SelfHelpStage, bulletin_id: int, *, seconds: int, rounds: int, requests: int | None
) -> PageRun:
    """Part 1: wall clock with the three up together on core 0, then callgrind (the front
    door with probes only at start-up, then the bare app answering exactly its page)."""
    procs, path = stage.procs, f"/help/bulletins/{bulletin_id}"
    front = stage.door("door", page_path=path, max_age_s=PAGE_MAX_AGE_S)
    pids = {front.name: s.start(procs, front)}
    s.wait_ready(front, seconds=s.DOOR_START_S)
    answers = [get(front.url) for _ in range(3)]
    status, content_type, body = answers[-1]
    if status != 200 or answers[1] != answers[2]:
        raise SystemExit(f"bench: {front.url} does not answer one stable page ({status})")
    headers = dict(fetch(front.url)[1].items())
    same = {k: v for k, v in headers.items() if k.lower() not in OWN}
    copied = {k: v for k, v in headers.items() if k.lower() not in NGINX_OWN}
    static = nginx.static_page(stage.tmp, page_path=path, body=body, content_type=content_type,
                               headers=copied)  # fmt: skip
    entrants = [front, *stage.bares("bare", path, body, content_type, same), static]
    for c in entrants[1:]:
        pids[c.name] = s.start(procs, c)
        s.wait_ready(c)
    copies = {BARE_PAGE: same, nginx.NGINX_STATIC: copied}  # each sends them as captured
    s.same_page(entrants, body, content_type, headers=copies)
    wall = wallclock(entrants, pids, seconds=seconds, rounds=rounds)
    s.same_page(entrants, body, content_type, headers=copies)
    for pid in pids.values():
        procs.stop(pid)
    counted = None
    if requests is not None:
        cg = stage.door("door-cg", page_path=path, probes=True, max_age_s=PAGE_MAX_AGE_S)
        counted = {cg.name: instructions(stage.tmp, procs, cg, requests=requests, expected=None,
                                         idle=IDLE_S)}  # fmt: skip
        page = counted[cg.name].body
        for base in stage.bares("bare-cg", path, page, content_type, same):
            counted[base.name] = instructions(stage.tmp, procs, base, requests=requests,
                                              expected=page, idle=IDLE_S)  # fmt: skip
    return PageRun(bulletin_id, len(body), content_type, wall, counted)


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
        found = self.lookups.items()
        return int(sum(n for (t, r), n in found if t == tier and (not results or r in results)))

    def ratio(self, tier: str) -> float | None:
        hit, miss = self.count(tier, "hit"), self.count(tier, "miss")
        return hit / (hit + miss) if hit + miss else None

    @property
    def origin_fetches(self) -> int:
        """Requests for a bulletin sent to the origin, whatever came of them."""
        return self.count("origin", "hit", "miss", "error")


def _hit_run(
    name: str, run: Run, found: Lookups, community: Mapping[str, int], door: Contender | None
) -> HitRun:
    """`door`: whose log tells how long its start-up fill took (None: not this run's)."""
    log = door.log.read_text(errors="replace") if door and door.log else ""
    seconds = max((r.due for r in run.records), default=0.0)
    errors = sum(r.status != 200 for r in run.records)
    kinds = Counter(r.kind for r in run.records)
    return HitRun(name, seconds, kinds, errors, found, community, fill_seconds(log))


def hits(
    stage: SelfHelpStage, *, seconds: float, replica_requests: int, seed: int = 1
) -> list[HitRun]:
    """Part 2: the warm door's start-up fill and mixed load, then the cold replica's first
    `replica_requests` requests with the community site down."""
    stage.community_requests(reset=True)
    warm = stage.door("mixed", max_age_s=HIT_MAX_AGE_S)
    pid = s.start(stage.procs, warm)
    s.wait_ready(warm, seconds=s.DOOR_START_S)
    filled = lookups(warm)
    fill = _hit_run("warm front door: start-up fill", Run(), filled,
                    stage.community_requests(reset=True), warm)  # fmt: skip
    plan = Plan(seconds=seconds, max_requests=int(seconds * 10_000), concurrency=16,
                pick="mixed", rng_seed=seed)  # fmt: skip
    run = run_load(warm.base, plan)
    during = {k: v - filled.get(k, 0) for k, v in lookups(warm).items() if v - filled.get(k, 0)}
    stage.procs.stop(pid)
    served = stage.community_requests(reset=True)
    load = _hit_run("warm front door: mixed load", run, during, served, None)
    stage.community("down")
    replica = stage.door("replica", max_age_s=HIT_MAX_AGE_S)
    pid = s.start(stage.procs, replica)
    try:
        wait_http(f"{replica.base}/healthz", what="bench", seconds=s.DOOR_START_S)
        plan = Plan(seconds=60.0, max_requests=replica_requests, concurrency=16, pick="mixed",
                    rng_seed=seed + 1)  # fmt: skip
        run = run_load(replica.base, plan)
        found = lookups(replica)
    finally:
        stage.procs.stop(pid)
        stage.community("up")
    name = f"cold replica, community down: first {replica_requests} requests"
    return [fill, load, _hit_run(name, run, found, stage.community_requests(), replica)]


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


def outage(
    stage: SelfHelpStage, *, before: float = 10.0, during: float = 10.0, after: float = 10.0,
    rate: float = 500.0, width: float = 2.0, seed: int = 3,
) -> OutageRun:  # fmt: skip
    """Part 3: a front door with the default configuration; every bulletin requested once
    (8 at a time: none stale and refreshed in the foreground during the test); then the
    paced load of bulletin pages, Redis killed `before` s in and restarted `during` s
    later, `after` s more."""
    front = stage.door("outage")
    pid = s.start(stage.procs, front)
    total, cuts = before + during + after, (before, before + during)
    try:
        s.wait_ready(front, seconds=s.DOOR_START_S)
        paths = tuple(("bulletin", f"/help/bulletins/{t.id}") for t in stage.seed.topics)
        run_load(front.base, Plan(seconds=60.0, max_requests=len(paths), concurrency=8,
                                  paths=paths))  # fmt: skip
        before_load = lookups(front)
        events = [Event(cuts[0], KILLED, lambda: stage.procs.kill(stage.redis_pid)),
                  Event(cuts[1], RESTARTED, stage.start_redis)]  # fmt: skip
        plan = Plan(seconds=total, max_requests=int(rate * total), concurrency=32, rate=rate,
                    pick="bulletin", rng_seed=seed)  # fmt: skip
        run = run_load(front.base, plan, events=events)
        after_load = lookups(front)
        status = json.loads(front.ops("/api/v1/status"))
    finally:
        stage.procs.stop(pid)
    assert front.log is not None
    entry = re.compile(r" [A-Z]+ (cache\.|switchboard\.selfhelp)")  # first line of each entry
    logged = front.log.read_text(errors="replace").splitlines()
    return OutageRun(
        rate=rate, width=width, windows=windows(run.records, every(width, total)),
        phases=windows(run.records, [0.0, *cuts, total]), events=sorted(run.events), cuts=cuts,
        lookups={k: v - before_load.get(k, 0) for k, v in after_load.items()},
        redis_reachable_after=bool(status["redis"].get("reachable")),
        log=[ln[:220] for ln in logged if entry.search(ln) and READY_LOG not in ln],
    )  # fmt: skip
