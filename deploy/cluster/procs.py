"""The cluster's processes: each started inside its host's namespace (`ip netns exec`), in
a session of its own, with the parent-death signal, its output in a log file.

A process never outlives the one that started it: PR_SET_PDEATHSIG (prctl(2)) sends it
SIGKILL when its parent thread dies, even when that parent is SIGKILLed and no teardown
runs; the children are started from the event loop's thread, which lives as long as the
run. `stop_all` stops them (SIGTERM, a bounded wait, SIGKILL of the group) and
`kill_all_now` is the same without waiting, for atexit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from deploy.cluster.netns import netns_exec
from sims.harness.procs import die_with_parent, stop_process

STOP_GRACE: Final = 5.0


@dataclass(slots=True, kw_only=True)
class Proc:
    """One program on one host; `start` again after it died runs the same argv."""

    name: str
    namespace: str
    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} already runs")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *netns_exec(self.namespace, self.argv),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                env=None if self.env is None else dict(self.env), cwd=self.cwd,
                start_new_session=True, preexec_fn=die_with_parent,
            )  # fmt: skip

    def output(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def kill(self) -> None:
        """SIGKILL (kill -9: a crash, nothing runs on the way out), and reap it."""
        await self._reap(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM, up to `STOP_GRACE` seconds, then SIGKILL; whatever is left of its
        group goes too (only what it started itself: its session is its own)."""
        await self._reap(signal.SIGTERM)

    async def _reap(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            await stop_process(self.proc, grace=STOP_GRACE, group=True, sig=sig)


class Procs:
    """Every process of one cluster, by name, in the order started."""

    def __init__(self) -> None:
        self.by_name: dict[str, Proc] = {}

    def add(self, proc: Proc) -> Proc:
        self.by_name[proc.name] = proc
        return proc

    def __getitem__(self, name: str) -> Proc:
        return self.by_name[name]

    def exited(self) -> list[Proc]:
        """Processes that were started and are no longer running."""
        return [p for p in self.by_name.values() if p.proc is not None and not p.running]

    async def stop_all(self) -> None:
        for p in reversed(self.by_name.values()):
            await p.stop()

    def kill_all_now(self) -> None:
        """SIGKILL every process group still running, without waiting (atexit)."""
        for p in self.by_name.values():
            if p.running and p.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
