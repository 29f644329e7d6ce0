"""The self-help bench's report, in markdown (tables shared with the proxy bench)."""

from __future__ import annotations

import inspect
import os
import statistics
from collections.abc import Mapping

from cache.service import SelfHelpService
from failover.settings.models import SelfHelpSettings
from loadtests.bench.callgrind import Counted
from loadtests.bench.loadgen import MIX, Window
from loadtests.bench.nginx import NGINX_STATIC
from loadtests.bench.report import Plan, callgrind_method, instructions_table, wallclock_table
from loadtests.bench.selfhelp_hits import MAX_AGE_S as HIT_MAX_AGE_S
from loadtests.bench.selfhelp_hits import HitRun
from loadtests.bench.selfhelp_outage import OutageRun
from loadtests.bench.selfhelp_pages import IDLE_S, MAX_AGE_S, PageRun
from loadtests.bench.selfhelp_stage import BARE_PAGE, TOPICS
from loadtests.bench.stage import DOOR

KINDS = ("bulletin", "help", "search", "api")


def _demote(lines: list[str]) -> list[str]:
    return ["#" + line if line.startswith("## ") else line for line in lines]


def _background(counted: Mapping[str, Counted], requests: int, rps: float) -> list[str]:
    """What the clock-driven work weighs per request under callgrind, and without it."""
    door, bare = counted[DOOR], counted[BARE_PAGE]
    if door.idle_ir_per_s is None or bare.idle_ir_per_s is None:
        return []
    share = {n: (c.idle_ir_per_s or 0.0) * c.seconds / requests for n, c in counted.items()}
    net = {n: c.ir - share[n] for n, c in counted.items()}
    return [
        "",
        "Work that runs by the clock runs by the clock under valgrind too, where requests "
        "go ~50x slower, so it is charged to ~50x fewer requests. Measured: each contender's "
        f"Ir per second with no requests ({IDLE_S:.0f} s after the counted GETs): front door "
        f"{door.idle_ir_per_s:,.0f} Ir/s (timers: mostly Redis round trips, counted by "
        "command in results/idle.md: the backlog sample, the switches' sync, the Redis "
        "watch, the callback dispatcher's look at the stream, the rankings refresh; the "
        "hit flush has nothing to write when idle, so a lower bound), bare app "
        f"{bare.idle_ir_per_s:,.0f} Ir/s. Over the counted windows ({door.seconds:.1f} s and "
        f"{bare.seconds:.1f} s) that is ~{share[DOOR]:,.0f} and ~{share[BARE_PAGE]:,.0f} "
        "Ir/request; natively, at the front door's wall-clock rate above, "
        f"~{door.idle_ir_per_s / rps:,.0f}. Without it: front door {net[DOOR]:,.0f}, bare "
        f"app {net[BARE_PAGE]:,.0f} Ir/request, bare / front door "
        f"{net[BARE_PAGE] / net[DOOR]:.2f}.",
    ]


def _pages(p: PageRun, plan: Plan) -> list[str]:
    lines = [
        "## 1. Cached bulletin page: front door against bare aiohttp and nginx serving the "
        "same bytes",
        "",
        f"`GET /help/bulletins/{p.bulletin_id}` (a warm bulletin: in L1, page rendered and "
        f"cached): {p.size} B, `{p.content_type}`. The bare app answers the bytes fetched "
        "from the front door with the same Content-Type; nginx (Debian's, one worker, "
        "`access_log off`, `sendfile on`) serves them as a static file at that path with the "
        "same Content-Type and Cache-Control (and its own ETag, Last-Modified, "
        "Accept-Ranges). All were checked to answer exactly those bytes before and after "
        "the wall-clock rounds; the front door and the bare app also on every counted "
        "request under callgrind (nginx is not counted there). One server process each on "
        "core 0 (nginx: master and its one worker), wrk on core 1.",
        "",
    ]
    lines += _demote(
        wallclock_table(p.wall, plan, door=DOOR, baselines=(BARE_PAGE,), reference=NGINX_STATIC)
    )
    if p.counted is not None and plan.requests is not None:
        ir = {name: c.ir for name, c in p.counted.items()}
        lines += ["", *_demote(instructions_table(ir, plan, door=DOOR, baselines=(BARE_PAGE,)))]
        rps = statistics.median(r.rps for r in p.wall[DOOR])
        lines += _background(p.counted, plan.requests, rps)
    return lines


