"""The one report module: the markdown every measurement writes (the benchmarks' results
files, the spike test's summary.md and slo.md, the soak's table). One table shape, one
median, one machine line; each report's text is a Jinja template in reports/, filled in
with tables of its figures (how each bench measures: docs/benchmarks.md, "Method")."""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from failover.settings import HealthSettings, ProxySettings
from loadtests.bench import failover as fo
from loadtests.bench import nginx
from loadtests.bench import selfhelp as sh
from loadtests.bench.callbacks import BARE, BODY
from loadtests.bench.load import MIX, Window
from loadtests.bench.measure import WARMUP, WARMUP_S
from loadtests.bench.stage import BASELINES, DOOR, renderer
from loadtests.spike.profile import PACE_S
from loadtests.spike.slo import CLASSES
from loadtests.spike.state import DESTINATIONS

if TYPE_CHECKING:
    from loadtests.bench.callbacks import Run
    from loadtests.bench.measure import Result
    from loadtests.soak import Limits
    from loadtests.soak import Sample as SoakSample
    from loadtests.spike.gate import Observation
    from loadtests.spike.profile import Profile
    from loadtests.spike.slo import Check
    from loadtests.spike.state import RunConfig, RunState


def row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(head: Sequence[str], rows: Iterable[Iterable[object]], *, align: str = "lr") -> list[str]:
    """A markdown table: `head`, its rule, a line per row. `align` has "l" (left) or "r"
    (right) per column, its last letter repeated for the rest: "lr" is a name, then
    numbers."""
    spec = (align + align[-1] * len(head))[: len(head)]
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in spec) + "|"
    return [row(head), rule, *(row(r) for r in rows)]


def pairs(rows: Iterable[tuple[str, object]], head: str = "setup") -> list[str]:
    """A two-column table of named figures."""
    return table([head, "value"], rows, align="ll")


