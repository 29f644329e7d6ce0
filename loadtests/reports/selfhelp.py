"""The self-help bench's report (loadtests/results/selfhelp.md): its three parts' figures."""

from __future__ import annotations

import math
from collections.abc import Mapping

from loadtests.bench import nginx
from loadtests.bench import selfhelp as sh
from loadtests.bench.load import MIX, Window
from loadtests.bench.measure import WARMUP
from loadtests.bench.stage import DOOR
from loadtests.reports.bench import Plan, instructions_table, wallclock_table
from loadtests.tables import machine, median, render, table

KINDS = ("bulletin", "help", "search", "api")
PAGE_BASELINES = (sh.BARE_PAGE, sh.BARE_BODY)
PHASES = ("before the kill", "Redis down", "after the restart")


def _ratio(value: float | None) -> str:
    return "n/a (no lookups)" if value is None else f"{value:.2%}"


def _share(part: float, whole: float, digits: int = 2) -> str:
    return f"{part / whole:.{digits}%}" if whole else "n/a"


def _pages(p: sh.PageRun, plan: Plan) -> dict[str, object]:
    """Part 1's figures: wall clock, instructions, the timers' share of them."""
    found: dict[str, object] = {"p": p, "plan": plan, "warmup": WARMUP, "ir": None, "idle": None}
    found["wall"] = wallclock_table(p.wall, baselines=PAGE_BASELINES, reference=nginx.NGINX_STATIC)
    if p.counted is None or plan.requests is None:
        return found
    ir = {name: c.ir for name, c in p.counted.items()}
    found["ir"] = instructions_table(ir, baselines=PAGE_BASELINES)
    door, bare = p.counted[DOOR], p.counted[sh.BARE_PAGE]
    if door.idle_ir_per_s is None or bare.idle_ir_per_s is None:
        return found
    share = {n: (c.idle_ir_per_s or 0.0) * c.seconds / plan.requests for n, c in p.counted.items()}
    net = {n: c.ir - share[n] for n, c in p.counted.items()}
    rps = median(r.rps for r in p.wall[DOOR])
    found["idle"] = table(
        ["contender", "Ir/s, no requests", "counted window (s)", "timers' Ir/request there",
         "Ir/request without them"],
        [(n, f"{c.idle_ir_per_s or 0:,.0f}", f"{c.seconds:.1f}", f"~{share[n]:,.0f}",
          f"{net[n]:,.0f}") for n, c in p.counted.items()],
    )  # fmt: skip
    return found | {"idle_s": f"{sh.IDLE_S:.0f}", "native": f"{door.idle_ir_per_s / rps:,.0f}",
                    "net": f"{net[sh.BARE_PAGE] / net[DOOR]:.2f}"}  # fmt: skip


def _community(counts: Mapping[str, int]) -> str:
    topics = sum(n for path, n in counts.items() if path.startswith("/t/"))
    return f"{topics} bulletins, {sum(counts.values()) - topics} lists" if counts else "0"


def _l1(r: sh.HitRun) -> str:
    hit, miss = r.count("l1", "hit"), r.count("l1", "miss")
    pages = r.requests.get("bulletin", 0)
    per_page = "one per bulletin page" if hit + miss == pages else f"for {pages} bulletin pages"
    return f"{hit + miss} ({per_page}): {hit} hits, {miss} misses, ratio {_ratio(r.ratio('l1'))}"


def _hit_figures(
    runs: list[sh.HitRun], topics: int, l1_bound: int, max_age: int
) -> dict[str, object]:
    """The figures under the part-2 tables (their labels: the template's)."""
    fill, r, replica = runs
    miss, reads, redis_hits = r.count("l1", "miss"), r.count("redis"), r.count("redis", "hit")
    periods = r.seconds / max_age
    served = {path: n for path, n in r.community.items() if path.startswith("/t/")}
    results = ", ".join(f"{res} {r.count('redis', res)}" for res in ("hit", "miss", "error"))
    pages, stale = replica.requests.get("bulletin", 0), replica.count("l1", "stale")
    used = "; ".join(f"{x.name}: {x.count('last_known')}" for x in runs if x.count("last_known"))
    misses, errors = (sum(x.count("redis", res) for x in runs) for res in ("miss", "error"))
    per_hit = f" ({r.origin_fetches / redis_hits:.2f})" if redis_hits else ""
    return {
        "l1": _l1(r),
        "loaded": f"{fill.count('origin', 'hit') + fill.count('redis', 'hit')} of {topics}",
        "missed": _share(miss, r.requests.get("bulletin", 0)),
        "reads": f"{reads} for {miss} ({results})",
        "per_bulletin": f"{reads / topics:.1f}, {reads / (topics * periods):.2f}",
        "periods": f"{r.seconds:.1f} s / {max_age} s = {periods:.1f} periods",
        "stale": r.count("l1", "stale"),
        "fetches": f"{r.origin_fetches}{per_hit}",
        "served": f"{sum(served.values())} bulletin requests, {len(served)} distinct bulletins",
        "replica": f"{sum(replica.requests.values())}, {replica.seconds:.1f} s, {pages}",
        "replica_l1": f"{_l1(replica)}; {replica.count('redis')}",
        "replica_stale": f"{stale} ({_share(stale, pages, 0)})",
        "replica_errors": f"{replica.count('origin', 'error')}; {replica.errors}",
        "last_known": used or f"none (Redis misses {misses}, errors {errors})",
    }