def _ratio(value: float | None) -> str:
    return "n/a (no lookups)" if value is None else f"{value:.2%}"


def _community(counts: Mapping[str, int]) -> str:
    topics = sum(n for path, n in counts.items() if path.startswith("/t/"))
    other = sum(counts.values()) - topics
    return f"{topics} bulletins, {other} lists" if counts else "0"


def _hit_row(r: HitRun) -> str:
    asked = " / ".join(str(r.requests.get(k, 0)) for k in KINDS)
    load = "start-up" if not r.requests else f"{r.seconds:.1f} s"
    fill = "-" if r.fill_s is None else f"{r.fill_s * 1000:.0f} ms"
    return (
        f"| {r.name} | {load} | {asked} | {r.errors} | {_ratio(r.ratio('l1'))} | "
        f"{_ratio(r.ratio('redis'))} | {r.origin_fetches} | {_community(r.community)} | {fill} |"
    )


def _lookup_row(r: HitRun) -> str:
    found = ", ".join(f"{t} {res}: {n:.0f}" for (t, res), n in sorted(r.lookups.items()))
    return f"| {r.name} | {found or 'none'} |"


def _shares() -> str:
    uptos = [upto for _, upto in MIX]
    return ", ".join(
        f"{k} {upto - below:.0%}" for (k, upto), below in zip(MIX, [0.0, *uptos[:-1]], strict=True)
    )


def _hits(runs: list[HitRun]) -> list[str]:
    shares = _shares()
    return [
        "## 2. Hit ratios under a mixed read load",
        "",
        f"Mixed load ({shares}; bulletin ids Zipf-like, rank r weighs 1/r over all {TOPICS} "
        "ids in a seeded shuffle; search for two title words; API = `/api/v1/bulletins`), "
        "closed loop, 16 connections, from core 1. Ratios are hit / (hit + miss) of "
        "`switchboard_cache_lookups_total{tier,result}` on the front door's /metrics, over "
        "the load only (the fill row: what the start-up fill counted before it). Both front "
        f"doors here run with `[selfhelp] max_age_s = {HIT_MAX_AGE_S}`, so that L1 entries "
        "expire during the load (see Method).",
        "",
        "| run | load | requests: bulletin / help / search / API | errors | L1 hit ratio "
        "| Redis hit ratio | origin fetches | community sim served | fill done after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_hit_row(r) for r in runs),
        "",
        "| run | lookups (tier result: count) |",
        "|---|---|",
        *(_lookup_row(r) for r in runs),
        "",
        *_explain(runs),
    ]


def _share(part: float, whole: float, digits: int = 2) -> str:
    return f"{part / whole:.{digits}%}" if whole else "n/a"


def _served_bulletins(community: Mapping[str, int]) -> tuple[int, int]:
    """Bulletin requests the community sim served, and how many distinct bulletins."""
    topics = {path: n for path, n in community.items() if path.startswith("/t/")}
    return sum(topics.values()), len(topics)


def _l1_lookups(r: HitRun) -> str:
    pages = r.requests.get("bulletin", 0)
    hit, miss = r.count("l1", "hit"), r.count("l1", "miss")
    per_page = "one per bulletin page" if hit + miss == pages else f"for {pages} bulletin pages"
    return (
        f"{hit + miss} L1 lookups ({per_page}): {hit} hits, {miss} misses, hit ratio "
        f"{_ratio(r.ratio('l1'))}"
    )


