"""Shared by every test: when a test is about to hit its pytest-timeout, print what
each asyncio task is waiting on.

pytest-timeout shows the threads' stacks, and for a hung asyncio test that is only the
event loop's `select()`: it says nothing of which coroutine never woke. A few seconds
before the timeout, a timer thread sends SIGUSR1; the handler runs on the main thread,
where the test's loop is running, and prints every task's stack to stderr, which pytest
shows with the failure.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

LEAD = 5.0  # seconds before the timeout


def _print_tasks(signum: int, frame: FrameType | None) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        sys.stderr.write("asyncio: no loop running when the test neared its timeout\n")
        return
    tasks = asyncio.all_tasks(loop)
    sys.stderr.write(f"asyncio: {len(tasks)} tasks when the test neared its timeout\n")
    for task in tasks:
        # cancelling() > 0 on a task still running: it was asked to stop and went on.
        sys.stderr.write(f"--- task {task.get_name()} (cancel requests: {task.cancelling()})\n")
        for line in _await_chain(task.get_coro()):
            sys.stderr.write(f"    {line}\n")


def _await_chain(awaitable: object) -> list[str]:
    """Each frame a suspended coroutine is waiting in, outermost first (a task's own
    `print_stack` shows only the outermost one), ending with what it waits for."""
    lines: list[str] = []
    while awaitable is not None and len(lines) < 50:
        frame = next((getattr(awaitable, a) for a in ("cr_frame", "gi_frame", "ag_frame")
                      if getattr(awaitable, a, None) is not None), None)  # fmt: skip
        if frame is None and type(awaitable).__name__.startswith("async_generator_"):
            # asend/athrow of an async generator (an asynccontextmanager): go on in it.
            awaitable = next((r for r in gc.get_referents(awaitable) if hasattr(r, "ag_frame")),
                             None)  # fmt: skip
            continue
        if frame is None:
            lines.append(f"waits for {awaitable!r}"[:300])
            break
        lines.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = next((getattr(awaitable, a) for a in ("cr_await", "gi_yieldfrom", "ag_await")
                          if getattr(awaitable, a, None) is not None), None)  # fmt: skip
    return lines


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    return float(item.config.getini("timeout") or 0)


@pytest.fixture(autouse=True)
def _asyncio_tasks_printed_before_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    timeout = _timeout_of(request.node)
    if timeout <= LEAD or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGUSR1, _print_tasks)
    timer = threading.Timer(timeout - LEAD, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
