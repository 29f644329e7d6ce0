"""The failover bench's report, in markdown: the front door against nginx set up for
failover the way a user would without Switchboard, per fault of the primary."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from loadtests.bench import nginx
from loadtests.bench.failover_load import PATH, PATIENCE_S, Load, Outcome, Visit
from loadtests.bench.failover_stage import DOOR_NAME, NGINX_CONFIGS, Fault, door_settings

SLOW_S = 1.0  # a customer who waited longer than this is counted as slow


@dataclass(frozen=True, slots=True)
class Case:
    fault: Fault
    contender: str
    short: str  # the contender's name in narrow tables
    load: Load


@dataclass(frozen=True, slots=True)
class Shape:
    rate: float
    before: float
    after: float


def _errors(visits: Sequence[Visit]) -> int:
    return sum(v.outcome.is_error for v in visits)


def _count(visits: Sequence[Visit], *outcomes: Outcome) -> int:
    return sum(v.outcome in outcomes for v in visits)


def _slow(visits: Sequence[Visit]) -> int:
    return sum(v.seconds > SLOW_S for v in visits)


def _quantile(visits: Sequence[Visit], q: float) -> float:
    seconds = sorted(v.seconds for v in visits)
    if len(seconds) < 2:
        return seconds[0] if seconds else float("nan")
    return statistics.quantiles(seconds, n=100, method="inclusive")[round(q * 100) - 1]


def _worst(visits: Sequence[Visit]) -> float:
    return max((v.seconds for v in visits), default=float("nan"))


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _cell(c: Case) -> str:
    visits = c.load.visits
    return f"{_errors(visits)} errors, {_slow(visits)} slow, worst {_s(_worst(visits))}"


def _summary(cases: Sequence[Case]) -> list[str]:
    shorts = list(dict.fromkeys(c.short for c in cases))
    by = {(c.fault, c.short): c for c in cases}
    nginxes = [n for n in shorts if n != DOOR_NAME]
    lines = [
        f"## Summary: customers with an error, customers who waited more than {SLOW_S:.0f} s, "
        "the longest wait",
        "",
        "| primary call center | " + " | ".join(shorts) + " | front door has fewer errors |",
        "|---|" + "---:|" * len(shorts) + "---|",
    ]
    for fault in dict.fromkeys(c.fault for c in cases):
        cells = [_cell(by[(fault, n)]) if (fault, n) in by else "-" for n in shorts]
        verdicts = []
        door = by.get((fault, DOOR_NAME))
        for n in nginxes:
            other = by.get((fault, n))
            if door is None or other is None:
                continue
            mine, theirs = _errors(door.load.visits), _errors(other.load.visits)
            word = "yes" if mine < theirs else ("no, equal" if mine == theirs else "NO, more")
            verdicts.append(f"{word} ({n.removeprefix('nginx, ')})")
        lines.append(f"| {fault.value} | " + " | ".join(cells) + f" | {'; '.join(verdicts)} |")
    return lines


def _row(c: Case) -> str:
    visits, after = c.load.visits, c.load.after_fault()
    counts = " / ".join(
        str(_count(visits, o)) for o in (Outcome.PRIMARY, Outcome.BACKUP, Outcome.SELF_HELP)
    )
    errors = " / ".join(
        str(_count(visits, *o))
        for o in (
            (Outcome.HELP_5XX, Outcome.SERVER_ERROR),
            (Outcome.TIMEOUT,),
            (Outcome.CONNECTION, Outcome.OTHER),
        )
    )
    return (
        f"| {c.fault.value} | {c.contender} | {len(visits)} | {counts} | {_errors(visits)} "
        f"| {errors} | {_s(_quantile(after, 0.5))} | {_s(_quantile(after, 0.99))} "
        f"| {_s(_worst(visits))} | {_slow(visits)} |"
    )


def _details(cases: Sequence[Case]) -> list[str]:
    return [
        "## Every run",
        "",
        "Counts and the worst wait over all customers of the run (those sent just before "
        "the fault and still waiting meet it too); p50 and p99 over the customers sent "
        "after the fault.",
        "",
        "| primary | contender | customers | answered by primary / backup / self-help "
        f"| errors | of which 5xx / no answer in {PATIENCE_S:.0f} s / connection or other "
        f"| p50 after | p99 after | worst | waited > {SLOW_S:.0f} s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(_row(c) for c in cases),
    ]


def _before(cases: Sequence[Case]) -> list[str]:
    odd = []
    for c in cases:
        before = c.load.before_fault()
        if (errors := _errors(before)) > 0:
            odd.append(f"{c.fault.value} / {c.contender}: {errors}")
    lag = max(c.load.max_lag for c in cases)
    took = max(c.load.fault_took for c in cases)
    fine = "none in any run" if not odd else "; ".join(odd)
    return [
        f"Errors among customers sent before the fault: {fine}. The load generator sent "
        f"each customer at most {lag * 1000:.0f} ms late; injecting a fault took at most "
        f"{took * 1000:.0f} ms.",
    ]


def _goal(cases: Sequence[Case]) -> str:
    """The issue's goal, per nginx configuration: fewer errors than nginx in every case."""
    door = {c.fault: _errors(c.load.visits) for c in cases if c.short == DOOR_NAME}
    parts = []
    for short in dict.fromkeys(c.short for c in cases if c.short != DOOR_NAME):
        theirs = {c.fault: _errors(c.load.visits) for c in cases if c.short == short}
        faults = [f for f in door if f in theirs]
        fewer = [f.value for f in faults if door[f] < theirs[f]]
        equal = [f.value for f in faults if door[f] == theirs[f]]
        more = [f.value for f in faults if door[f] > theirs[f]]
        met = "met" if len(fewer) == len(faults) else "not met"
        found = [
            f"{label}: {', '.join(names)}"
            for label, names in (("fewer", fewer), ("equal", equal), ("MORE", more))
            if names
        ]
        parts.append(f"against {short}: {met} ({'; '.join(found)})")
    return "Goal, fewer customer-visible errors than nginx in every case: " + "; ".join(parts)


