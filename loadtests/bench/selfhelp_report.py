"""The self-help bench's report, in markdown (tables shared with the proxy bench)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping

from loadtests.bench.callgrind import Counted
from loadtests.bench.loadgen import MIX, Window
from loadtests.bench.report import Plan, callgrind_method, instructions_table, wallclock_table
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
        f"{door.idle_ir_per_s:,.0f} Ir/s (the rankings refresh every 5 s and the loop's "
        "timers; the hit flush has nothing to write when idle, so a lower bound), bare app "
        f"{bare.idle_ir_per_s:,.0f} Ir/s. Over the counted windows ({door.seconds:.1f} s and "
        f"{bare.seconds:.1f} s) that is ~{share[DOOR]:,.0f} and ~{share[BARE_PAGE]:,.0f} "
        "Ir/request; natively, at the front door's wall-clock rate above, "
        f"~{door.idle_ir_per_s / rps:,.0f}. Without it: front door {net[DOOR]:,.0f}, bare "
        f"app {net[BARE_PAGE]:,.0f} Ir/request, bare / front door "
        f"{net[BARE_PAGE] / net[DOOR]:.2f}.",
    ]


def _pages(p: PageRun, plan: Plan) -> list[str]:
    lines = [
        "## 1. Cached bulletin page: front door against bare aiohttp serving the same bytes",
        "",
        f"`GET /help/bulletins/{p.bulletin_id}` (a warm bulletin: in L1, page rendered and "
        f"cached): {p.size} B, `{p.content_type}`. The bare app answers the bytes fetched "
        "from the front door with the same Content-Type; both were checked to answer exactly "
        "those bytes before and after the wall-clock rounds, and on every counted request "
        "under callgrind. One process each on core 0, wrk on core 1.",
        "",
    ]
    lines += _demote(wallclock_table(p.wall, plan, door=DOOR, baselines=(BARE_PAGE,)))
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
        "the load only (the fill row: what the start-up fill counted before it).",
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
        "Why L1 is ~100% and Redis is hardly read per request: the L1 tier is the service's "
        "catalog (`cache/service.py`), a dict of every bulletin the process has seen, with "
        "no size bound and no TTL (freshness is judged from `stored_at`; a stale copy is "
        "served while it is refreshed, counted as `l1 stale` on top of `l1 hit`). The "
        "start-up fill loads every bulletin Redis has (one HKEYS and one pipelined read), "
        "then lists the origin and fetches what is missing or not fresh. After that every "
        "request for a known bulletin is an L1 hit; Redis is read per request only after an "
        "L1 miss, i.e. for an id no tier had at that moment (a wrong link, or a request "
        "racing the fill). There is no setting that bounds the catalog. Redis's work in this "
        "layer is the start-up fill of each replica (shared between replicas), hit counts "
        "and rankings, not per-request lookups. The cold replica shows it: with the "
        "community site down, it still had every bulletin from Redis, in bulk, before (or "
        "as) its first requests came in.",
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


def _method(plan: Plan) -> list[str]:
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
        "60 s costs one origin fetch and one render a minute, nothing per request.",
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


def render(pages: PageRun, hits: list[HitRun], outage: OutageRun, plan: Plan) -> str:
    lines = ["# Self-help layer: cached pages, hit ratios, Redis outage", ""]
    lines += _pages(pages, plan)
    lines += ["", *_hits(hits), "", *_outage(outage), "", *_method(plan)]
    return "\n".join(lines)
