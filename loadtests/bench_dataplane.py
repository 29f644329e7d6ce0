"""Benchmark: the HAProxy data plane (issue 18, docs/dataplane.md) against the aiohttp
front door, bare HAProxy (`bench/haproxy-bare.cfg`) and nginx `proxy_pass`, each proxying
the same page from one nginx upstream, side by side in one run (wall clock only). haproxy
mode is Switchboard with `[dataplane] mode = "haproxy"` plus the HAProxy it renders
(`switchboard haproxy-config`), both on core 0: the control plane's probes and agent
answers bear on the data plane's core. CPU per request is the process carrying the
traffic. Then, paired by round, one connection at a time (wrk -c1): a request's added
latency without the queue of 32 connections."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from loadtests.bench import nginx
from loadtests.bench import stage as s
from loadtests.bench.measure import run_wrk, wallclock
from loadtests.reports import bench as report
from sims.harness.ports import free_port
from sims.harness.procs import Processes

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
SINGLE_S = 5  # each one-connection run
_render = s.renderer(Path(__file__).with_name("bench"))


def haproxy_mode(tmp: Path, procs: Processes, upstream: str) -> s.Contender:
    """Switchboard in haproxy mode, started on core 0 and followed by HAProxy (not started)."""
    listen, agent, sock = free_port(), free_port(), tmp / "haproxy-mode.sock"
    plane = {"mode": "haproxy", "listen_host": "127.0.0.1", "listen_port": listen,
             "agent_port": agent, "stats_socket": str(sock)}  # fmt: skip
    door = s.door(tmp, "sb", name="switchboard (control plane)", centers=[("cc", upstream)],
                  settings={"dataplane": plane})  # fmt: skip
    s.start(procs, door)
    s.wait_ready(door, seconds=s.DOOR_START_S)
    config = door.argv[door.argv.index("--config") + 1]
    cfg = tmp / "haproxy-mode.cfg"
    cfg.write_text(subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "failover", "haproxy-config", "--config", config],
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    return s.Contender(report.HAPROXY_MODE, "haproxy-mode", (HAPROXY, "-db", "-f", str(cfg)),
                       listen, s.PAGE_PATH, log=tmp / "haproxy-mode.log")  # fmt: skip


def bare_haproxy(tmp: Path, upstream: str) -> s.Contender:
    port, cfg = free_port(), tmp / "haproxy-bare.cfg"
    upstream = upstream.removeprefix("http://")
    cfg.write_text(_render("haproxy-bare.cfg", port=port, upstream=upstream) + "\n")
    return s.Contender(report.BARE_HAPROXY, "haproxy-bare", (HAPROXY, "-db", "-f", str(cfg)),
                       port, s.PAGE_PATH, log=tmp / "haproxy-bare.log")  # fmt: skip


def wait_following(sock: Path, seconds: float = 10.0) -> None:
    """Until HAProxy shows the call center UP at full weight (the agent has answered)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(1)
                conn.connect(str(sock))
                conn.sendall(b"show stat -1 4 -1\n")
                out = b"".join(iter(lambda: conn.recv(65536), b""))
            if b"be_callcenters,cc_cc," in out and b",UP," in out and b",100," in out:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("bench: HAProxy never followed Switchboard")


def main() -> None:
    args = s.parser(__doc__, "dataplane.md").parse_args()
    s.check_tools(["wrk", "nginx", "taskset", "haproxy"])
    with s.workspace() as (tmp, procs):
        upstream = nginx.start_upstream(tmp, procs)
        mode, bare = haproxy_mode(tmp, procs, upstream), bare_haproxy(tmp, upstream)
        entrants = [mode, s.door(tmp, "door", name=report.AIOHTTP_DOOR,
                                 centers=[("cc", upstream)]), bare,
                    nginx.proxy_pass(tmp, upstream)]  # fmt: skip
        pids = {c.name: s.start(procs, c) for c in entrants}
        for c in entrants:  # the aiohttp door takes the longest: a front door's allowance
            s.wait_ready(c, seconds=s.DOOR_START_S)
        wait_following(tmp / "haproxy-mode.sock")
        s.same_page(entrants)
        wall = wallclock(entrants, pids, seconds=args.seconds, rounds=args.rounds)
        single = [
            (run_wrk(mode.url, SINGLE_S, connections=1), run_wrk(bare.url, SINGLE_S, connections=1))
            for _ in range(args.rounds)
        ]
    s.write_report(args.out, report.dataplane(wall, single, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