def _redis_reads(r: HitRun) -> str:
    reads, miss = r.count("redis"), r.count("l1", "miss")
    results = ", ".join(f"{res} {r.count('redis', res)}" for res in ("hit", "miss", "error"))
    if reads == miss:
        return f"Each L1 miss was one Redis read ({results})"
    return f"{reads} Redis reads for {miss} L1 misses ({results})"


def _l1_bound() -> int:
    default = inspect.signature(SelfHelpService).parameters["l1_size"].default
    return int(default)


def _explain_load(r: HitRun, fill: HitRun) -> str:
    miss, stale, reads = r.count("l1", "miss"), r.count("l1", "stale"), r.count("redis")
    redis_hits = r.count("redis", "hit")
    periods = r.seconds / HIT_MAX_AGE_S
    served, distinct = _served_bulletins(r.community)
    per_hit = f", {r.origin_fetches / redis_hits:.2f} per Redis hit" if redis_hits else ""
    loaded = fill.count("origin", "hit") + fill.count("redis", "hit")
    why_miss = (
        f"the fill had loaded all {TOPICS} bulletins, fewer than L1's bound "
        f"({_l1_bound():,} entries), so a miss is an expired entry"
        if loaded >= TOPICS
        else f"the fill loaded {loaded} of {TOPICS} bulletins, so a miss is an expired entry "
        "or one the fill had not loaded"
    )
    return (
        f"What the numbers show. Warm front door, {r.seconds:.1f} s of mixed load: "
        f"{_l1_lookups(r)}. An L1 hit is either a page sent from the hot path "
        "(`cache/web.py` `bulletin`: a rendered page whose copy is younger than max-age, "
        "counted in `hot_views` without reaching the service) or a hit in the service's "
        "`L1Cache`; the metric does not tell them apart. Both live max-age from when the "
        f"copy was stored; {why_miss}: {_share(miss, r.requests.get('bulletin', 0))} of "
        "bulletin pages. "
        f"{_redis_reads(r)}: {reads / TOPICS:.1f} reads per bulletin over the "
        f"load, {reads / (TOPICS * periods):.2f} per bulletin per max-age period "
        f"({r.seconds:.1f} s / {HIT_MAX_AGE_S} s = {periods:.1f} periods). Only one replica "
        "runs at a time here, so the copy Redis returns is the one this door wrote when it "
        "last fetched the bulletin, as old as the L1 entry that just expired: past max-age, "
        "it is served at once and refreshed from the origin in the background "
        f"(`l1 stale`: {stale}, one per answer from a copy past max-age, whichever tier it "
        "came from; refreshes coalesced per bulletin): "
        f"{r.origin_fetches} origin fetches{per_hit}; the community sim served {served} "
        f"bulletin requests for {distinct} distinct bulletins. With several replicas, a "
        "bulletin that another replica refreshed within max-age comes back fresh from "
        "Redis and costs no origin fetch; this bench never runs two replicas at once, so "
        "it does not measure that saving."
    )


def _explain_replica(r: HitRun) -> str:
    pages = r.requests.get("bulletin", 0)
    stale, errors = r.count("l1", "stale"), r.count("origin", "error")
    fill = "" if r.fill_s is None else f", done {r.fill_s * 1000:.0f} ms after listening"
    return (
        f"Cold replica, same config, community site down: its start-up fill read every "
        f"bulletin Redis had in one pass{fill}; over its first {sum(r.requests.values())} "
        f"requests ({r.seconds:.1f} s) its {pages} bulletin pages made {_l1_lookups(r)}, and "
        f"{r.count('redis')} Redis reads. {stale} of those answers "
        f"({_share(stale, pages, 0)} of bulletin pages) came from a copy past max-age "
        "(stored by the warm door more than "
        f"{HIT_MAX_AGE_S} s before), served at once. {_refreshes(errors, stale)} Answers "
        f"other than 200: {r.errors}."
    )


