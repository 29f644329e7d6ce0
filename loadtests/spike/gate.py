"""The locust process's listeners: read the run config, learn the bulletins, record every
answer, sample users and CPU once a second; then, on `quitting`, the SLO gate
(loadtests/README.md, "The SLO gate"): write the run's files and set the exit code.

Importing this module registers the listeners (loadtests/locustfile.py does). Locust
has monkey-patched the standard library by then (gevent), so `threading` and
`time.sleep` here are greenlets and cooperative sleeps."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from locust import events
from locust.env import Environment

from loadtests.reports.spike import ClassRow, gate_markdown, spike_summary
from loadtests.spike import readings
from loadtests.spike.customers import CLASS_OF, on
from loadtests.spike.slo import NAMES, Latency, Observed, evaluate, passed
from loadtests.spike.state import RUN, Catalog, RunConfig
from sims.harness import procs

log = logging.getLogger("spike")
HTTP_TIMEOUT_S: Final = 5.0
SAMPLE_S: Final = 1.0
STALL_NOTE_S: Final = 0.25  # a sample this late means the loop was held up
EXIT_SLO_BREACHED: Final = 3
DRAIN_CAP_S: Final = 300.0
_stop_sampling = threading.Event()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310 - loopback
        body: bytes = answer.read()
        return body


@on(events.init_command_line_parser)
def _arguments(parser: Any) -> None:
    what = "the run config JSON written by `python -m loadtests.spike`"
    parser.add_argument("--spike-run", default="", help=what, include_in_web_ui=False)


@on(events.init)
def _init(environment: Environment, **_: object) -> None:
    path = getattr(environment.parsed_options, "spike_run", "")
    if path:
        RUN.config = RunConfig.read(Path(path))


@on(events.test_start)
def _test_start(environment: Environment, **_: object) -> None:
    config = RUN.need_config()
    doc = json.loads(get(f"{config.host}/api/v1/bulletins?limit=100"))
    RUN.catalog = Catalog.zipf([int(b["id"]) for b in doc["bulletins"]])
    RUN.metrics_before = readings.parse(get(f"{config.ops}/metrics").decode())
    log.info("%d bulletins; the 5 most read get %.0f%% of reads", len(RUN.catalog.ids),
             100 * RUN.catalog.share_of_top(5))  # fmt: skip
    _stop_sampling.clear()
    threading.Thread(
        target=_sample, args=(environment, config.door_pid), name="spike-sampler", daemon=True
    ).start()


def cpu_seconds(pid: int) -> float | None:
    """The harness's `cpu_seconds`, None once the process is gone."""
    try:
        return procs.cpu_seconds(pid)
    except OSError:
        return None


def _sample(environment: Environment, door_pid: int | None) -> None:
    """Users, and locust's and the front door's CPU (% of one core), once a second."""
    wall, mine = time.monotonic(), time.process_time()
    door = cpu_seconds(door_pid) if door_pid else None
    while not _stop_sampling.wait(SAMPLE_S):
        now, mine_now = time.monotonic(), time.process_time()
        door_now = cpu_seconds(door_pid) if door_pid else None
        span = max(now - wall, 1e-6)
        if span - SAMPLE_S > STALL_NOTE_S:
            # Our own loop was blocked (or this process not scheduled): every answer in
            # flight was timed that much too long. Noted, gated (slo.toml [loadgen]).
            RUN.stalls.append((RUN.now() - span, span - SAMPLE_S))
            log.warning("locust's event loop was held up %.2f s at %.0f s", span - SAMPLE_S,
                        RUN.now() - span)  # fmt: skip
        door_cpu = float("nan")
        if door is not None and door_now is not None:
            door_cpu = 100 * (door_now - door) / span
        users = environment.runner.user_count if environment.runner is not None else 0
        RUN.recorder.gauges(RUN.now(), users=users, locust_cpu=100 * (mine_now - mine) / span,
                            door_cpu=door_cpu)  # fmt: skip
        wall, mine, door = now, mine_now, door_now


@on(events.test_stop)
def stop_sampling(**_: object) -> None:
    _stop_sampling.set()


