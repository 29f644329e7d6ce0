"""`make run`: the local demo, every part a real process.

A redis-server on a free port (its data in a temporary folder), two simulated call
centers (priorities 1 and 2), and the front door on http://127.0.0.1:8080 (or
SWITCHBOARD_DEMO_PORT). Prints the URLs and how to break things; Ctrl-C stops all.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Final

PYTHON = sys.executable


PORTS_FROM: Final = 20000  # picked ports lie between this and the ephemeral range


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


OPS_PORT = 9180  # the [ops] default


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, below the kernel's ephemeral range. A port the
    kernel could hand out as the source of an outgoing connection can be taken while its
    server is down (a client retrying a dead server on loopback may even connect to
    itself), so a server restarted on the same port would find it in use."""
    low = _ephemeral_low()
    if low - PORTS_FROM < 1000:  # an unusual range: take what the kernel gives
        with socket.socket() as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
            return port
    for _ in range(200):
        candidate = random.randrange(PORTS_FROM, low)
        with socket.socket() as s:
            try:
                s.bind((host, candidate))
            except OSError:
                continue
            return candidate
    raise RuntimeError(f"no free port between {PORTS_FROM} and {low}")


def wait_http(url: str, *, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"demo: {url} did not answer within {seconds:.0f} s")


def wait_port(port: int, *, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"demo: nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def write_config(
    path: Path, *, port: int, ops_port: int, redis_port: int, community_port: int,
    centers: list[tuple[str, int]],
) -> None:  # fmt: skip
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'data_dir = "{path.parent}"',
        "[ops]",  # /status, /metrics, /admin: loopback, apart from the customers' port
        'host = "127.0.0.1"',
        f"port = {ops_port}",
        "[redis]",
        f'url = "redis://127.0.0.1:{redis_port}/0"',
        "[routing]",
        "hold_down_ms = 3000",
        "[selfhelp]",
        f'origin = "http://127.0.0.1:{community_port}"',
        f'snapshot_path = "{path.parent / "selfhelp.snapshot"}"',
    ]
    path.write_text("\n".join([*lines, *callcenter_tables(centers)]) + "\n")


def callcenter_tables(centers: Iterable[tuple[str, int]]) -> list[str]:
    """`[[callcenters]]` lines for simulators on loopback ports, by priority in order."""
    lines: list[str] = []
    for priority, (name, sim_port) in enumerate(centers, start=1):
        lines += [
            "[[callcenters]]",
            f'name = "{name}"',
            f'url = "http://127.0.0.1:{sim_port}"',
            f"priority = {priority}",
        ]
    return lines


def main() -> int:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        print("demo: redis-server is not installed (make run installs it)", file=sys.stderr)
        return 1
    port = int(os.environ.get("SWITCHBOARD_DEMO_PORT", "8080"))
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-demo-"))
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(*cmd: str) -> subprocess.Popen[bytes]:
        # The front door refuses SWITCHBOARD_* variables it does not know: not this one.
        env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_DEMO_PORT"}
        proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, env=env)  # noqa: S603
        procs.append(proc)
        return proc

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        redis_port = free_port()
        spawn(
            redis_server, "--port", str(redis_port), "--bind", "127.0.0.1",
            "--dir", str(workdir), "--appendonly", "yes", "--appendfsync", "always",
            "--save", "", "--logfile", str(workdir / "redis.log"),
        )  # fmt: skip
        wait_port(redis_port)
        centers = []
        controls = {}
        for name in ("primary", "backup"):
            sim_port, control_port = free_port(), free_port()
            spawn(
                PYTHON, "-m", "sims.callcenter", "--name", name,
                "--port", str(sim_port), "--control-port", str(control_port),
            )  # fmt: skip
            centers.append((name, sim_port))
            controls[name] = f"http://127.0.0.1:{control_port}"
        community_port, community_control = free_port(), free_port()
        spawn(
            PYTHON, "-m", "sims.community",
            "--port", str(community_port), "--control-port", str(community_control),
        )  # fmt: skip
        for _, sim_port in centers:
            wait_http(f"http://127.0.0.1:{sim_port}/health")
        wait_http(f"http://127.0.0.1:{community_port}/latest.json")
        config = workdir / "switchboard.toml"
        ops_port = OPS_PORT if port_is_free(OPS_PORT) else free_port()
        write_config(
            config,
            port=port,
            ops_port=ops_port,
            redis_port=redis_port,
            community_port=community_port,
            centers=centers,
        )
        spawn(PYTHON, "-m", "failover", "serve", "--config", str(config), "--log-format", "text")
        wait_http(f"http://127.0.0.1:{port}/readyz")
        base = f"http://127.0.0.1:{port}"
        print(
            f"""
Switchboard demo is up.
  customers:      {base}/support/router/setup   (proxied to the best call center)
  self-help:      {base}/help   (300 bulletins from the community simulator)
  search:         {base}/help/search?q=wifi+dropping
  callback form:  {base}/help/callbacks/new
  ops (private):  http://127.0.0.1:{ops_port}/status   (also /api/v1/status, /metrics, /admin)
  redis:          redis://127.0.0.1:{redis_port}/0   config: {config}

Break things (modes: up, down, hang, slow, error, flap):
  curl -X POST {controls["primary"]}/_sim/mode -d '{{"mode": "down"}}'
  curl -X POST {controls["backup"]}/_sim/mode -d '{{"mode": "down"}}'
  curl -X POST {controls["primary"]}/_sim/mode -d '{{"mode": "up"}}'
  curl -X POST {controls["primary"]}/_sim/health -d '{{"status": "degraded"}}'
  curl -X POST http://127.0.0.1:{community_control}/_sim/mode -d '{{"mode": "down"}}'
      (the community site down: self-help keeps serving its cached copy)
then:  curl -si {base}/support/router/setup | head -5
Ask for a callback while both are down, then bring one back and watch it arrive:
  curl -X POST {base}/help/callbacks -H 'Content-Type: application/json' \\
       -H 'Idempotency-Key: demo-1' -d '{{"name": "Ada", "phone": "+14155552671", "topic": "wifi"}}'
  curl {controls["primary"]}/_sim/callbacks

Ctrl-C stops everything.
""",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    else:
        print("demo: a process exited; stopping the rest", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