def _refreshes(errors: int, stale: int) -> str:
    if errors == 0:
        return (
            "None of their refreshes reached the origin: its breaker had already opened "
            "(the site is down), so stale copies were served without trying the origin."
        )
    then = (
        "; once the origin's breaker had opened, stale copies were served without trying the origin"
        if errors < stale
        else ""
    )
    return (
        f"The background refreshes they started failed ({errors} origin errors: the site is "
        f"down; refreshes are coalesced per bulletin){then}."
    )


def _explain_last_known(runs: list[HitRun]) -> str:
    used = [(r.name, r.count("last_known")) for r in runs if r.count("last_known")]
    if used:
        where = "; ".join(f"{name}: {n}" for name, n in used)
        return (
            "Tier `last_known` (the bounded in-memory catalog of last-known copies, behind "
            "L1 and Redis) answered lookups where L1 had expired and Redis had no copy or "
            f"failed: {where}."
        )
    misses = sum(r.count("redis", "miss") for r in runs)
    failed = sum(r.count("redis", "error") for r in runs)
    return (
        "Tier `last_known` (the bounded in-memory catalog of last-known copies, behind L1 "
        "and Redis) answered nothing in this part: it serves only when L1 has expired and "
        f"Redis has no copy or fails, and here Redis had {misses} misses and {failed} errors "
        "(part 3 kills Redis; its lookups line would show `last_known` if an L1 entry "
        "expired while Redis was down)."
    )


def _explain(runs: list[HitRun]) -> list[str]:
    """The paragraphs under the part-2 tables, from the measured counts."""
    fill, load, replica = runs
    return [
        _explain_load(load, fill),
        "",
        _explain_replica(replica),
        "",
        _explain_last_known(runs),
    ]


PHASES = ("before the kill", "Redis down", "after the restart")


def _phase(o: OutageRun, w: Window) -> str:
    return PHASES[sum(w.start >= cut for cut in o.cuts)]


def _row(label: str, w: Window) -> str:
    return (
        f"| {label} | {w.requests} | {w.errors} | {w.p50_ms:.2f} | {w.p99_ms:.2f} "
        f"| {w.max_lag_ms:.1f} |"
    )


def _worst(o: OutageRun) -> list[str]:
    parts = []
    for name in PHASES:
        inside = [w for w in o.windows if _phase(o, w) == name]
        worst = max((w.p99_ms for w in inside), default=float("nan"))
        parts.append(f"{name}: {worst:.1f} ms, {sum(w.errors for w in inside)} errors")
    return [f"Worst {o.width:.0f} s window p99, and errors, per phase: " + "; ".join(parts) + "."]


def _outage(o: OutageRun) -> list[str]:
    head = "| requests | errors | p50 ms | p99 ms | max send lag ms |"
    return [
        "## 3. Bulletin page latency with Redis killed",
        "",
        f"Paced load of bulletin pages only ({o.rate:.0f} req/s on a fixed schedule, same "
        "Zipf-like ids, 32 connections, core 1) against a front door with the default "
        "configuration (every bulletin requested once first). Latency from send to answer; "
        "'send lag' is how late the generator sent a request (all connections waiting on "
        "the server would show there). Errors: answers other than 200, or none in 5 s.",
        "",
        *(f"- {began:.2f} s: {what} (done at {ended:.2f} s)" for began, ended, what in o.events),
        "",
        f"| phase {head}",
        "|---|---:|---:|---:|---:|---:|",
        *(_row(name, w) for name, w in zip(PHASES, o.phases, strict=True)),
        "",
        f"| window (s) | phase {head}",
        "|---|---|---:|---:|---:|---:|---:|",
        *(_row(f"{w.start:.0f}-{w.end:.0f} | {_phase(o, w)}", w) for w in o.windows),
        "",
        "Lookups during the load: "
        + (", ".join(f"{t} {r}: {n:.0f}" for (t, r), n in sorted(o.lookups.items()) if n) or "none")
        + f". Redis reachable again per `/api/v1/status` at the end: "
        f"{'yes' if o.redis_reachable_after else 'no'}. What the self-help layer logged:",
        "",
        "```",
        *(o.log or ["(nothing)"]),
        "```",
        "",
        *_worst(o),
        "",
        "Pages of warm bulletins come from L1 and never wait on Redis; Redis is used by "
        "background tasks only (hit flush every second, kept in memory and written again "
        "once Redis is back; rankings every 5 s), each behind a breaker. This VM is shared: "
        "a window's p99 can jump for reasons outside the bench; where the send lag is as "
        "large as the p99, the load generator was held up as well.",
    ]


