"""A real ``redis-server`` of ours, on a free loopback port, never 6379 (the machine's own).

Two ways to hold one, the same command line (`redis_argv`):

- `start_redis(procs, directory, ...)`: a child of a `Processes` (the demo, the spike
  test, the benches), started and PINGed synchronously;
- `RedisServer`, for asyncio tests::

    async with RedisServer(tmp_path, options={"appendonly": "yes"}) as server:
        client = connect(server.url)
        await server.kill()      # SIGKILL: a crash, nothing is saved on the way out
        await server.restart()   # same port, same directory (AOF replays if it was on)
        server.pause()           # SIGSTOP: hung, for timeout tests; resume() is SIGCONT

Defaults: ``--save ""`` and ``--appendonly no`` (nothing survives a restart); a `conf`
file (e.g. deploy/redis-callbacks.conf) comes first, then ``options`` override or add
any ``redis.conf`` directive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sims.harness.lifecycle import AsyncResource
from sims.harness.ports import FORBIDDEN_PORTS, StartError, free_port
from sims.harness.procs import Processes, die_with_parent, stop_process

if TYPE_CHECKING:
    from redis.asyncio import Redis

REDIS_SERVER: Final = "redis-server"
FORBIDDEN_PORT: Final = 6379  # the machine's own Redis
DEFAULT_OPTIONS: Mapping[str, str] = {"save": "", "appendonly": "no"}
START_TIMEOUT: Final = 10.0
STOP_GRACE: Final = 5.0


def redis_argv(
    port: int, directory: Path, *, options: Mapping[str, str] | None = None,
    conf: Path | None = None, logfile: Path | None = None,
) -> list[str]:  # fmt: skip
    """redis-server's command line: loopback only, in the foreground, data in `directory`;
    `DEFAULT_OPTIONS` unless a `conf` file says what to keep."""
    if port in FORBIDDEN_PORTS:
        raise ValueError(f"port {port} belongs to the machine's own Redis")
    server = shutil.which(REDIS_SERVER)
    if server is None:
        raise StartError("redis-server is not installed (the make targets install it)")
    argv = [server] + ([str(conf)] if conf is not None else [])
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    if logfile is not None:  # else its stdout
        argv += ["--logfile", str(logfile)]
    argv += ["--daemonize", "no", "--protected-mode", "yes"]
    for name, value in {**(DEFAULT_OPTIONS if conf is None else {}), **(options or {})}.items():
        argv += [f"--{name}", value]
    return argv


def pong(port: int) -> bool:
    """Whether redis-server on `port` answers PING (not LOADING, not refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class RedisProcess:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_redis(
    procs: Processes, directory: Path, *, port: int | None = None,
    options: Mapping[str, str] | None = None, conf: Path | None = None,
    core: int | None = None, name: str = "redis", log: Path | None = None,
    seconds: float = START_TIMEOUT * 3,
) -> RedisProcess:  # fmt: skip
    """Start redis-server as a child of `procs` and wait until it answers PING; its
    output goes to `log`, else to `procs`' log folder, else to `directory`/redis.log."""
    port = free_port() if port is None else port
    directory.mkdir(parents=True, exist_ok=True)
    if log is None and procs.logs is None:
        log = directory / "redis.log"
    argv = redis_argv(port, directory, options=options, conf=conf)
    proc = procs.spawn(argv, name=name, core=core, log=log)
    deadline = time.monotonic() + seconds
    while not pong(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StartError(f"redis-server on port {port} did not start (log in {directory})")
        time.sleep(0.05)
    return RedisProcess(port, proc)


class RedisServer(AsyncResource):
    """One asyncio ``redis-server`` child; ``start`` → ``stop``/``kill`` → ``restart``."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        options: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self._own_dir = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="sb-redis-")) if directory is None else directory
        )
        self.port = free_port() if port is None else port
        if self.port == FORBIDDEN_PORT:
            raise ValueError("port 6379 belongs to the machine's own Redis")
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def logfile(self) -> Path:
        return self.directory / "redis.log"

    def _argv(self) -> list[str]:
        """Its command line (subclasses change it: a replica, a Sentinel)."""
        return redis_argv(self.port, self.directory, options=self.options, logfile=self.logfile)

    async def start(self) -> None:
        """Start the process and wait until it answers PING (not LOADING)."""
        if self.running:
            raise RuntimeError("redis-server is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        # Own session: kill() and stop() can take along anything it forked (BGSAVE,
        # BGREWRITEAOF children), and nothing else.
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # only a prctl (no locks): safe after fork
        )
        try:
            await self._wait_ready()
        except BaseException:
            await self._reap(signal.SIGKILL)
            raise

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"redis-server exited at start:\n{self._log_tail()}")
            if await asyncio.to_thread(pong, self.port):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"redis-server did not answer PING:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.returncode is not None:
            raise RuntimeError("redis-server is not running")
        self._proc.send_signal(sig)

    def pause(self) -> None:
        """SIGSTOP: a hung server; connections open, nothing answers (timeout tests)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    async def _reap(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a paused server must see the SIGTERM
            if sig is signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        await stop_process(proc, grace=STOP_GRACE, group=True)

    async def stop(self) -> None:
        """SIGTERM: a clean shutdown (Redis writes its AOF/RDB as configured)."""
        await self._reap(signal.SIGTERM)

    async def kill(self) -> None:
        """SIGKILL: a crash; whatever was not yet on disk is gone."""
        await self._reap(signal.SIGKILL)

    async def restart(self) -> None:
        """Start again on the same port with the same directory (stops it first if needed)."""
        await self.stop()
        await self.start()

    async def aclose(self) -> None:
        """Stop the process and remove the directory if this object created it."""
        try:
            await self.stop()
        finally:
            if self._own_dir:
                shutil.rmtree(self.directory, ignore_errors=True)


async def sentinel_sees_all(client: Redis, service: str) -> bool:
    """One sentinel (`client`, closed here) knows `service`'s primary with a replica and
    two other sentinels, and thinks it neither subjectively nor objectively down: a
    primary + replica + 3 sentinels group at rest (tests/support/sentinel.py,
    deploy/cluster/observe.py)."""
    try:
        state = await client.sentinel_master(service)
    finally:
        await client.aclose()
    if not isinstance(state, dict):
        return False
    if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
        return False
    return not (state["is_sdown"] or state["is_odown"])