def _tuned(cases: Sequence[Case]) -> str:
    """Errors of the nginx configurations with timeouts set (not the defaults)."""
    tuned = [t.short for t in NGINX_CONFIGS if t.read is not None]
    errors = {n: sum(_errors(c.load.visits) for c in cases if c.short == n) for n in tuned}
    if not any(errors.values()):
        return (
            "With a healthy backup, nginx with its timeouts set gave no customer an error "
            "either, in any run: `proxy_next_upstream` retries a failed GET on the backup."
        )
    found = ", ".join(f"{n}: {e}" for n, e in errors.items())
    return f"nginx with its timeouts set gave customers errors, over all faults: {found}."


def _door_slow(cases: Sequence[Case]) -> int:
    return max((_slow(c.load.visits) for c in cases if c.short == DOOR_NAME), default=0)


def _reading(cases: Sequence[Case], shape: Shape) -> list[str]:
    return [
        "## What the numbers show",
        "",
        f"- {_goal(cases)}.",
        f"- {_tuned(cases)} Where they differ is who waits, and how long. nginx (open "
        "source) has no active health checks: it learns that the primary is gone only from "
        "customers' requests, so every customer sent to the primary before the first of "
        "them has timed out waits the full timeout (read; connect when unreachable), then "
        "gets the backup's page; after `max_fails=1` failure it skips the "
        "primary for `fail_timeout=10s`, then sends one customer to it again. A refused "
        "connection costs nothing, so a killed primary is free for both.",
        f"- The front door ({door_settings(probes_only=True)}) takes the primary out of "
        f"routing whatever the fault: at most {_door_slow(cases)} customers waited more "
        f"than {SLOW_S:.0f} s in any run, {_door_slow(cases) / shape.rate:.2f} s worth at "
        f"{shape.rate:.0f}/s; only customers "
        "already on their way to it wait, at most its proxy read timeout, then go to the "
        "backup (one retry) inside the budget.",
        "- With nginx's defaults (60 s), a primary that blackholes, drops packets or hangs "
        f"makes every customer give up at {PATIENCE_S:.0f} s. Each customer closes before "
        "nginx's 60 s timeout, and a client that closes is not a failure of the upstream, "
        "so nginx never marked the primary failed and never tried the backup.",
    ]


def _method(shape: Shape) -> list[str]:
    careful = NGINX_CONFIGS[0]
    return [
        "## Method",
        "",
        f"- Customers: `GET {PATH}`, one every {1000 / shape.rate:.0f} ms on a fixed "
        f"schedule ({shape.rate:.0f}/s, open loop: a slow answer never holds up the next "
        f"customer), {shape.before:.0f} s before the fault and {shape.after:.0f} s after it. "
        f"Each waits at most {PATIENCE_S:.0f} s for the final page, then gives up. Latency "
        "runs from the scheduled send to the last byte of the final page (for the front "
        "door's 303, the self-help page it points to). Python aiohttp client, pinned to "
        "core 1 with the simulators and the gate; loopback only.",
        "- Counted as a customer-visible error: any 5xx (also nginx's `error_page` help "
        "page, which keeps the 502/503/504 status: a friendly body does not make it a "
        f"success), no answer within {PATIENCE_S:.0f} s, a connection error, or anything "
        "else that is not the call center's page. Not an error: a 200 from either call "
        "center, a 303 to self-help whose page answers 200 (or nginx's help page, had it "
        "been given with `=200`).",
        "- Call centers: two `sims.callcenter` processes, `primary` and `backup`, on core 1; "
        "each answer carries `X-Served-By`. New call centers, gate and contender for every "
        "run. The contender alone on core 0 (nginx: `worker_processes 1`).",
        "- Faults of the primary:",
        *(f"  - {f.value}: {f.describe}" for f in Fault),
        "  The gate (`loadtests/bench/faultgate.py`) is a TCP relay in its own process, "
        "used only for the two faults that need it; both contenders reach the primary "
        "through it in those runs.",
        f"- Front door: default configuration, the two call centers by priority, the "
        f"community simulator as self-help origin. Its defaults: {door_settings()}.",
        "- nginx (Debian's binary, `nginx -p DIR -c nginx.conf -g 'daemon off;'`, "
        "`worker_processes 1`, `access_log off`): `server primary; server backup backup;`, "
        "`proxy_next_upstream error timeout http_502 http_503 http_504` (not "
        "`non_idempotent`), `error_page 502 503 504 /help.html` served from a file, "
        "`proxy_intercept_errors on`, keep-alive upstream connections. Timeouts, one "
        "configuration per run:",
        *(f"  - {t.label}: {t.describe()}" for t in NGINX_CONFIGS),
        "  The careful configuration, in full (`http` block):",
        "",
        "```nginx",
        nginx.failover_snippet(careful),
        "```",
        "",
        f"- {os.cpu_count()} cores; this VM is shared, so latencies carry noise of tens of "
        "ms; counts of errors do not.",
    ]


def render(cases: Sequence[Case], shape: Shape) -> str:
    lines = [
        "# Failover: the front door against nginx set up for failover by hand",
        "",
        "The primary call center fails while customers keep coming; a backup call center "
        "is healthy throughout. Which customers see an error, and how long the slowest "
        "wait?",
        "",
        *_summary(cases),
        "",
        *_before(cases),
        "",
        *_details(cases),
        "",
        *_reading(cases, shape),
        "",
        *_method(shape),
    ]
    return "\n".join(lines)
