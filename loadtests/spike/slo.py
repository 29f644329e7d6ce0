"""The SLO gate: thresholds from one TOML file (loadtests/slo.toml), overrides given as
`dotted.key=value`, and `evaluate`, a pure function from what a run observed to one
`Check` per threshold. The run passes when every check does.

A threshold over nothing is a failure, not a pass: a request class with no requests,
or a metric the front door did not export, fails its check ("not measured"), because
a gate that cannot see cannot vouch.

Errors (`SloError`): the file is missing, not TOML, or has an unknown or wrongly typed
key; an override names no threshold or is not a TOML value.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

CLASSES: Final = (  # request classes, as the customers name them (customers.py NAMES)
    "support", "support_redirect", "help", "search", "bulletin", "vote", "callback",
)  # fmt: skip


class SloError(ValueError):
    """A bad threshold file or override; the message names the key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Slo:
    max_error_ratio: float
    max_server_errors: int
    latency: Mapping[str, Latency]
    min_cache_hit_ratio: float
    min_l1_hit_ratio: float
    max_callbacks_lost: int
    max_callbacks_duplicated: int
    max_callbacks_pending: int
    max_dead_letters: int
    allow_loadgen_cpu_warning: bool
    max_loadgen_stall_s: float


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


def _pop(table: dict[str, Any], key: str, where: str) -> object:
    if key not in table:
        raise SloError(f"{where}: {key} is missing")
    return table.pop(key)


def _number(table: dict[str, Any], key: str, where: str) -> float:
    value = _pop(table, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise SloError(f"{where}: {key} must be a non-negative number, got {value!r}")
    return float(value)


def _count(table: dict[str, Any], key: str, where: str) -> int:
    value = _pop(table, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SloError(f"{where}: {key} must be a non-negative integer, got {value!r}")
    return value


def _flag(table: dict[str, Any], key: str, where: str) -> bool:
    value = _pop(table, key, where)
    if not isinstance(value, bool):
        raise SloError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.pop(key, None)
    if not isinstance(value, dict):
        raise SloError(f"{where}: [{key}] is missing")
    return dict(value)


def _no_more(table: Mapping[str, Any], where: str) -> None:
    if table:
        raise SloError(f"{where}: unknown keys {sorted(table)}")


def parse(raw: Mapping[str, Any], *, source: str = "slo") -> Slo:
    raw = dict(raw)
    errors = _table(raw, "errors", source)
    max_error_ratio = _number(errors, "max_error_ratio", f"{source} [errors]")
    max_server_errors = _count(errors, "max_server_errors", f"{source} [errors]")
    _no_more(errors, f"{source} [errors]")
    latency_raw = _table(raw, "latency", source)
    latency: dict[str, Latency] = {}
    for cls in CLASSES:
        where = f"{source} [latency.{cls}]"
        table = _table(latency_raw, cls, f"{source} [latency]")
        latency[cls] = Latency(
            p95_ms=_number(table, "p95_ms", where), p99_ms=_number(table, "p99_ms", where)
        )
        _no_more(table, where)
    _no_more(latency_raw, f"{source} [latency]")
    cache = _table(raw, "cache", source)
    min_hit = _number(cache, "min_hit_ratio", f"{source} [cache]")
    min_l1 = _number(cache, "min_l1_hit_ratio", f"{source} [cache]")
    _no_more(cache, f"{source} [cache]")
    cb = _table(raw, "callbacks", source)
    where = f"{source} [callbacks]"
    slo = Slo(
        max_error_ratio=max_error_ratio,
        max_server_errors=max_server_errors,
        latency=latency,
        min_cache_hit_ratio=min_hit,
        min_l1_hit_ratio=min_l1,
        max_callbacks_lost=_count(cb, "max_lost", where),
        max_callbacks_duplicated=_count(cb, "max_duplicated", where),
        max_callbacks_pending=_count(cb, "max_pending", where),
        max_dead_letters=_count(cb, "max_dead_letters", where),
        **_loadgen(raw, source),
    )
    _no_more(cb, where)
    _no_more(raw, source)
    return slo


def _loadgen(raw: dict[str, Any], source: str) -> dict[str, Any]:
    table = _table(raw, "loadgen", source)
    where = f"{source} [loadgen]"
    found = {
        "allow_loadgen_cpu_warning": _flag(table, "allow_cpu_warning", where),
        "max_loadgen_stall_s": _number(table, "max_stall_s", where),
    }
    _no_more(table, where)
    return found


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
        Check(
            name="run completed (all phases)",
            observed="yes" if observed.completed else "interrupted",
            limit="yes",
            ok=observed.completed,
        ),
        Check(
            name="call centers switched down and up",
            observed="yes" if switched else "; ".join(observed.switch_problems) or "not both",
            limit="yes",
            ok=switched,
        ),
        Check(
            name="requests made",
            observed=str(observed.requests),
            limit="> 0",
            ok=observed.requests > 0,
        ),
        _at_most("error ratio (failed / all requests)", ratio, slo.max_error_ratio, "{:.4%}"),
        _at_most("customer-visible 5xx", observed.server_errors, slo.max_server_errors),
    ]
    for cls, limit in slo.latency.items():
        seen = observed.latency.get(cls)
        checks += [
            _at_most(f"p95 {cls} (ms)", None if seen is None else seen.p95_ms, limit.p95_ms),
            _at_most(f"p99 {cls} (ms)", None if seen is None else seen.p99_ms, limit.p99_ms),
        ]
    checks += [
        _at_least("cache hit ratio (any tier, of bulletin lookups)", observed.cache_hit_ratio,
                  slo.min_cache_hit_ratio),
        _at_least("L1 hit ratio (in-process, of bulletin lookups)", observed.l1_hit_ratio,
                  slo.min_l1_hit_ratio),
        _at_most("callbacks lost (202 but never delivered)", observed.callbacks_lost,
                 slo.max_callbacks_lost),
        _at_most("callbacks delivered more than once", observed.callbacks_duplicated,
                 slo.max_callbacks_duplicated),
        _at_most("switchboard_callbacks_pending at the end", observed.callbacks_pending,
                 slo.max_callbacks_pending),
        _at_most("switchboard_callbacks_dead_letter_entries", observed.dead_letters,
                 slo.max_dead_letters),
        Check(
            name="load generator below locust's CPU warning",
            observed="warned" if observed.loadgen_cpu_warning else "no warning",
            limit="warning allowed" if slo.allow_loadgen_cpu_warning else "no warning",
            ok=slo.allow_loadgen_cpu_warning or not observed.loadgen_cpu_warning,
        ),
        _at_most("load generator held up (worst, s)", observed.loadgen_worst_stall_s,
                 slo.max_loadgen_stall_s, "{:.2f}"),
        _at_most("exceptions in locust tasks", observed.task_exceptions, 0),
    ]  # fmt: skip
    return checks


def passed(checks: Sequence[Check]) -> bool:
    return all(c.ok for c in checks)


def markdown(checks: Sequence[Check]) -> str:
    lines = ["| check | observed | limit | result |", "|---|---:|---:|---|"]
    lines += [
        f"| {c.name} | {c.observed} | {c.limit} | {'pass' if c.ok else '**FAIL**'} |"
        for c in checks
    ]
    return "\n".join(lines) + "\n"
