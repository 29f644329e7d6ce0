"""The whole stack for the spike test, every part its own process, loopback only.

A redis-server (the documented callback durability config, `deploy/redis-callbacks.conf`,
on a free port: never 6379, the machine's own), two call-center simulators (`primary`,
priority 1; `backup`, priority 2), the community simulator (300 seeded bulletins) and the
front door (`python -m failover serve`) with its default configuration except where
things live. Same approach as `sims/demo.py`.

Cores (DESIGN.md "Measuring"): the front door alone on `door_core`; Redis and the
simulators, the outside world, on `side_core` with the load generator, as nginx sits with
wrk in the proxy bench. On a machine with one core nothing is pinned.

Every child is stopped when the `stack` context ends, however it ends (SIGTERM, then
SIGKILL after a grace period), and gets SIGKILL from the kernel if this process dies
without cleaning up (`PR_SET_PDEATHSIG`). Children run in their own session, so a Ctrl-C
at the terminal reaches only this process, which then stops them in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sims.demo import callcenter_tables
from sims.demo import free_port as any_free_port

ROOT: Final = Path(__file__).resolve().parents[2]
REDIS_CONF: Final = ROOT / "deploy" / "redis-callbacks.conf"
FORBIDDEN_PORTS: Final = frozenset({6379})  # the machine's own Redis: never ours
CALL_CENTERS: Final = ("primary", "backup")
_PR_SET_PDEATHSIG: Final = 1
START_S: Final = 30.0


class StackError(RuntimeError):
    """A part of the stack did not start or answer (the message says which)."""


def free_port() -> int:
    """A loopback TCP port nothing listens on now, never one of `FORBIDDEN_PORTS`."""
    while True:
        port = any_free_port()
        if port not in FORBIDDEN_PORTS:
            return port


def cores() -> tuple[int | None, int | None]:
    """(front door core, load generator core): two different cores this process may use,
    or (None, None) when it has only one."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


def die_with_parent() -> None:
    # Runs in the child between fork and exec; taskset execs its target, which keeps it.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def clean_env() -> dict[str, str]:
    """Our environment without SWITCHBOARD_* (the front door refuses ones it does not
    know, and a developer's shell must not change what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Processes:
    """Children, each pinned to a core (or not) and logged to a file; `stop_all` stops
    them newest first."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(
        self, name: str, argv: Sequence[str], *, core: int | None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        pinned = ["taskset", "-c", str(core), *argv] if core is not None else list(argv)
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                pinned,
                cwd=ROOT,
                env=env if env is not None else clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl, no locks taken
            )
        self.children.append((name, proc))
        return proc

    def dead(self) -> list[str]:
        return [name for name, proc in self.children if proc.poll() is not None]

    def stop_all(self, *, grace: float = 10.0) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.children.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class Stack:
    """Where everything answers, once `stack` has started it."""

    base_url: str  # the front door
    ops_url: str  # its ops listener: /metrics, /status, /admin
    door_pid: int
    controls: dict[str, str]  # call center name -> its simulator's control URL
    community_control: str
    redis_port: int
    config: Path
    processes: Processes

    def dead(self) -> list[str]:
        """The parts that exited while they should be running."""
        return self.processes.dead()

    @property
    def metrics_url(self) -> str:
        return f"{self.ops_url}/metrics"


def wait_http(url: str, *, what: str, seconds: float = START_S) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback URL we built
                body: bytes = answer.read()
                return body
        except OSError as exc:
            if time.monotonic() > deadline:
                raise StackError(f"{what} ({url}) did not answer within {seconds:.0f} s") from exc
            time.sleep(0.1)


def wait_port(port: int, *, what: str, seconds: float = START_S) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f} s")
        time.sleep(0.05)


