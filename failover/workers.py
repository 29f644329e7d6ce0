"""Several worker processes on one port (`server.workers`), and their metrics as one.

The master binds the listening socket once, then starts `workers` processes
(`python -m failover serve ... --worker I/N`) that inherit it and accept on it: the
kernel spreads connections among them. Each worker is a whole front door (its own
probes, caches and callback dispatcher; admin switches, the callback queue and what
the probes see (failover/shared_health.py, docs/replicas.md) are shared through
Redis, so the workers fail over as one). The master restarts a worker that dies,
forwards SIGTERM and SIGINT to all of them, and waits for them to drain; it forwards
SIGHUP (reload the configuration) to each worker.

A worker whose master died (`kill -9` of the master, an OOM kill) must not go on serving
the inherited socket on its own, unsupervised: on Linux it asks the kernel for SIGTERM when
its parent dies (`PR_SET_PDEATHSIG`), and everywhere it checks every `ORPHAN_CHECK` that its
parent is still the master whose pid it was given (`watch_master`); either way it drains
and exits as on SIGTERM.

Metrics: each worker also listens on a Unix socket in a private folder; `/metrics` on
any worker asks every worker for its own exposition there (`/metrics?worker=self`)
and merges them (`monitoring.aggregate.merge_workers`), so a scrape that lands on one
worker still counts every request. What the merge remembers of each worker's counters
(monitoring/counter_state.py) is a file in that folder, which the master creates and
removes: it outlives any one worker, and every worker's scrape reads and updates the same
one (failover/metrics_endpoint.py), so a merged counter never goes down when a worker is
slow or is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from kernel.clock import Clock
from monitoring.aggregate import Reading

log = logging.getLogger("switchboard.workers")

RESTART_PAUSE: Final = 1.0  # a worker that dies this soon after starting waits before again
SCRAPE_TIMEOUT: Final = 2.0
PID_HEADER: Final = "X-Switchboard-Worker-Pid"  # on `/metrics?worker=self`: who answered
EXIT_BAD_CONFIG: Final = 2  # a worker's exit code for a configuration it cannot run
ORPHAN_CHECK: Final = 0.5  # seconds between two looks at the parent pid
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    index: int  # 0-based
    count: int
    peers: Path  # the folder of the workers' Unix sockets
    master: int | None = None  # the master's pid; None when not started by one

    def socket_path(self, index: int | None = None) -> Path:
        return self.peers / f"worker-{self.index if index is None else index}.sock"

    @property
    def suffix(self) -> str:
        """Appended to per-process names (callback consumer, spool file)."""
        return f"w{self.index}"


def parse_worker(text: str) -> tuple[int, int]:
    """ "I/N" -> (I, N), for the --worker option."""
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 0 <= i < n:
        raise ValueError(f"worker {text!r}: need 0 <= I < N")
    return i, n


async def gather_metrics(info: WorkerInfo, own: bytes) -> list[Reading]:
    """Every worker slot's answer (this one's given): its pid and exposition, or None
    from a worker that did not answer within SCRAPE_TIMEOUT."""

    async def one(index: int) -> Reading:
        if index == info.index:
            return Reading(index, os.getpid(), own.decode())
        connector = aiohttp.UnixConnector(path=str(info.socket_path(index)))
        timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT, sock_connect=SCRAPE_TIMEOUT,
                                        sock_read=SCRAPE_TIMEOUT)  # fmt: skip
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
                session.get("http://worker/metrics?worker=self") as resp,
            ):
                pid = resp.headers.get(PID_HEADER, "")
                if resp.status != 200 or not pid.isdigit():
                    return Reading(index, 0, None)
                return Reading(index, int(pid), await resp.text())
        except (aiohttp.ClientError, TimeoutError, OSError):
            return Reading(index, 0, None)  # slow or restarting: its last counts stand in

    return list(await asyncio.gather(*(one(i) for i in range(info.count))))


def supervise(
    argv: Sequence[str],
    *,
    host: str,
    port: int,
    workers: int,
    grace: float,
    clock: Clock,
    ops: tuple[str, int] | None = None,
) -> int:
    """Run `workers` copies of `argv` (plus --worker and --listen-fd), sharing one socket
    (and the ops listener's, `--ops-fd`); until SIGTERM or SIGINT. Returns the exit code
    for the master. Restart pacing and the stop deadline read `clock`. A worker that
    exits EXIT_BAD_CONFIG before it served (its Unix socket never appeared) stops them
    all with that code, as one process would: restarting it could only fail again."""
    sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
    sock.set_inheritable(True)
    ops_sock = None
    if ops is not None:
        ops_sock = socket.create_server(ops, backlog=128, reuse_port=False)
        ops_sock.set_inheritable(True)
        bound_ops = ops_sock.getsockname()
        log.warning("switchboard ops listening on http://%s:%s", bound_ops[0], bound_ops[1])
    peers = Path(tempfile.mkdtemp(prefix="switchboard-workers-"))
    bound = sock.getsockname()
    log.warning("switchboard listening on http://%s:%s with %d workers", bound[0], bound[1],
                workers)  # fmt: skip
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def spawn(index: int) -> subprocess.Popen[bytes]:
        # Its socket appears once it serves (the previous one's is stale).
        WorkerInfo(index=index, count=workers, peers=peers).socket_path().unlink(missing_ok=True)
        cmd = [*argv, "--worker", f"{index}/{workers}", "--listen-fd", str(sock.fileno()),
               "--peers", str(peers), "--master", str(os.getpid())]  # fmt: skip
        fds = [sock.fileno()]
        if ops_sock is not None:
            cmd += ["--ops-fd", str(ops_sock.fileno())]
            fds.append(ops_sock.fileno())
        return subprocess.Popen(cmd, pass_fds=fds)  # noqa: S603 - our own argv

    procs = {i: (spawn(i), clock.monotonic()) for i in range(workers)}
    # Each worker reloads the file itself (issue 17); the master's own settings (host,
    # port, workers, ops) are restart-only, so it has nothing to reload.
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: _send_all(procs))
    result = 0
    try:
        while not stopping:
            for index, (proc, started) in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                if _bad_config_at_start(WorkerInfo(index=index, count=workers, peers=peers),
                                        proc, code):  # fmt: skip
                    stopping, result = True, EXIT_BAD_CONFIG
                    break
                log.error("worker %d (pid %d) exited with %d; starting it again", index,
                          proc.pid, code)  # fmt: skip
                if clock.monotonic() - started < RESTART_PAUSE:
                    time.sleep(RESTART_PAUSE)
                procs[index] = (spawn(index), clock.monotonic())
            time.sleep(0.2)
    finally:
        _send_all(procs, signal.SIGTERM)
        # At once, as a single process does: the workers close theirs as they stop
        # accepting; the master's copies kept the ports listening through the drain, so
        # new connections queued in the backlog, hung, then were reset.
        sock.close()
        if ops_sock is not None:
            ops_sock.close()
        _reap(procs, clock.monotonic() + grace + 5, clock)
        shutil.rmtree(peers, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return result


def _send_all(
    procs: dict[int, tuple[subprocess.Popen[bytes], float]], sig: int = signal.SIGHUP
) -> None:
    for proc, _ in list(procs.values()):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def _reap(
    procs: dict[int, tuple[subprocess.Popen[bytes], float]], deadline: float, clock: Clock
) -> None:
    """Wait for every worker until `deadline`; kill those still running then."""
    for proc, _ in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - clock.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bad_config_at_start(info: WorkerInfo, proc: subprocess.Popen[bytes], code: int) -> bool:
    """The worker exited EXIT_BAD_CONFIG before it served (no Unix socket of its own yet:
    `spawn` removes the previous one's): starting it again could only fail again."""
    if code != EXIT_BAD_CONFIG or info.socket_path().exists():
        return False
    log.error("worker %d (pid %d) exited with %d (bad configuration) before serving; "
              "stopping", info.index, proc.pid, code)  # fmt: skip
    return True


def worker_argv(config: str, log_format: str) -> list[str]:
    return [sys.executable, "-m", "failover", "serve", "--config", config,
            "--log-format", log_format]  # fmt: skip


def inherited_socket(fd: int) -> socket.socket:
    return socket.socket(fileno=fd)


def master_gone(master: int) -> bool:
    """True once this process's parent is no longer `master` (it died: we were re-parented)."""
    return os.getppid() != master


def ask_for_sigterm_on_parent_death() -> bool:
    """Linux only: the kernel sends this process SIGTERM when its parent dies. False where
    prctl is not there (the `watch_master` poll still covers it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


async def watch_master(master: int, on_gone: Callable[[], None]) -> None:
    """Call `on_gone` once the master is gone; checks every ORPHAN_CHECK seconds. Covers
    the master dying before PR_SET_PDEATHSIG was set, and systems without it."""
    while not master_gone(master):  # noqa: ASYNC110 - polling a pid: there is no event to wait on
        await asyncio.sleep(ORPHAN_CHECK)
    log.error("the workers' master (pid %d) is gone: draining and exiting", master)
    on_gone()