def median(values: Iterable[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    """'2 cores (model), 4 GiB': what the figures were measured on."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB"


def filesystem(path: Path) -> str:
    """'ext4 (/dev/vda)': the type and device of the mount holding `path`."""
    best: tuple[str, str, str] = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
        if inside and len(mount) > len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]})"


_render = renderer(Path(__file__).with_name("reports"))  # each report's text


# -- wall clock and instructions (proxy, self-help) ---------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: int
    rounds: int
    requests: int | None  # None: no instruction count


def wallclock_table(
    results: dict[str, list[Result]], *, baselines: Sequence[str] = BASELINES,
    reference: str | None = None,
) -> list[str]:  # fmt: skip
    """Every contender's medians; the front door against each baseline (the goal); and,
    if `reference` (nginx) ran, every other contender against it (no goal). The heading,
    with the rounds: the report's template."""
    m = {n: {f: median(getattr(r, f) for r in rs) for f in ("rps", "cpu_us", "p50_ms", "p99_ms")}
         for n, rs in results.items()}  # fmt: skip
    lines = table(
        ["contender", "req/s (median)", "CPU us/request", "server's core busy", "p50 ms",
         "p99 ms", "errors"],
        [(n, f"{m[n]['rps']:.0f}", f"{m[n]['cpu_us']:.0f}",
          f"{median(r.rps * r.cpu_us / 1e6 for r in rs):.0%}", f"{m[n]['p50_ms']:.2f}",
          f"{m[n]['p99_ms']:.2f}", sum(r.errors for r in rs)) for n, rs in results.items()],
    )  # fmt: skip
    lines += ["", *table(
        ["front door against", "throughput, front door / baseline",
         "CPU per request, baseline / front door (goal >= 0.85)"],
        [(b, f"{m[DOOR]['rps'] / m[b]['rps']:.2f}", f"{m[b]['cpu_us'] / m[DOOR]['cpu_us']:.2f}")
         for b in baselines],
    )]  # fmt: skip
    if reference is not None and reference in results:
        ref = m[reference]
        lines += ["", *table(
            [f"against {reference} (a reference, no goal)", "throughput, contender / nginx",
             "CPU per request, nginx / contender", "p50, contender / nginx",
             "p99, contender / nginx"],
            [(n, f"{m[n]['rps'] / ref['rps']:.2f}", f"{ref['cpu_us'] / m[n]['cpu_us']:.2f}",
              f"{m[n]['p50_ms'] / ref['p50_ms']:.2f}", f"{m[n]['p99_ms'] / ref['p99_ms']:.2f}")
             for n in results if n != reference],
        )]  # fmt: skip
    return lines


def instructions_table(ir: dict[str, float], *, baselines: Sequence[str] = BASELINES) -> list[str]:
    return [
        *table(["contender", "Ir/request"], [(n, f"{v:,.0f}") for n, v in ir.items()]),
        "",
        *table(
            ["front door against", "Ir, front door / baseline",
             "Ir, baseline / front door (goal >= 0.85)"],
            [(b, f"{ir[DOOR] / ir[b]:.2f}", f"{ir[b] / ir[DOOR]:.2f}") for b in baselines],
        ),
    ]  # fmt: skip


def proxy(wall: dict[str, list[Result]], ir: dict[str, float] | None, plan: Plan) -> str:
    return _render(
        "proxy.md", plan=plan, warmup=WARMUP, ir=None if ir is None else instructions_table(ir),
        wall=wallclock_table(wall, reference=nginx.NGINX_PROXY),
        setup=pairs([("machine", machine())]),
    )  # fmt: skip


# -- self-help ----------------------------------------------------------------------------

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


def _hit_figures(runs: list[sh.HitRun], topics: int, l1_bound: int, max_age: int) -> list[str]:
    """The figures under the part-2 tables, one row each."""
    fill, r, replica = runs
    miss, reads, redis_hits = r.count("l1", "miss"), r.count("redis"), r.count("redis", "hit")
    periods = r.seconds / max_age
    served = {path: n for path, n in r.community.items() if path.startswith("/t/")}
    results = ", ".join(f"{res} {r.count('redis', res)}" for res in ("hit", "miss", "error"))
    pages = replica.requests.get("bulletin", 0)
    used = "; ".join(f"{x.name}: {x.count('last_known')}" for x in runs if x.count("last_known"))
    rows = [
        ("warm: L1 lookups", _l1(r)),
        ("warm: bulletins the fill loaded (L1 bound)",
         f"{fill.count('origin', 'hit') + fill.count('redis', 'hit')} of {topics} ({l1_bound:,})"),
        ("warm: L1 misses, of bulletin pages", _share(miss, r.requests.get("bulletin", 0))),
        ("warm: Redis reads, for L1 misses", f"{reads} for {miss} ({results})"),
        ("warm: Redis reads per bulletin, per max-age period",
         f"{reads / topics:.1f}, {reads / (topics * periods):.2f} ({r.seconds:.1f} s / "
         f"{max_age} s = {periods:.1f} periods)"),
        ("warm: answers from a copy past max-age (`l1 stale`)", r.count("l1", "stale")),
        ("warm: origin fetches (per Redis hit)", f"{r.origin_fetches}" + (
            f" ({r.origin_fetches / redis_hits:.2f})" if redis_hits else "")),
        ("warm: community sim served", f"{sum(served.values())} bulletin requests, "
         f"{len(served)} distinct bulletins"),
        ("replica: requests, seconds, bulletin pages",
         f"{sum(replica.requests.values())}, {replica.seconds:.1f} s, {pages}"),
        ("replica: L1 lookups; Redis reads", f"{_l1(replica)}; {replica.count('redis')}"),
        ("replica: stale answers (of bulletin pages)",
         f"{replica.count('l1', 'stale')} ({_share(replica.count('l1', 'stale'), pages, 0)})"),
        ("replica: origin errors (site down); answers other than 200",
         f"{replica.count('origin', 'error')}; {replica.errors}"),
        ("`last_known` answers", used or "none (Redis misses "
         f"{sum(x.count('redis', 'miss') for x in runs)}, errors "
         f"{sum(x.count('redis', 'error') for x in runs)})"),
    ]  # fmt: skip
    return pairs(rows, "figure")


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
        "figures": _hit_figures(runs, topics, l1_bound, max_age),
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
    setup = pairs([
        ("machine", machine()),
        ("`[selfhelp] max_age_s`", f"part 1: {sh.PAGE_MAX_AGE_S}; part 2: {sh.HIT_MAX_AGE_S} "
         f"(default {default_max_age}: L1 entries would expire "
         + ("never" if load_s < default_max_age else f"every {default_max_age} s")
         + f" in the {load_s:.0f} s mixed load; with {sh.HIT_MAX_AGE_S} s, up to "
         f"{int(round(load_s) // sh.HIT_MAX_AGE_S)} times); part 3: default"),
    ])  # fmt: skip
    parts = _pages(pages, plan) | _hits(hits, sh.TOPICS, l1_bound, sh.HIT_MAX_AGE_S)
    return _render("selfhelp.md", **parts, **_outage(outage), setup=setup)


# -- callbacks ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackSetup:
    seconds: int
    rounds: int
    connections: int
    redis_version: str
    durability: dict[str, str]  # CONFIG GET append*, as the run started
    filesystem: str  # where Redis kept its AOF
    conf: Path


def callbacks(results: dict[str, dict[str, list[Run]]], s: CallbackSetup) -> str:
    def rounds(runs: list[Run]) -> list[Run]:
        return [r for r in runs if r.label.startswith("round")]

    def med(runs: list[Run], field: str) -> float:
        return median(float(getattr(r, field)) for r in rounds(runs))

    def ratio(top: list[Run], bottom: list[Run], field: str) -> str:
        return f"{med(top, field) / med(bottom, field):.2f}"

    every = [(p, n, r) for p, by in results.items() for n, rs in by.items() for r in rs]
    bad = sum(bool(r.problems(s.connections)) for _, _, r in every)
    accepted = table(
        ["appendfsync", "contender", "accepted/s (median)", "rounds, accepted/s",
         "server CPU us/request", "server's core busy", "Redis CPU us/callback", "p50 ms",
         "p99 ms", "non-2xx", "socket errors"],
        [(policy, name, f"{med(runs, 'accepted_per_s'):.0f}",
          " / ".join(f"{r.accepted_per_s:.0f}" for r in rounds(runs)),
          f"{med(runs, 'cpu_us'):.0f}", f"{med(runs, 'server_busy'):.0%}",
          f"{med(runs, 'redis_cpu_us'):.1f}", f"{med(runs, 'p50_ms'):.2f}",
          f"{med(runs, 'p99_ms'):.2f}", sum(r.non_2xx for r in runs),
          sum(r.socket_errors for r in runs))
         for policy, by in results.items() for name, runs in by.items()],
        align="llrlr",
    )  # fmt: skip
    ratios = table(
        ["appendfsync", "accepted/s, front door / baseline",
         "server CPU per request, baseline / front door",
         "Redis CPU per callback, baseline / front door"],
        [(policy, ratio(n[DOOR], n[BARE], "accepted_per_s"), ratio(n[BARE], n[DOOR], "cpu_us"),
          ratio(n[BARE], n[DOOR], "redis_cpu_us")) for policy, n in results.items()],
    )  # fmt: skip
    checks = table(
        ["appendfsync", "contender", "run", "202s (wrk)", "new entries", "entries - 202s",
         "front door counted (redis / spool)", "check"],
        [(p, n, r.label, r.acks, r.entries, r.unanswered,
          "-" if r.counted is None else f"{r.counted:.0f} / {r.spooled:.0f}",
          "; ".join(r.problems(s.connections)) or "ok") for p, n, r in every],
        align="lllrrrrl",
    )  # fmt: skip
    return _render(
        "callbacks.md", s=s, machine=machine(), body=BODY.decode(), size=len(BODY),
        warmup_s=WARMUP_S, accepted=accepted, ratios=ratios, checks=checks, bad=bad,
        runs=len(every),
    )  # fmt: skip


# -- failover against nginx ---------------------------------------------------------------

SLOW_S = 1.0  # a customer who waited longer than this is counted as slow


@dataclass(frozen=True, slots=True)
class Case:
    fault: fo.Fault
    contender: str
    short: str  # the contender's name in narrow tables
    load: fo.Load


@dataclass(frozen=True, slots=True)
class Shape:
    rate: float
    before: float
    after: float


def _errors(visits: Sequence[fo.Visit]) -> int:
    return sum(v.outcome.is_error for v in visits)


def _slow(visits: Sequence[fo.Visit]) -> int:
    return sum(v.seconds > SLOW_S for v in visits)


def _quantile(visits: Sequence[fo.Visit], q: float) -> float:
    seconds = sorted(v.seconds for v in visits)
    if len(seconds) < 2:
        return seconds[0] if seconds else float("nan")
    return statistics.quantiles(seconds, n=100, method="inclusive")[round(q * 100) - 1]


def _worst(visits: Sequence[fo.Visit]) -> float:
    return max((v.seconds for v in visits), default=float("nan"))


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _failover_row(c: Case) -> list[object]:
    visits, after = c.load.visits, [v for v in c.load.visits if v.sent >= c.load.fault_at]
    groups = ((fo.Outcome.PRIMARY,), (fo.Outcome.BACKUP,), (fo.Outcome.SELF_HELP,),
              (fo.Outcome.HELP_5XX, fo.Outcome.SERVER_ERROR), (fo.Outcome.TIMEOUT,),
              (fo.Outcome.CONNECTION, fo.Outcome.OTHER))  # fmt: skip
    n = [str(sum(v.outcome in g for v in visits)) for g in groups]
    return [c.fault.value, c.contender, len(visits), " / ".join(n[:3]), _errors(visits),
            " / ".join(n[3:]), _s(_quantile(after, 0.5)), _s(_quantile(after, 0.99)),
            _s(_worst(visits)), _slow(visits)]  # fmt: skip


def _verdicts(cases: Sequence[Case]) -> list[str]:
    """Per nginx configuration, whether the front door had fewer errors in every case."""
    door = {c.fault: _errors(c.load.visits) for c in cases if c.short == fo.DOOR_NAME}
    parts = []
    for short in dict.fromkeys(c.short for c in cases if c.short != fo.DOOR_NAME):
        theirs = {c.fault: _errors(c.load.visits) for c in cases if c.short == short}
        faults = [f for f in door if f in theirs]
        by = {label: [f.value for f in faults if cmp(door[f], theirs[f])] for label, cmp in
              (("fewer", int.__lt__), ("equal", int.__eq__), ("MORE", int.__gt__))}  # fmt: skip
        met = "met" if len(by["fewer"]) == len(faults) else "not met"
        found = "; ".join(f"{label}: {', '.join(names)}" for label, names in by.items() if names)
        parts.append(f"against {short}: {met} ({found})")
    return parts


def failover(cases: Sequence[Case], shape: Shape) -> str:
    shorts = list(dict.fromkeys(c.short for c in cases))
    by = {(c.fault, c.short): c for c in cases}
    summary = []
    for fault in dict.fromkeys(c.fault for c in cases):
        cells, verdicts = [], []
        door = by.get((fault, fo.DOOR_NAME))
        for n in shorts:
            c = by.get((fault, n))
            v = c.load.visits if c else []
            cell = f"{_errors(v)} errors, {_slow(v)} slow, worst {_s(_worst(v))}"
            cells.append(cell if c else "-")
            if n != fo.DOOR_NAME and door and c:
                mine, theirs = _errors(door.load.visits), _errors(v)
                word = "yes" if mine < theirs else ("no, equal" if mine == theirs else "NO, more")
                verdicts.append(f"{word} ({n.removeprefix('nginx, ')})")
        summary.append([fault.value, *cells, "; ".join(verdicts)])
    odd = [f"{c.fault.value} / {c.contender}: {e}" for c in cases
           if (e := _errors([v for v in c.load.visits if v.sent < c.load.fault_at]))]  # fmt: skip
    tuned = {t.short: sum(_errors(c.load.visits) for c in cases if c.short == t.short)
             for t in fo.NGINX_CONFIGS if t.read is not None}  # fmt: skip
    door_slow = max((_slow(c.load.visits) for c in cases if c.short == fo.DOOR_NAME), default=0)
    runs = table(["primary", "contender", "customers", "answered by primary / backup / self-help",
                  "errors", f"of which 5xx / no answer in {fo.PATIENCE_S:.0f} s / connection or "
                  "other", "p50 after", "p99 after", "worst", f"waited > {SLOW_S:.0f} s"],
                 [_failover_row(c) for c in cases], align="llr")  # fmt: skip
    return _render(
        "failover.md", fo=fo, health=HealthSettings(), proxy=ProxySettings(), machine=machine(),
        patience=f"{fo.PATIENCE_S:.0f}", slow=f"{SLOW_S:.0f}", rate=f"{shape.rate:.0f}",
        before=f"{shape.before:.0f}", after=f"{shape.after:.0f}", odd=odd,
        verdicts=_verdicts(cases), door_slow=door_slow,
        lag_ms=f"{max(c.load.max_lag for c in cases) * 1000:.0f}",
        fault_ms=f"{max(c.load.fault_took for c in cases) * 1000:.0f}",
        tuned=[f"{n}: {e}" for n, e in tuned.items()], door_slow_s=f"{door_slow / shape.rate:.2f}",
        summary=table(["primary call center", *shorts, "front door has fewer errors"], summary,
                      align="l" + "r" * len(shorts) + "l"),
        runs=runs, faults=list(dict.fromkeys(c.fault for c in cases)),
        snippet=nginx.failover_snippet(fo.NGINX_CONFIGS[0]),
    )  # fmt: skip


# -- the spike test: summary.md and slo.md ------------------------------------------------


def gate_markdown(checks: Sequence[Check]) -> str:
    rows = [(c.name, c.observed, c.limit, "pass" if c.ok else "**FAIL**") for c in checks]
    return "\n".join(table(["check", "observed", "limit", "result"], rows, align="lrrl")) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassRow:
    """One request class over the whole run, from locust's stats."""

    cls: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}%"


def _phase_lines(run: RunState, profile: Profile) -> list[str]:
    rows = {(s.phase, s.cls): s for s in run.recorder.phase_table(profile, CLASSES)}
    cpu = {c[0]: c[1:] for c in run.recorder.cpu_by_phase(profile)}
    phases = []
    for phase, start, end in profile.phases():
        target = profile.target(max(start, end - 0.01))
        s, (lc_mean, lc_max, dc_mean, dc_max) = rows[phase.value, "all"], cpu[phase.value]
        phases.append((phase.value, f"{start:g}-{end:g}", target[0] if target else 0,
                       f"{s.rate:.0f}", s.failures, _ms(s.p95_ms), _ms(s.p99_ms),
                       f"{_pct(lc_mean)} / {_pct(lc_max)}",
                       f"{_pct(dc_mean)} / {_pct(dc_max)}"))  # fmt: skip
    names = [p.value for p, _, _ in profile.phases()]

    def cell(phase: str, cls: str) -> str:
        s = rows[phase, cls]
        return f"{_ms(s.p95_ms)} / {_ms(s.p99_ms)}" if s.requests else "-"

    return [*table(["phase", "s", "users (target)", "requests/s", "failures", "p95 ms", "p99 ms",
                    "locust CPU mean / max", "front door CPU mean / max"], phases, align="llr"),
            "", "p95 / p99 in ms by request class and phase:", "",
            *table(["class", *names],
                   [[c, *(cell(n, c) for n in names)] for c in CLASSES])]  # fmt: skip


def spike_summary(
    run: RunState, config: RunConfig, seen: Observation, checks: Sequence[Check]
) -> str:
    """summary.md: what happened phase by phase, and the gate."""
    p, sent = config.profile, []
    for phase, start, end in p.phases():
        total: Counter[str] = Counter()
        for s in range(math.ceil(start), math.ceil(end)):
            total.update(run.recorder.sent.get(s, Counter()))
        sent.append([phase.value, *(total[d] for d in DESTINATIONS)])

    def at(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f} s"

    classes = table(
        ["class", "locust name", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [(c.cls, f"`{c.name}`", c.requests, c.failures, _ms(c.p50_ms), _ms(c.p95_ms),
          _ms(c.p99_ms), _ms(c.max_ms)) for c in seen.classes], align="llr",
    )  # fmt: skip
    return _render(
        "spike-summary.md", p=p, run=run, o=seen.observed, found=seen.callbacks,
        pace=f"{PACE_S:g}", down=at(run.down_at), up=at(run.up_at), planned_down=f"{p.down_at:g}",
        planned_up=f"{p.up_at:g}", phases=_phase_lines(run, p), classes=classes,
        stalls=", ".join(f"{d:.2f} s at {t:.0f} s" for t, d in run.stalls),
        sent=table(["phase", *DESTINATIONS], sent), gate=gate_markdown(checks),
        lookups=", ".join(f"{k}: {v:.0f}" for k, v in seen.lookups.items()),
    )  # fmt: skip


# -- the soak ------------------------------------------------------------------------------


def soak(
    samples: list[SoakSample], *, run: Mapping[str, object], found: list[str], limits: Limits
) -> str:
    """The soak's `run` (its options, start, cores, locust's exit code and latency table),
    its samples, and what grew past its limit."""

    def warm(s: SoakSample) -> str:
        return " (warm-up)" if s.minute < limits.warmup_minutes else ""

    rows = table(
        ["minute", "front door RSS (MiB)", "open fds", "threads", "metric series",
         "Redis used (MiB)", "requests answered", "5xx to customers"],
        [(f"{s.minute:.1f}{warm(s)}", f"{s.rss_mib:.1f}", s.fds, s.threads, s.series,
          f"{s.redis_mib:.2f}", f"{s.requests:,}", s.server_errors) for s in samples],
        align="r",
    )  # fmt: skip
    return _render(
        "soak.md",
        run=run,
        samples=rows,
        found=found,
        limits=limits,
        rss_share=f"{limits.rss_share:.0%}",
        redis_share=f"{limits.redis_share:.0%}",
    )


def soak_latency(stats: Path) -> str:
    """Locust's percentiles per request kind, all of them last, as a markdown table."""
    try:
        with stats.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        return f"(no latency recorded: {exc})"

    def name(row: dict[str, str]) -> str:
        return "all" if row.get("Name") == "Aggregated" else f"{row.get('Type')} {row.get('Name')}"

    ordered = sorted(rows, key=lambda r: r.get("Name") == "Aggregated")
    head = ["request", "answers", "failed", "p50 (ms)", "p95 (ms)", "p99 (ms)"]
    cells = ("Request Count", "Failure Count", "50%", "95%", "99%")
    return "\n".join(table(head, [[name(r), *(r.get(c) for c in cells)] for r in ordered]))


# -- the search index and the workers ------------------------------------------------------


def index(rows: list[tuple[int, tuple[float, float], tuple[float, float]]]) -> str:
    """bench_index: (bulletins, (build s, longest wait s) on the loop, the same in a thread)."""
    head = ["bulletins", "build, on the loop", "longest wait, on the loop", "build, in a thread",
            "longest wait, in a thread"]  # fmt: skip
    cells = [(f"{n:,}", f"{on[0] * 1000:.0f} ms", f"{on[1] * 1000:.0f} ms",
              f"{off[0] * 1000:.0f} ms", f"{off[1] * 1000:.1f} ms")
             for n, on, off in rows]  # fmt: skip
    return _render("index.md", rows=table(head, cells, align="r"))


def _p99(ms: float) -> str:
    return f"{ms:.2f}" if ms > 0 else "n/a"  # wrk gives none for pipelined requests


def workers(
    sections: list[tuple[str, list[tuple[str, list[Result]]]]],
    memory: dict[int, list[tuple[str, list[float]]]],
) -> str:
    """bench_workers: per page, each front door's wrk runs (1 worker first); then VmRSS by
    number of workers: (when, MiB of the master then each worker)."""
    pages = []
    for what, doors in sections:
        base = doors[0][1]
        base_rps, base_cpu = median(x.rps for x in base), median(x.cpu_us for x in base)
        rows = []
        for name, r in doors:
            rps, cpu = median(x.rps for x in r), median(x.cpu_us for x in r)
            rows.append([name, f"{rps:,.0f}", f"{rps / base_rps:.2f}",
                         _p99(median(x.p99_ms for x in r)), f"{cpu:.0f}",
                         f"{rps * cpu / 1e6:.2f}", f"{base_cpu / cpu:.2f}",
                         sum(x.errors for x in r)])  # fmt: skip
        head = ["", "requests/s", "x 1 worker", "p99 ms", "CPU us/request", "CPU cores used",
                "CPU per request, 1 worker / this", "errors"]  # fmt: skip
        pages.append((what, table(head, rows)))
    rows = [[f"workers = {n}, {label}", " / ".join(f"{m:.1f}" for m in sizes)]
            for n, samples in sorted(memory.items()) for label, sizes in samples]  # fmt: skip
    memory_table = table(["when", "VmRSS"], rows, align="ll")
    return _render("workers.md", machine=machine(), sections=pages, memory=memory_table)
