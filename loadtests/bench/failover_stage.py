"""The failover bench's stage: two simulated call centers (primary and backup), a fault
gate in front of the primary where the fault needs one, the community simulator (the
front door's self-help origin), and the contenders: the front door with both call
centers, or nginx with both as one upstream group (`nginx.failover`).

Simulators and the gate run on core 1 with the load generator; the contender alone on
core 0. Every run gets new call centers, gate and contender, so that no state (nginx's
failure marks, the front door's health machine, a killed process) carries over.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from failover.settings.models import HealthSettings, ProxySettings
from loadtests.bench import nginx
from loadtests.bench.selfhelp_stage import READY_LOG, post
from loadtests.bench.stage import (
    Contender,
    Processes,
    ops_section,
    start_community,
    wait_until_answers,
)
from sims.demo import free_port

SERVER_CORE, SIDE_CORE = 0, 1
DOOR_NAME = "front door"
DOOR_START_S = 60.0


class Fault(StrEnum):
    KILLED = "killed"
    BLACKHOLED = "blackholed"
    UNREACHABLE = "unreachable"
    HANGS = "hangs"

    @property
    def describe(self) -> str:
        return {
            Fault.KILLED: "the primary's process gets SIGKILL: connections reset, new ones refused",
            Fault.BLACKHOLED: "the gate in front of the primary accepts connections and reads "
            "requests but never answers; open connections go silent",
            Fault.UNREACHABLE: "the gate drops every new connection's SYN (connects time "
            "out, as for a host without power); open connections go silent",
            Fault.HANGS: "the primary simulator's `hang` mode: it accepts each request (and "
            "each health probe) and never answers",
        }[self]

    @property
    def gated(self) -> bool:
        return self in {Fault.BLACKHOLED, Fault.UNREACHABLE}


def _ms(value: int) -> str:
    return f"{value}ms"


def _door_timeouts() -> nginx.Timeouts:
    """nginx set to what the front door uses by default: connect, read, whole budget."""
    fields = ProxySettings.model_fields
    connect = int(fields["connect_timeout_ms"].default)
    read = int(fields["read_timeout_ms"].default)
    budget = int(fields["request_budget_ms"].default)
    return nginx.Timeouts(
        label=f"the front door's timeouts ({connect} ms / {read} ms / {budget} ms)",
        short="nginx, the door's timeouts",
        connect=_ms(connect),
        read=_ms(read),
        next_upstream=_ms(budget),
    )


NGINX_CONFIGS = (
    nginx.Timeouts(
        label="careful (connect 1 s, read 5 s)", short="nginx, careful", connect="1s", read="5s"
    ),
    _door_timeouts(),
    nginx.Timeouts(label="defaults (60 s)", short="nginx, defaults"),
)


def door_settings(*, probes_only: bool = False) -> str:
    """The front door's defaults that decide how fast it fails over, for the report."""
    h, p = HealthSettings(), ProxySettings()
    probes = (
        f"probes every {h.interval_ms} ms, probe timeout {h.timeout_ms} ms, down after "
        f"{h.unhealthy_threshold} failed probes"
    )
    if probes_only:
        return probes
    return (
        f"{probes}; proxy connect timeout {p.connect_timeout_ms} "
        f"ms, read timeout {p.read_timeout_ms} ms, budget {p.request_budget_ms} ms, one retry "
        "of a GET on the next call center, then a 303 to self-help"
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


def _callcenter(procs: Processes, tmp: Path, name: str) -> tuple[int, int, int]:
    """A `sims.callcenter` on core 1; its pid, service port and control port."""
    port, control = free_port(), free_port()
    pid = procs.spawn(
        SIDE_CORE,
        sys.executable,
        "-m",
        "sims.callcenter",
        "--name",
        name,
        "--port",
        str(port),
        "--control-port",
        str(control),
        log=tmp / f"callcenter-{name}-{port}.log",
    )
    wait_until_answers(f"http://127.0.0.1:{port}/health")
    return pid, port, control


def scene(procs: Processes, tmp: Path, fault: Fault) -> Scene:
    primary_pid, primary, control = _callcenter(procs, tmp, "primary")
    _, backup, _ = _callcenter(procs, tmp, "backup")
    gate_pid = None
    if fault.gated:
        gate = free_port()
        script = str(Path(__file__).with_name("faultgate.py"))
        gate_pid = procs.spawn(SIDE_CORE, sys.executable, script, str(gate), str(primary))
        wait_until_answers(f"http://127.0.0.1:{gate}/health")
        primary = gate
    return Scene(
        procs,
        primary_pid,
        f"http://127.0.0.1:{control}",
        f"127.0.0.1:{primary}",
        f"127.0.0.1:{backup}",
        gate_pid,
    )


def community(procs: Processes, tmp: Path) -> str:
    """The community simulator (300 bulletins), the front door's self-help origin."""
    return start_community(procs, tmp, core=SIDE_CORE)[0]


def door(tmp: Path, s: Scene, origin: str) -> Contender:
    """The front door, default configuration, the two call centers by priority."""
    port = free_port()
    config = tmp / f"switchboard-failover-{port}.toml"
    config.write_text(
        f"[server]\nport = {port}\n{ops_section(port)}"
        f'[selfhelp]\norigin = "{origin}"\n'
        f'[[callcenters]]\nname = "primary"\nurl = "http://{s.primary}"\npriority = 1\n'
        f'[[callcenters]]\nname = "backup"\nurl = "http://{s.backup}"\npriority = 2\n'
    )
    log = tmp / f"door-failover-{port}.log"
    serve = ("--config", str(config), "--log-format", "text")
    argv = (sys.executable, "-m", "failover", "serve", *serve)
    return Contender(DOOR_NAME, "door", argv, port, "/readyz", log=log, ready_log=READY_LOG)