@on(events.request)
def _request(
    name: str, response_time: float, response: Any, exception: BaseException | None, **_: object
) -> None:
    status = getattr(response, "status_code", 0) or 0
    RUN.recorder.request(RUN.now(), CLASS_OF.get(name, name), response_time,
                         ok=exception is None,
                         server_error=status == 0 or status >= 500)  # fmt: skip


@on(events.cpu_warning)
def _cpu_warning(cpu_usage: float, **_: object) -> None:
    RUN.cpu_warnings.append(RUN.now())
    log.warning("locust at %.0f%% CPU at %.0f s: the load generator is at its limit",
                cpu_usage, RUN.now())  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    observed: Observed
    classes: list[ClassRow]
    callbacks: readings.Reconciled | None
    lookups: dict[str, float]


def _callbacks(config: RunConfig) -> readings.Reconciled:
    deliveries = {name: json.loads(get(f"{control}/_sim/callbacks"))["deliveries"]
                  for name, control in config.controls.items()}  # fmt: skip
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


def _classes(environment: Environment) -> list[ClassRow]:
    rows = []
    for cls, (method, name) in NAMES.items():
        e = environment.stats.entries.get((name, method))
        if e is not None and e.num_requests:
            q = e.get_response_time_percentile
            rows.append(ClassRow(
                cls=cls, name=name, requests=e.num_requests, failures=e.num_failures,
                p50_ms=float(q(0.50)), p95_ms=float(q(0.95)), p99_ms=float(q(0.99)),
                max_ms=float(e.max_response_time),
            ))  # fmt: skip
    return rows


def observe(environment: Environment, config: RunConfig) -> Observation:
    classes = _classes(environment)
    found, after = drain(config) if RUN.completed else (None, {})
    recorder, runner = RUN.recorder, environment.runner
    lookups = readings.lookups(RUN.metrics_before, after) if after else {}
    observed = Observed(
        # Errors over the whole run, warm-up included (the recorder saw every answer);
        # latency from locust's stats, which start after the warm-up (SpikeShape).
        requests=sum(len(v) for v in recorder.latencies.values()),
        failures=sum(recorder.failures.values()),
        server_errors=sum(recorder.server_errors.values()),
        latency={c.cls: Latency(p95_ms=c.p95_ms, p99_ms=c.p99_ms) for c in classes},
        cache_hit_ratio=readings.hit_ratio(lookups),
        l1_hit_ratio=readings.hit_ratio(lookups, ["l1"]),
        callbacks_accepted=len(RUN.tickets), callbacks_lost=None if found is None else found.lost,
        callbacks_duplicated=None if found is None else found.duplicated,
        callbacks_pending=readings.total(after, readings.PENDING),
        dead_letters=readings.total(after, readings.DEAD_LETTERS),
        loadgen_cpu_warning=bool(runner is not None and runner.cpu_warning_emitted),
        loadgen_worst_stall_s=max((s for _, s in RUN.stalls), default=0.0),
        task_exceptions=len(runner.exceptions) if runner is not None else 0,
        completed=RUN.completed, switch_problems=tuple(RUN.switch_problems),
        outage_switched=RUN.down_at is not None and RUN.up_at is not None,
    )  # fmt: skip
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
    (out / "slo.md").write_text(gate_markdown(checks))
    gate = {"passed": ok, "checks": [dataclasses.asdict(c) for c in checks]}
    (out / "slo.json").write_text(json.dumps(gate, indent=2) + "\n")
    events = {  # for the plot
        "profile": dataclasses.asdict(config.profile), "down_at": RUN.down_at,
        "up_at": RUN.up_at, "cpu_warnings": RUN.cpu_warnings, "stalls": RUN.stalls,
        "phases": [[p.value, a, b] for p, a, b in config.profile.phases()],
    }  # fmt: skip
    (out / "events.json").write_text(json.dumps(events, indent=2) + "\n")
    (out / "summary.md").write_text(spike_summary(RUN, config, seen, checks))
    verdict = "passed" if ok else "BREACHED"
    print(f"\nSLO gate {verdict}:\n{gate_markdown(checks)}", flush=True)
    environment.process_exit_code = 0 if ok else EXIT_SLO_BREACHED