def write_config(
    path: Path,
    *,
    port: int,
    ops_port: int,
    redis_port: int,
    community_port: int,
    centers: dict[str, int],
    extra: str = "",
) -> None:
    """The front door's config: defaults for everything measured; only addresses, the
    files it writes (in `path`'s folder) and the trusted proxy are set."""
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        # locust plays the load balancer: each customer sends its own X-Forwarded-For
        # (customers.Customer), so per-client limits apply per customer (issue 14).
        'trusted_proxies = ["127.0.0.1/32"]',
        "[ops]",
        f"port = {ops_port}",
        "[redis]",
        f'url = "redis://127.0.0.1:{redis_port}/0"',
        "[selfhelp]",
        f'origin = "http://127.0.0.1:{community_port}"',
        f'snapshot_path = "{path.parent / "selfhelp.snapshot"}"',
        "[callbacks]",
        f'spool_path = "{path.parent / "callbacks.spool"}"',
    ]
    path.write_text("\n".join([*lines, extra, *callcenter_tables(centers.items())]) + "\n")


@contextlib.contextmanager
def stack(
    workdir: Path,
    logs: Path,
    *,
    door_core: int | None,
    side_core: int | None,
    extra_config: str = "",
) -> Iterator[Stack]:
    """Start everything, wait until the front door is ready and has its bulletins, yield
    where it answers; stop every child on the way out."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise StackError("redis-server is not installed (make loadtest installs it)")
    python = sys.executable
    procs = Processes(logs)
    try:
        redis_port = free_port()
        procs.spawn(
            "redis",
            [redis_server, str(REDIS_CONF), "--port", str(redis_port), "--bind", "127.0.0.1",
             "--dir", str(workdir), "--save", "", "--daemonize", "no"],
            core=side_core,
        )  # fmt: skip
        wait_port(redis_port, what="redis-server")
        centers: dict[str, int] = {}
        controls: dict[str, str] = {}
        for name in CALL_CENTERS:
            port, control = free_port(), free_port()
            procs.spawn(
                f"callcenter-{name}",
                [python, "-m", "sims.callcenter", "--name", name,
                 "--port", str(port), "--control-port", str(control)],
                core=side_core,
            )  # fmt: skip
            centers[name] = port
            controls[name] = f"http://127.0.0.1:{control}"
        community_port, community_control = free_port(), free_port()
        procs.spawn(
            "community",
            [python, "-m", "sims.community",
             "--port", str(community_port), "--control-port", str(community_control)],
            core=side_core,
        )  # fmt: skip
        for name, port in centers.items():
            wait_http(f"http://127.0.0.1:{port}/health", what=f"call center {name}")
        wait_http(f"http://127.0.0.1:{community_port}/latest.json", what="community simulator")
        door_port = free_port()
        ops_port = free_port()
        config = workdir / "switchboard.toml"
        write_config(
            config,
            port=door_port,
            ops_port=ops_port,
            redis_port=redis_port,
            community_port=community_port,
            centers=centers,
            extra=extra_config,  # whole tables, e.g. [overload] for the soak
        )
        door = procs.spawn(
            "frontdoor",
            [python, "-m", "failover", "serve", "--config", str(config), "--log-format", "text"],
            core=door_core,
        )
        base = f"http://127.0.0.1:{door_port}"
        wait_http(f"{base}/readyz", what="front door")
        _wait_bulletins(base)
        yield Stack(
            base_url=base,
            ops_url=f"http://127.0.0.1:{ops_port}",
            door_pid=door.pid,
            controls=controls,
            community_control=f"http://127.0.0.1:{community_control}",
            redis_port=redis_port,
            config=config,
            processes=procs,
        )
    finally:
        procs.stop_all()


def _wait_bulletins(base: str, *, want: int = 100, seconds: float = START_S) -> None:
    """Until the self-help layer lists `want` bulletins (its start-up fill is done)."""
    deadline = time.monotonic() + seconds
    while True:
        body = wait_http(f"{base}/api/v1/bulletins?limit={want}", what="self-help API")
        if len(json.loads(body)["bulletins"]) >= want:
            return
        if time.monotonic() > deadline:
            raise StackError(f"the front door listed fewer than {want} bulletins after {seconds} s")
        time.sleep(0.2)
