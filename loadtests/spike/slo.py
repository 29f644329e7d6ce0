"""The SLO gate (loadtests/README.md, "The SLO gate"): thresholds from loadtests/slo.toml,
overrides as `dotted.key=value`, and `evaluate`, a pure function from what a run observed
to one `Check` per threshold. A threshold over nothing fails ("not measured"). `SloError`:
a missing, broken or unknown key in the file, or a bad override."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

# Request class (slo.toml [latency.<class>]) -> (method, the customers' locust name).
NAMES: Final = {
    "support": ("GET", "/support/[topic]"),
    "support_redirect": ("GET", "/help/search?q=[topic] (sent from /support)"),
    "help": ("GET", "/help"),
    "search": ("GET", "/help/search?q=[words]"),
    "bulletin": ("GET", "/help/bulletins/[id]"),
    "vote": ("POST", "/help/bulletins/[id]/vote"),
    "callback": ("POST", "/help/callbacks"),
}
CLASSES: Final = tuple(NAMES)


class SloError(ValueError):
    """A bad threshold file or override; the message names the key, one line per problem."""


class _Table(BaseModel):  # as failover/settings' sections: frozen, unknown keys refused
    model_config = ConfigDict(frozen=True, extra="forbid")


Count = Annotated[StrictInt, Field(ge=0)]  # strict: true is not 1
Number = Annotated[StrictFloat, Field(ge=0)]  # strict: an integer is taken, true is not


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """p95 and p99 in ms: a threshold (pydantic checks `Number` when it reads slo.toml) or
    what a run observed (built directly, NaN where locust had none)."""

    p95_ms: Number
    p99_ms: Number


class Errors(_Table):
    max_error_ratio: Number
    max_server_errors: Count


class Latencies(_Table):  # every class of NAMES, in its order; dict(it): class -> Latency
    support: Latency
    support_redirect: Latency
    help: Latency
    search: Latency
    bulletin: Latency
    vote: Latency
    callback: Latency


class Cache(_Table):
    min_hit_ratio: Number
    min_l1_hit_ratio: Number


class Callbacks(_Table):
    max_lost: Count
    max_duplicated: Count
    max_pending: Count
    max_dead_letters: Count


class Loadgen(_Table):
    allow_cpu_warning: StrictBool
    max_stall_s: Number


class Slo(_Table):
    """slo.toml, table by table."""

    errors: Errors
    latency: Latencies
    cache: Cache
    callbacks: Callbacks
    loadgen: Loadgen


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """What one run saw; None where it could not be measured."""

    requests: int
    failures: int
    server_errors: int
    latency: Mapping[str, Latency] = field(default_factory=dict)  # classes with requests
    cache_hit_ratio: float | None = None
    l1_hit_ratio: float | None = None
    callbacks_accepted: int = 0
    callbacks_lost: int | None = None
    callbacks_duplicated: int | None = None
    callbacks_pending: float | None = None
    dead_letters: float | None = None
    loadgen_cpu_warning: bool = False
    loadgen_worst_stall_s: float = 0.0  # longest time locust's own event loop was held up
    task_exceptions: int = 0
    completed: bool = True  # the shape ran to its end (not interrupted)
    outage_switched: bool = True  # both switches were sent
    switch_problems: tuple[str, ...] = ()  # switches a simulator did not take


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    observed: str
    limit: str
    ok: bool


def load(path: Path, overrides: Sequence[str] = ()) -> Slo:
    """The thresholds in `path`, with each `dotted.key=value` override applied."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SloError(f"{path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SloError(f"{path}: not TOML: {exc}") from exc
    for item in overrides:
        apply_override(raw, item)
    return parse(raw, source=str(path))


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set `a.b.c=value` in `raw` (the value is read as TOML: 0.001, true, "x")."""
    key, sep, text = item.partition("=")
    path = key.strip().split(".")
    if not sep or not all(path):
        raise SloError(f"override {item!r}: expected dotted.key=value")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise SloError(f"override {item!r}: the value is not TOML ({exc})") from exc
    node = raw
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise SloError(f"override {item!r}: no threshold table {part!r}")
        node = child
    if path[-1] not in node:
        raise SloError(f"override {item!r}: no threshold {key.strip()!r}")
    node[path[-1]] = value


def parse(raw: Mapping[str, Any], *, source: str = "slo") -> Slo:
    """Errors: `slo.toml: cache.min_hit_ratoi: Extra inputs are not permitted, got 0.9`."""
    try:
        return Slo.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{source}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
            + ("" if e["type"] == "missing" else f", got {e['input']!r}")
            for e in exc.errors()
        ]
        raise SloError("\n".join(problems)) from None


def _num(value: float | None, fmt: str = "{:g}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    return fmt.format(value)


def _at_most(name: str, value: float | None, limit: float, fmt: str = "{:g}") -> Check:
    ok = value is not None and not math.isnan(value) and value <= limit
    return Check(name=name, observed=_num(value, fmt), limit=f"<= {fmt.format(limit)}", ok=ok)


def _at_least(name: str, value: float | None, limit: float) -> Check:
    ok = value is not None and not math.isnan(value) and value >= limit
    return Check(name=name, observed=_num(value, "{:.2%}"), limit=f">= {limit:.2%}", ok=ok)


def evaluate(observed: Observed, slo: Slo) -> list[Check]:
    """One check per threshold, in the file's order; the gate passes if all are ok."""
    ratio = observed.failures / observed.requests if observed.requests else None
    switched = observed.outage_switched and not observed.switch_problems
    checks = [
        Check(name="run completed (all phases)", limit="yes", ok=observed.completed,
              observed="yes" if observed.completed else "interrupted"),
        Check(name="call centers switched down and up", limit="yes", ok=switched,
              observed="yes" if switched else "; ".join(observed.switch_problems) or "not both"),
        Check(name="requests made", observed=str(observed.requests), limit="> 0",
              ok=observed.requests > 0),
        _at_most("error ratio (failed / all requests)", ratio, slo.errors.max_error_ratio,
                 "{:.4%}"),
        _at_most("customer-visible 5xx", observed.server_errors, slo.errors.max_server_errors),
    ]  # fmt: skip
    for cls, limit in dict(slo.latency).items():
        seen = observed.latency.get(cls)
        checks += [
            _at_most(f"p95 {cls} (ms)", None if seen is None else seen.p95_ms, limit.p95_ms),
            _at_most(f"p99 {cls} (ms)", None if seen is None else seen.p99_ms, limit.p99_ms),
        ]
    checks += [
        _at_least("cache hit ratio (any tier, of bulletin lookups)", observed.cache_hit_ratio,
                  slo.cache.min_hit_ratio),
        _at_least("L1 hit ratio (in-process, of bulletin lookups)", observed.l1_hit_ratio,
                  slo.cache.min_l1_hit_ratio),
        _at_most("callbacks lost (202 but never delivered)", observed.callbacks_lost,
                 slo.callbacks.max_lost),
        _at_most("callbacks delivered more than once", observed.callbacks_duplicated,
                 slo.callbacks.max_duplicated),
        _at_most("switchboard_callbacks_pending at the end", observed.callbacks_pending,
                 slo.callbacks.max_pending),
        _at_most("switchboard_callbacks_dead_letter_entries", observed.dead_letters,
                 slo.callbacks.max_dead_letters),
        Check(
            name="load generator below locust's CPU warning",
            observed="warned" if observed.loadgen_cpu_warning else "no warning",
            limit="warning allowed" if slo.loadgen.allow_cpu_warning else "no warning",
            ok=slo.loadgen.allow_cpu_warning or not observed.loadgen_cpu_warning,
        ),
        _at_most("load generator held up (worst, s)", observed.loadgen_worst_stall_s,
                 slo.loadgen.max_stall_s, "{:.2f}"),
        _at_most("exceptions in locust tasks", observed.task_exceptions, 0),
    ]  # fmt: skip
    return checks


def passed(checks: Sequence[Check]) -> bool:
    return all(c.ok for c in checks)
