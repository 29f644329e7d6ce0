"""A real ``redis-server`` for integration tests, on a free loopback port, never 6379.

This machine runs its own Redis on 6379; tests must not touch it. Each
:class:`RedisServer` binds 127.0.0.1 on a port the kernel handed out, keeps its data in
a directory of its own, and is stopped by whoever started it (use ``async with``, or a
fixture with ``finally``)::

    async with RedisServer(tmp_path, options={"appendonly": "yes"}) as server:
        client = connect(server.url)
        await server.kill()      # SIGKILL: a crash, nothing is saved on the way out
        await server.restart()   # same port, same directory (AOF replays if it was on)
        server.pause()           # SIGSTOP: hung, for timeout tests; resume() is SIGCONT

Defaults: ``--save ""`` and ``--appendonly no`` (nothing survives a restart);
``options`` overrides or adds any ``redis.conf`` directive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from tests.support.processes import die_with_parent, free_port, stop_process

REDIS_SERVER = "redis-server"
FORBIDDEN_PORT = 6379  # the machine's own Redis
DEFAULT_OPTIONS: Mapping[str, str] = {"save": "", "appendonly": "no"}
START_TIMEOUT = 10.0
STOP_GRACE = 5.0


class RedisServer:
    """One ``redis-server`` child process; ``start`` → ``stop``/``kill`` → ``restart``."""

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
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.directory), "--logfile", str(self.logfile)]
        argv += ["--daemonize", "no", "--protected-mode", "yes"]
        for name, value in self.options.items():
            argv += [f"--{name}", value]
        return argv

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
            if await self._pong():
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"redis-server did not answer PING:\n{self._log_tail()}")

    async def _pong(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), 1.0
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"PING\r\n")
            line = await asyncio.wait_for(reader.readline(), 1.0)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return line.startswith(b"+PONG")

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

    async def __aenter__(self) -> RedisServer:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
