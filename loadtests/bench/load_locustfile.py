"""The locust side of the benches' load (loadtests/bench/load.py starts it with
SB_LOAD_PLAN=plan.json): requests on a plan, one record per request. Paced (`rate`):
request k is due at t0 + k/rate; else closed loop. Either stops at `seconds` or
`max_requests`. t0, 0.2 s after every user has spawned, is written next to the records
for the orchestrator, which times its events (faults) from it.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

from loadtests.bench.load import PLAN_ENV, Mix
from loadtests.spike.customers import customer_address, on
from sims.community_seed import DEFAULT_SEED, build_seed

PLAN: dict[str, Any] = json.loads(Path(os.environ[PLAN_ENV]).read_text())
RATE: float | None = PLAN["rate"]
RECORDS: list[list[object]] = []
_next = itertools.count()
_state = {"t0": 0.0, "finished": 0}


def _picker() -> Callable[[int], list[str]]:
    if PLAN["pick"] == "list":
        paths: list[list[str]] = PLAN["paths"]
        return lambda k: paths[k % len(paths)]
    mix = Mix(build_seed(PLAN["topics"], DEFAULT_SEED), rng=random.Random(PLAN["rng_seed"]))
    method = getattr(mix, PLAN["pick"])
    return lambda _: list(method())


PICK = _picker()


@on(events.spawning_complete)
def _start(**_: object) -> None:
    _state["t0"] = time.time() + 0.2
    Path(PLAN["out"] + ".t0").write_text(repr(_state["t0"]))


@on(events.quitting)
def _write(**_: object) -> None:
    Path(PLAN["out"]).write_text(json.dumps(RECORDS))


class Planned(FastHttpUser):
    wait_time = constant(0)
    network_timeout = PLAN["patience"]
    connection_timeout = PLAN["patience"]

    def _get(self, path: str, kind: str, k: int) -> tuple[int, str, str, bool, str]:
        sent = {"Connection": "close"} if PLAN["close"] else {}
        if PLAN["forwarded_for"]:
            sent["X-Forwarded-For"] = customer_address(k)
        answer: Any = self.client.get(path, allow_redirects=False, name=kind, headers=sent)
        headers = answer.headers or {}
        error = answer.error if answer.status_code == 0 else None
        timed_out = isinstance(error, TimeoutError) or "timeout" in type(error).__name__.lower()
        marked = bool(PLAN["mark"]) and PLAN["mark"].encode() in (answer.content or b"")
        return (int(answer.status_code), str(headers.get("X-Served-By", "")),
                str(headers.get("Location", "")), marked,
                "timeout" if timed_out else "connection" if error else "")  # fmt: skip

    def _done(self) -> None:
        _state["finished"] += 1
        if _state["finished"] == PLAN["users"] and self.environment.runner is not None:
            # Not from this user's own greenlet, which quit() kills (threads are greenlets).
            threading.Thread(target=self.environment.runner.quit, name="quit").start()
        raise StopUser

    @task
    def planned(self) -> None:
        while not _state["t0"]:  # every user spawned first, so that none starts late
            time.sleep(0.01)
        k, t0 = next(_next), _state["t0"]
        due = t0 + k / RATE if RATE else max(time.time(), t0)
        if k >= PLAN["max_requests"] or due - t0 >= PLAN["seconds"]:
            self._done()
        time.sleep(max(0.0, due - time.time()))  # gevent's, patched by locust
        kind, path = PICK(k)
        sent = time.time()
        status, served_by, location, marked, error = self._get(path, kind, k)
        then = None
        # The front door only ever redirects same-site: nothing else is followed.
        if PLAN["follow"] and status == 303 and re.match(r"/(?!/)", location):
            then, _, _, marked, error = self._get(location, f"{kind} (followed)", k)
        RECORDS.append([due - t0, sent - t0, time.time() - t0, status, kind, served_by,
                        location, marked, then, error])  # fmt: skip
