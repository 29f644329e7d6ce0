"""Children that never outlive us: the parent-death signal, core pinning, log files, a
clean environment and bounded stops; and what they use (CPU time, memory, from /proc).

Every child gets SIGKILL from the kernel if the process that started it dies without
cleaning up (prctl(2) PR_SET_PDEATHSIG, set between fork and exec; `taskset` execs its
target, which keeps it), and runs in its own session: a Ctrl-C at the terminal reaches
only the orchestrator, which then stops its children in order, and a stop can take along
what a child forked (workers, BGSAVE children) and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
SWITCHBOARD_PREFIX: Final = "SWITCHBOARD_"
_PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """``preexec_fn`` for a child that must not outlive this process, even when it is
    SIGKILLed (no clean-up runs then). Only a prctl between fork and exec: no locks
    taken, safe in a threaded parent."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``SWITCHBOARD_*``: a developer's shell settings
    must not change what a child under test or measurement reads (settings/loader.py
    rejects unknown ``SWITCHBOARD_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SWITCHBOARD_PREFIX)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def cores() -> tuple[int | None, int | None]:
    """(server core, load generator core): two different cores this process may use,
    or (None, None) when it has only one."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


@contextlib.contextmanager
def pinned(core: int) -> Iterator[None]:
    """Pin this thread (and the threads it starts) to `core`, as wrk is."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used (/proc/<pid>/stat); OSError once it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # name may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def family(pid: int) -> list[int]:
    """`pid`, then its descendants (nginx's worker, the front door's workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                todo += [int(child) for child in task.read_text().split()]
    return found


def family_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of `pid` and its descendants; a child that ended took its time along."""
    total = 0.0
    for p in family(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


def status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict: VmRSS ("123 kB"), Threads, ..."""
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def rss_mib(pid: int) -> float:
    return int(status(pid)["VmRSS"].split()[0]) / 1024


def spawn(
    argv: Sequence[str],
    *,
    core: int | None = None,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    """Start `argv` (behind `taskset -c core` when `core` is set), its stdout and stderr
    appended to `log` (or discarded), with `clean_env()` unless `env` is given."""
    argv = ["taskset", "-c", str(core), *argv] if core is not None else list(argv)
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
        return subprocess.Popen(  # noqa: S603 - our own argv, no shell
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl, no locks taken
        )


def terminate(proc: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM (SIGCONT first: a stopped child must see it), a bounded wait, SIGKILL; then
    whatever is left of its session goes too."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class Processes:
    """Named children (`spawn`), stopped newest first on `stop_all` or on leaving `with`,
    however it is left. `logs`: the folder where `<name>.log` files go by default."""

    def __init__(self, logs: Path | None = None) -> None:
        self.logs = logs
        self.children: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
        self.log_files: dict[int, Path] = {}

    def spawn(
        self,
        argv: Sequence[str],
        *,
        name: str | None = None,
        core: int | None = None,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        name = name or Path(argv[0]).name
        if log is None and self.logs is not None:
            log = self.logs / f"{name}.log"
        proc = spawn(argv, core=core, log=log, env=env)
        self.children[proc.pid] = (name, proc)
        if log is not None:
            self.log_files[proc.pid] = log
        return proc

    def tail(self, pid: int, lines: int = 20) -> str:
        """The last `lines` lines of the child's log ("" without one): what a start-up
        error shows, so that a failure far away (CI) says why."""
        log = self.log_files.get(pid)
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def dead(self) -> list[str]:
        """The children that exited while they should be running."""
        return [name for name, proc in self.children.values() if proc.poll() is not None]

    def kill(self, pid: int) -> None:
        """SIGKILL (`kill -9`): no chance to clean up."""
        _, proc = self.children.pop(pid)
        proc.kill()
        proc.wait()

    def stop(self, pid: int, *, grace: float = 30.0) -> None:
        _, proc = self.children.pop(pid)
        terminate(proc, grace=grace)

    def stop_all(self, *, grace: float = 10.0) -> None:
        procs = [proc for _, proc in reversed(self.children.values())]
        self.children.clear()
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace  # one grace for all, not one each
        for proc in procs:
            terminate(proc, grace=max(0.1, deadline - time.monotonic()))

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_all()


async def stop_process(
    proc: asyncio.subprocess.Process,
    *,
    grace: float,
    group: bool = False,
    sig: signal.Signals = signal.SIGTERM,
) -> int:
    """Stop an asyncio child if it still runs (`sig`, SIGKILL after `grace` seconds) and
    reap it; its exit code. A stopped child (SIGSTOP, a fault test's freeze) gets SIGCONT
    first, so that it sees the signal.

    ``group=True`` when it was started with ``start_new_session=True``: then whatever is
    left of its process group is killed at the end (only processes it started itself)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    if group:
        # The leader is reaped; its pid stays reserved while any member of its group lives,
        # so this reaches only what the leader started.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode is not None
    return proc.returncode