def _part2_max_age(load_s: float) -> str:
    """Why part 2 runs with a short max-age; `load_s`: how long its mixed load ran."""
    default = int(SelfHelpSettings.model_fields["max_age_s"].default)
    expiries = int(round(load_s) // HIT_MAX_AGE_S)
    without = (
        f"so with the default {default} s no L1 entry (all loaded by the start-up fill) "
        f"would expire during the {load_s:.0f} s mixed load and Redis would not be read per "
        "request at all"
        if load_s < default
        else f"so with the default {default} s an L1 entry would expire only every {default} s"
    )
    return (
        f"- Part 2 sets `[selfhelp] max_age_s = {HIT_MAX_AGE_S}` on both of its front doors. "
        "L1 is TTL'd to max-age (`L1Cache` in `cache/service.py`) and the page hot path "
        "(`cache/web.py` `bulletin`) sends a page only while its copy is younger than "
        f"max-age, {without}. With {HIT_MAX_AGE_S} s each L1 entry expires up to {expiries} "
        "times during the load, so the requests after each expiry really read Redis, as a "
        "replica does once per max-age for each bulletin it serves with the default. The "
        "cold replica gets the same setting, as a replica of the same deployment would."
    )


def _method(plan: Plan, load_s: float) -> list[str]:
    """`load_s`: how long part 2's mixed load ran."""
    lines = [
        "## Method",
        "",
        f"- Stage, all on core 1 with the load generators ({os.cpu_count()} cores), outside "
        "valgrind: nginx (1 worker) as the one healthy call center, so that no outage "
        "banner shows; a `redis-server` of ours on a free port (no persistence; never the "
        f"system one on 6379); the community simulator (`python -m sims.community`, {TOPICS} "
        "bulletins, default seed) as origin. Front doors and the bare app on core 0.",
        "- Front door config: `[redis] url`, `[selfhelp] origin`, one `[[callcenters]]`; "
        f"the rest default, but part 1 sets `[selfhelp] max_age_s = {MAX_AGE_S}` so that "
        "the page is not refreshed and re-rendered (new view count) mid-run; the default "
        "60 s costs one origin fetch and one render a minute, nothing per request; part 2 "
        f"sets `max_age_s = {HIT_MAX_AGE_S}` (below).",
        _part2_max_age(load_s),
        "- Wall clock: wrk against each contender in turn, medians over the rounds; CPU per "
        "request from the process's utime + stime. On this shared VM these swing +-30% "
        "between runs: compare ratios within one run only.",
    ]
    if plan.requests is not None:
        lines += callgrind_method(plan, repeats=None)
        lines.append(
            "- redis-server and the community sim run natively, outside valgrind: only the "
            "front door's own instructions are counted (including its side of the Redis "
            "protocol), not Redis's."
        )
    lines.append(
        "- Load client for parts 2 and 3: Python, aiohttp on uvloop, loopback only, bounded "
        "in requests and seconds (`loadtests/bench/loadgen.py`)."
    )
    return lines


def _load_seconds(hits: list[HitRun]) -> float:
    return max((r.seconds for r in hits), default=0.0)


def render(pages: PageRun, hits: list[HitRun], outage: OutageRun, plan: Plan) -> str:
    lines = ["# Self-help layer: cached pages, hit ratios, Redis outage", ""]
    lines += _pages(pages, plan)
    lines += ["", *_hits(hits), "", *_outage(outage), "", *_method(plan, _load_seconds(hits))]
    return "\n".join(lines)