def _hits(runs: list[sh.HitRun], topics: int, l1_bound: int, max_age: int) -> dict[str, object]:
    """Part 2's figures."""
    uptos = [0.0, *(upto for _, upto in MIX)]
    shares = ", ".join(f"{k} {upto - low:.0%}" for (k, upto), low in zip(MIX, uptos, strict=False))

    def hit_row(r: sh.HitRun) -> list[object]:
        fill = "-" if r.fill_s is None else f"{r.fill_s * 1000:.0f} ms"
        return [r.name, "start-up" if not r.requests else f"{r.seconds:.1f} s",
                " / ".join(str(r.requests.get(k, 0)) for k in KINDS), r.errors,
                _ratio(r.ratio("l1")), _ratio(r.ratio("redis")), r.origin_fetches,
                _community(r.community), fill]  # fmt: skip

    return {
        "shares": shares, "topics": topics, "max_age": max_age,
        "hits": table(["run", "load", "requests: bulletin / help / search / API", "errors",
                       "L1 hit ratio", "Redis hit ratio", "origin fetches", "community sim served",
                       "fill done after"], [hit_row(r) for r in runs]),
        "lookups": table(["run", "lookups (tier result: count)"],
                         [[r.name, ", ".join(f"{t} {res}: {n:.0f}" for (t, res), n in
                                             sorted(r.lookups.items())) or "none"] for r in runs],
                         align="l"),
        "f": _hit_figures(runs, topics, l1_bound, max_age), "l1_bound": f"{l1_bound:,}",
    }  # fmt: skip


def _outage(o: sh.OutageRun) -> dict[str, object]:
    """Part 3's figures."""

    def phase(start: float) -> str:
        return PHASES[sum(start >= cut for cut in o.cuts)]

    def cells(w: Window) -> list[object]:
        return [w.requests, w.errors, f"{w.p50_ms:.2f}", f"{w.p99_ms:.2f}", f"{w.max_lag_ms:.1f}"]

    head = ["requests", "errors", "p50 ms", "p99 ms", "max send lag ms"]
    inside = {name: [w for w in o.windows if phase(w.start) == name] for name in PHASES}
    worst = "; ".join(
        f"{n}: {max((w.p99_ms for w in ws), default=math.nan):.1f} ms, "
        f"{sum(w.errors for w in ws)} errors" for n, ws in inside.items()
    )  # fmt: skip
    return {
        "rate": f"{o.rate:.0f}", "width": f"{o.width:.0f}", "worst": worst, "log": o.log,
        "events": [f"{at:.2f} s: {what} (done at {done:.2f} s)" for at, done, what in o.events],
        "phases": table(["phase", *head],
                        [[n, *cells(w)] for n, w in zip(PHASES, o.phases, strict=True)]),
        "windows": table(["window (s)", "phase", *head],
                         [[f"{w.start:.0f}-{w.end:.0f}", phase(w.start), *cells(w)]
                          for w in o.windows], align="llr"),
        "found": ", ".join(f"{t} {r}: {n:.0f}" for (t, r), n in sorted(o.lookups.items()) if n),
        "reachable": o.redis_reachable_after,
    }  # fmt: skip


def selfhelp(
    pages: sh.PageRun, hits: list[sh.HitRun], outage: sh.OutageRun, plan: Plan, *, l1_bound: int,
    default_max_age: int,
) -> str:  # fmt: skip
    load_s = max((r.seconds for r in hits), default=0.0)
    ages = {"sh": sh, "default_max_age": default_max_age, "load_s": load_s,
            "expiries": int(round(load_s) // sh.HIT_MAX_AGE_S)}  # fmt: skip
    parts = _pages(pages, plan) | _hits(hits, sh.TOPICS, l1_bound, sh.HIT_MAX_AGE_S)
    return render("selfhelp.md", **parts, **_outage(outage), machine=machine(), ages=ages)
