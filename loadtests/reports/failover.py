"""The failover bench's report (loadtests/results/failover-nginx.md): the front door against
nginx, customer by customer."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from failover.settings import HealthSettings, ProxySettings
from loadtests.bench import failover as fo
from loadtests.bench import nginx
from loadtests.bench.stage import DOOR
from loadtests.tables import machine, render, table

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
    door = {c.fault: _errors(c.load.visits) for c in cases if c.short == DOOR}
    parts = []
    for short in dict.fromkeys(c.short for c in cases if c.short != DOOR):
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
        door = by.get((fault, DOOR))
        for n in shorts:
            c = by.get((fault, n))
            v = c.load.visits if c else []
            cell = f"{_errors(v)} errors, {_slow(v)} slow, worst {_s(_worst(v))}"
            cells.append(cell if c else "-")
            if n != DOOR and door and c:
                mine, theirs = _errors(door.load.visits), _errors(v)
                word = "yes" if mine < theirs else ("no, equal" if mine == theirs else "NO, more")
                verdicts.append(f"{word} ({n.removeprefix('nginx, ')})")
        summary.append([fault.value, *cells, "; ".join(verdicts)])
    odd = [f"{c.fault.value} / {c.contender}: {e}" for c in cases
           if (e := _errors([v for v in c.load.visits if v.sent < c.load.fault_at]))]  # fmt: skip
    tuned = {t.short: sum(_errors(c.load.visits) for c in cases if c.short == t.short)
             for t in fo.NGINX_CONFIGS if t.read is not None}  # fmt: skip
    door_slow = max((_slow(c.load.visits) for c in cases if c.short == DOOR), default=0)
    runs = table(["primary", "contender", "customers", "answered by primary / backup / self-help",
                  "errors", f"of which 5xx / no answer in {fo.PATIENCE_S:.0f} s / connection or "
                  "other", "p50 after", "p99 after", "worst", f"waited > {SLOW_S:.0f} s"],
                 [_failover_row(c) for c in cases], align="llr")  # fmt: skip
    return render(
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
