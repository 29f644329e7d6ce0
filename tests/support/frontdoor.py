"""The front door as a real child process (`python -m failover serve --config FILE`), for
tests where a crash matters: `kill -9` must hit a process, not a coroutine.

::

    async with FrontDoors(tmp_path) as doors:
        a = await doors.start("a", lambda port: config_text(port))
        await a.wait_ready(session)
        a.freeze()          # SIGSTOP: stopped dead, nothing more leaves it
        await a.kill()      # SIGKILL: a crash, nothing runs on the way out
        b = await doors.start("b", ...)   # another process, another port
        a2 = await doors.restart(a)       # same config file, same port

Every process started is stopped on exit (SIGTERM, a bounded wait, SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aiohttp

from tests.support.processes import clean_env, die_with_parent, free_port, stop_process
from tests.support.stack import wait_for

REPO = Path(__file__).resolve().parents[2]
STOP_GRACE = 5.0
READY_WITHIN = 20.0
TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontDoorProcess:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    ops_port: int
    config: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """/status, /api/v1/status, /metrics, /admin (failover/opsport.py)."""
        return f"http://127.0.0.1:{self.ops_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_ready(self, session: aiohttp.ClientSession) -> float:
        """Until `/readyz` answers 200 (the first probes ran); how long it took."""

        async def ready() -> bool:
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"front door {self.name} exited {self.proc.returncode}:\n{self.output()}"
                )
            try:
                async with session.get(f"{self.url}/readyz", timeout=TIMEOUT) as resp:
                    return resp.status == 200
            except aiohttp.ClientConnectionError:
                return False  # not listening yet

        return await wait_for(ready, within=READY_WITHIN, what=f"{self.name} /readyz 200")

    def freeze(self) -> None:
        """SIGSTOP: the process stops between two instructions; it sends nothing more."""
        self.proc.send_signal(signal.SIGSTOP)

    async def kill(self) -> None:
        """SIGKILL, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 10)


class FrontDoors:
    """Starts front door processes in `directory/<name>/` and stops all of them on exit."""

    def __init__(self, directory: Path, *, env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.env = dict(env or {})  # e.g. SWITCHBOARD_ADMIN_TOKEN, for every process
        self._started: list[FrontDoorProcess] = []

    async def start(self, name: str, config: Callable[[int], str]) -> FrontDoorProcess:
        """A new process on a free port; `config(port)` is its TOML file's text."""
        home = self.directory / name
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        path = home / "switchboard.toml"
        text = config(port)
        ops_port = next(p for p in (free_port() for _ in range(10)) if p != port)
        if "[ops]" not in text:  # each its own ops listener, or they would share 9180
            text += f"\n[ops]\nport = {ops_port}\n"
        path.write_text(text)
        return await self._spawn(name, port, ops_port, path, home / "front-door.log")

    async def restart(self, door: FrontDoorProcess) -> FrontDoorProcess:
        """The same front door again, after it died: same config file, same port."""
        if door.proc.returncode is None:
            raise RuntimeError(f"{door.name} still runs")
        with door.log.open("ab") as out:
            out.write(b"\n--- restarted ---\n")
        return await self._spawn(door.name, door.port, door.ops_port, door.config, door.log)

    async def _spawn(
        self, name: str, port: int, ops_port: int, path: Path, log: Path
    ) -> FrontDoorProcess:
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "failover", "serve", "--config", str(path),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                env=clean_env(self.env), cwd=REPO,
                start_new_session=True,  # its workers, if any, go with it (stop_process)
                preexec_fn=die_with_parent,  # only a prctl (no locks): safe after fork
            )  # fmt: skip
        door = FrontDoorProcess(name=name, proc=proc, port=port, ops_port=ops_port, config=path,
                                log=log)  # fmt: skip
        self._started.append(door)
        return door

    async def aclose(self) -> None:
        for door in self._started:
            await stop_process(door.proc, grace=STOP_GRACE, group=True)  # a frozen one too
        self._started.clear()

    async def __aenter__(self) -> FrontDoors:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
