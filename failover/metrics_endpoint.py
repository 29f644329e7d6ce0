"""`GET /metrics` on the ops listener: this process's registry, or with several worker
processes the merge of all of theirs (failover/workers.py, monitoring/aggregate.py).

The merge's memory of each worker's counters (monitoring/counter_state.py) is a JSON
file in the workers' folder, which the master creates and removes: whichever worker a
scrape lands on reads and updates it under an exclusive `flock` (the kernel lets it go
if that worker is killed), and writes it whole (`os.replace`), so one killed mid-write
leaves the previous state. A file that cannot be read starts the memory afresh.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from failover.appkeys import METRICS, WORKER
from failover.workers import PID_HEADER, gather_metrics
from monitoring.aggregate import Reading, merge_workers
from monitoring.counter_state import CounterState, dumps, loads

log = logging.getLogger("switchboard.workers")

STATE_FILE: Final = "metrics-state.json"
LOCK_FILE: Final = "metrics-state.lock"


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    worker = request.app.get(WORKER)
    headers = {"Content-Type": CONTENT_TYPE_LATEST, PID_HEADER: str(os.getpid())}
    if worker is not None and worker.count > 1 and request.query.get("worker") != "self":
        readings = await gather_metrics(worker, body)
        answered = sum(1 for r in readings if r.text is not None)
        body = await asyncio.to_thread(merge_remembering, worker.peers, readings)
        body += (
            "# HELP switchboard_workers_scraped Worker processes whose metrics this scrape"
            " includes.\n# TYPE switchboard_workers_scraped gauge\n"
            f"switchboard_workers_scraped {answered}\n"
            "# HELP switchboard_workers Worker processes configured.\n"
            f"# TYPE switchboard_workers gauge\nswitchboard_workers {worker.count}\n"
        ).encode()
    return web.Response(body=body, headers=headers)


def merge_remembering(folder: Path, readings: Sequence[Reading]) -> bytes:
    """`merge_workers` with the state kept in `folder` (blocking: run in a thread)."""
    with (folder / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released on close, or by the kernel on death
        path = folder / STATE_FILE
        try:
            state = loads(path.read_text())
        except FileNotFoundError:
            state = CounterState()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("workers' metrics state %s unreadable (%s): starting afresh", path, exc)
            state = CounterState()
        body = merge_workers(readings, state)
        scratch = folder / f"{STATE_FILE}.{os.getpid()}"
        scratch.write_text(dumps(state))
        scratch.replace(path)
    return body
