"""The failover bench's stage and customers (docs/benchmarks.md, "Failover against nginx"):
each run new call centers, the fault gate in front of the primary where the fault needs
one (`sims/faultproxy.py`) and one contender on core 0; customers from locust on a fixed
schedule, each waiting at most `PATIENCE_S`; what each ended up with (`Outcome`) is read
from the answers."""

from __future__ import annotations

import math
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from failover.settings import ProxySettings
from loadtests.bench import nginx
from loadtests.bench.load import Event, Plan, Record, run_load
from loadtests.bench.stage import PAGE_PATH, READY_LOG, SIDE_CORE, Contender, door
from sims.harness.frontdoor import start_sim
from sims.harness.ports import free_port, post, wait_http
from sims.harness.procs import Processes

PATIENCE_S = 10.0  # a customer who has waited this long gives up: an error


class Fault(StrEnum):
    KILLED = "killed"
    BLACKHOLED = "blackholed"
    UNREACHABLE = "unreachable"
    HANGS = "hangs"  # what each does: loadtests/reports/failover.md, "Method"


class Outcome(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"
    SELF_HELP = "self-help (200)"
    HELP_5XX = "help page with a 5xx"
    SERVER_ERROR = "other 5xx"
    TIMEOUT = "no answer in time"
    CONNECTION = "connection error"
    OTHER = "other answer"

    @property
    def is_error(self) -> bool:
        return self not in {Outcome.PRIMARY, Outcome.BACKUP, Outcome.SELF_HELP}


def _door_timeouts() -> nginx.Timeouts:
    """nginx set to what the front door uses by default: connect, read, whole budget."""
    p = ProxySettings()
    connect, read, budget = p.connect_timeout_ms, p.read_timeout_ms, p.request_budget_ms
    return nginx.Timeouts(
        label=f"the front door's timeouts ({connect} ms / {read} ms / {budget} ms)",
        short="nginx, the door's timeouts",
        connect=f"{connect}ms", read=f"{read}ms", next_upstream=f"{budget}ms",
    )  # fmt: skip


NGINX_CONFIGS = (
    nginx.Timeouts(
        label="careful (connect 1 s, read 5 s)", short="nginx, careful", connect="1s", read="5s"
    ),
    _door_timeouts(),
    nginx.Timeouts(label="defaults (60 s)", short="nginx, defaults"),
)


@dataclass(slots=True)
class Scene:
    """One run's call centers: where contenders reach them, and how to break the primary."""

    procs: Processes
    primary_pid: int
    primary_control: str
    primary: str  # host:port the contenders use (the gate's, where there is one)
    backup: str
    gate_pid: int | None

    def inject(self, fault: Fault) -> None:
        if fault is Fault.KILLED:
            self.procs.kill(self.primary_pid)
        elif fault is Fault.HANGS:
            post(f"{self.primary_control}/_sim/mode", {"mode": "hang"})
        elif self.gate_pid is not None:
            sig = signal.SIGUSR1 if fault is Fault.BLACKHOLED else signal.SIGUSR2
            os.kill(self.gate_pid, sig)

    def contender(self, tmp: Path, origin: str, timeouts: nginx.Timeouts | None) -> Contender:
        """nginx with `timeouts`, or (None) the front door: default configuration, the two
        call centers by priority; it trusts 127.0.0.1 as its proxy, so each customer's
        X-Forwarded-For counts (per-client limits apply per customer, not to the bench)."""
        if timeouts is not None:
            return nginx.failover(tmp, primary=self.primary, backup=self.backup, timeouts=timeouts)
        centers = [("primary", f"http://{self.primary}"), ("backup", f"http://{self.backup}")]
        return door(tmp, "failover", log=True, ready_log=READY_LOG,
                    trusted_proxy=True, community_port=origin, centers=centers)  # fmt: skip


def scene(procs: Processes, tmp: Path, fault: Fault) -> Scene:
    """Both call centers (`sims.callcenter`, logs appended to run after run), and the gate
    in front of the primary for the faults that need it."""
    first, backup = (
        start_sim(procs, "callcenter", "--name", name, name=name, core=SIDE_CORE,
                  log=tmp / f"callcenter-{name}.log", ready="/health")
        for name in ("primary", "backup")
    )  # fmt: skip
    primary, gate_pid = first.port, None
    if fault in {Fault.BLACKHOLED, Fault.UNREACHABLE}:
        gate = free_port()
        argv = [sys.executable, "-m", "sims.faultproxy", str(gate), str(primary)]
        gate_pid = procs.spawn(argv, core=SIDE_CORE).pid
        wait_http(f"http://127.0.0.1:{gate}/health", what="bench")
        primary = gate
    return Scene(procs, first.pid, first.control, f"127.0.0.1:{primary}",
                 f"127.0.0.1:{backup.port}", gate_pid)  # fmt: skip


def outcome(r: Record) -> Outcome:
    """What the customer ended up with, from what the answers said."""
    if r.done - r.due > PATIENCE_S or r.error == "timeout":
        return Outcome.TIMEOUT
    if r.error:
        return Outcome.CONNECTION
    if r.status == 303:
        if r.then is None:  # not same-site: the front door only ever redirects same-site
            return Outcome.OTHER
        if r.then == 200:
            return Outcome.SELF_HELP
        return Outcome.SERVER_ERROR if r.then >= 500 else Outcome.OTHER
    if r.marked:
        return Outcome.SELF_HELP if r.status == 200 else Outcome.HELP_5XX
    if r.status == 200 and r.served_by in {"primary", "backup"}:
        return Outcome(r.served_by)
    return Outcome.SERVER_ERROR if r.status >= 500 else Outcome.OTHER


@dataclass(frozen=True, slots=True)
class Visit:
    sent: float  # seconds from the start of the load, as scheduled
    seconds: float  # until the final page, or until the customer gave up
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Load:
    visits: list[Visit]
    fault_at: float  # seconds from the start of the load: when injecting began
    fault_took: float  # how long the injection call took
    max_lag: float  # how late the generator sent a visit, at worst (seconds)


def customers(
    base: str, inject: Callable[[], None], *, rate: float, before: float, after: float
) -> Load:
    """The load against `base`, `inject` called `before` s after its start."""
    plan = Plan(seconds=before + after, max_requests=round(rate * (before + after)), rate=rate,
                concurrency=math.ceil(rate * (PATIENCE_S + 1)),  # open loop: never all busy
                paths=(("visit", PAGE_PATH),), follow=True, close=True, forwarded_for=True,
                mark=nginx.HELP_MARK.decode(), patience=PATIENCE_S)  # fmt: skip
    run = run_load(base, plan, events=[Event(before, "fault", inject)])
    visits = [Visit(r.due, min(r.done - r.due, PATIENCE_S), outcome(r)) for r in run.records]
    ((began, ended, _),) = run.events
    lag = max((r.sent - r.due for r in run.records), default=0.0)
    return Load(visits, began, ended - began, lag)
