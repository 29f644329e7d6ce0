"""Child processes for end-to-end tests: free ports, a clean environment, bounded stops.

Every process a test starts goes through :func:`stop_process` in a fixture's teardown:
SIGTERM, a bounded wait, then SIGKILL (of the process group when the child was started in
its own session, so that helpers it forked, like Chromium's renderers, go too).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections.abc import Mapping

from sims.demo import free_port as _free_port

SWITCHBOARD_PREFIX = "SWITCHBOARD_"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """``preexec_fn`` for a child that must not outlive the test process, even when
    pytest itself is SIGKILLed (no teardown runs then): the kernel sends the child
    SIGKILL when its parent dies (prctl(2), PR_SET_PDEATHSIG). Only a prctl between fork
    and exec: no locks taken, safe in a threaded parent."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, outside the ephemeral range (the child
    binds it with SO_REUSEADDR); see `sims.demo.free_port`."""
    return _free_port(host)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``SWITCHBOARD_*``: a developer's shell settings
    must not change what the child under test reads (settings/loader.py rejects unknown
    ``SWITCHBOARD_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SWITCHBOARD_PREFIX)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


async def stop_process(
    proc: asyncio.subprocess.Process, *, grace: float, group: bool = False
) -> int:
    """Stop ``proc`` if it still runs and reap it; return its exit code.

    ``group=True`` when it was started with ``start_new_session=True``: then whatever is
    left of its process group is killed at the end (only processes it started itself)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
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
