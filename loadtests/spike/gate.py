"""The SLO gate, run by locust's `quitting` event: wait for the callback backlog to be
delivered, gather what the run observed (locust's stats, the recorder, the front door's
/metrics, the call centers' received callbacks), evaluate `slo.evaluate`, write the
run's files and set the process exit code.

Exit codes: 0 every SLO met; 3 one breached (slo.md says which); locust's own (1, 2)
only when locust failed before the gate could run.

Importing this module registers the listener (loadtests/locustfile.py does).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from typing import Final

from locust import events
from locust.env import Environment

from loadtests import tables
from loadtests.spike import readings
from loadtests.spike.customers import NAMES
from loadtests.spike.hooks import on
from loadtests.spike.listeners import get, stop_sampling
from loadtests.spike.slo import Latency, Observed, evaluate, passed
from loadtests.spike.state import RUN, RunConfig

log = logging.getLogger("spike.gate")
EXIT_SLO_BREACHED: Final = 3
DRAIN_CAP_S: Final = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    observed: Observed
    classes: list[tables.ClassRow]
    callbacks: readings.Reconciled | None
    lookups: dict[str, float]


def _callbacks(config: RunConfig) -> readings.Reconciled:
    deliveries = {
        name: json.loads(get(f"{control}/_sim/callbacks"))["deliveries"]
        for name, control in config.controls.items()
    }
    return readings.reconcile(RUN.tickets, deliveries)


def drain(config: RunConfig) -> tuple[readings.Reconciled | None, readings.Samples]:
    """Wait until every ticket is delivered and nothing is pending: as long as the
    backlog shrinks (the dispatcher paces deliveries, `[callbacks] rate_per_s`) up to
    DRAIN_CAP_S, and `drain_s` more once it stops shrinking."""
    started = time.monotonic()
    stalled_since = started
    best: float | None = None
    while True:
        try:
            samples = readings.parse(get(f"{config.ops}/metrics").decode())
            found = _callbacks(config)
        except OSError as exc:
            log.error("could not read the stack: %s", exc)  # noqa: TRY400 - a finding, not a crash
            return None, {}
        pending = readings.total(samples, readings.PENDING)
        if found.lost == 0 and pending == 0:
            log.info("callbacks: all %d delivered after %.1f s", found.accepted,
                     time.monotonic() - started)  # fmt: skip
            return found, samples
        now = time.monotonic()
        left = found.lost + (pending or 0.0)
        if best is None or left < best:
            best, stalled_since = left, now
        if now - stalled_since > config.drain_s or now - started > DRAIN_CAP_S:
            log.warning("callbacks: %d tickets undelivered, %s pending after %.0f s",
                        found.lost, pending, now - started)  # fmt: skip
            return found, samples
        time.sleep(0.5)


def _classes(environment: Environment) -> list[tables.ClassRow]:
    rows = []
    for cls, (method, name) in NAMES.items():
        e = environment.stats.entries.get((name, method))
        if e is not None and e.num_requests:
            q = e.get_response_time_percentile
            rows.append(tables.ClassRow(
                cls=cls, name=name, requests=e.num_requests, failures=e.num_failures,
                p50_ms=float(q(0.50)), p95_ms=float(q(0.95)), p99_ms=float(q(0.99)),
                max_ms=float(e.max_response_time),
            ))  # fmt: skip
    return rows


def observe(environment: Environment, config: RunConfig) -> Observation:
    classes = _classes(environment)
    found, after = drain(config) if RUN.completed else (None, {})
    before, recorder, runner = RUN.metrics_before, RUN.recorder, environment.runner
    observed = Observed(
        # Errors over the whole run, warm-up included (the recorder saw every answer);
        # latency from locust's stats, which start after the warm-up (shape.py).
        requests=sum(len(v) for v in recorder.latencies.values()),
        failures=sum(recorder.failures.values()),
        server_errors=sum(recorder.server_errors.values()),
        latency={c.cls: Latency(p95_ms=c.p95_ms, p99_ms=c.p99_ms) for c in classes},
        cache_hit_ratio=readings.cache_hit_ratio(before, after) if after else None,
        l1_hit_ratio=readings.l1_hit_ratio(before, after) if after else None,
        callbacks_accepted=len(RUN.tickets),
        callbacks_lost=None if found is None else found.lost,
        callbacks_duplicated=None if found is None else found.duplicated,
        callbacks_pending=readings.total(after, readings.PENDING),
        dead_letters=readings.total(after, readings.DEAD_LETTERS),
        loadgen_cpu_warning=bool(runner is not None and runner.cpu_warning_emitted),
        loadgen_worst_stall_s=max((s for _, s in RUN.stalls), default=0.0),
        task_exceptions=len(runner.exceptions) if runner is not None else 0,
        completed=RUN.completed,
        outage_switched=RUN.down_at is not None and RUN.up_at is not None,
        switch_problems=tuple(RUN.switch_problems),
    )
    lookups = readings.lookups(before, after) if after else {}
    return Observation(observed=observed, classes=classes, callbacks=found, lookups=lookups)


@on(events.quitting)
def _quitting(environment: Environment, **_: object) -> None:
    config = RUN.config
    if config is None:
        return
    stop_sampling()
    seen = observe(environment, config)
    checks = evaluate(seen.observed, config.slo)
    ok = passed(checks)
    out = config.out
    RUN.recorder.write(out / "timeline.csv", config.profile)
    (out / "slo.md").write_text(tables.gate_markdown(checks))
    gate = {"passed": ok, "checks": [dataclasses.asdict(c) for c in checks]}
    (out / "slo.json").write_text(json.dumps(gate, indent=2) + "\n")
    events = {  # for the plot
        "profile": dataclasses.asdict(config.profile), "down_at": RUN.down_at,
        "up_at": RUN.up_at, "cpu_warnings": RUN.cpu_warnings, "stalls": RUN.stalls,
        "phases": [[p.value, a, b] for p, a, b in config.profile.phases()],
    }  # fmt: skip
    (out / "events.json").write_text(json.dumps(events, indent=2) + "\n")
    (out / "summary.md").write_text(tables.spike_summary(RUN, config, seen, checks))
    verdict = "passed" if ok else "BREACHED"
    print(f"\nSLO gate {verdict}:\n{tables.gate_markdown(checks)}", flush=True)
    environment.process_exit_code = 0 if ok else EXIT_SLO_BREACHED
