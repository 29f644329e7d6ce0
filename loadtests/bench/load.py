"""The benches' load (docs/benchmarks.md, "Method"): locust headless (load_locustfile.py)
on the side core, loopback only, bounded by a `Plan` in requests and seconds; `events`
run at their times from the load's start, in threads, while locust runs."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote

from loadtests.spike.state import Catalog, percentile
from sims.community_seed import Seed
from sims.harness.ports import StartError
from sims.harness.procs import ROOT, clean_env, spawn, terminate

SIDE_CORE: Final = 1
TIMEOUT_S: Final = 5.0
PLAN_ENV: Final = "SB_LOAD_PLAN"
LOCUSTFILE: Final = Path(__file__).with_name("load_locustfile.py")
# Shares of the mixed read load, cumulative: bulletin pages, /help, search, the JSON list.
MIX = (("bulletin", 0.80), ("help", 0.88), ("search", 0.96), ("api", 1.0))

Request = tuple[str, str]  # (kind, path)


class Mix:
    def __init__(self, seed: Seed, *, rng: random.Random, s: float = 1.0) -> None:
        self._rng = rng
        # popularity rank: not the id order, not the /latest order
        self.catalog = Catalog.zipf([t.id for t in seed.topics], s=s, rng=rng)
        titles = " ".join(t.title for t in seed.topics).lower()
        self._words = sorted(set(re.findall(r"[a-z]{4,}", titles)))

    def bulletin(self) -> Request:
        return "bulletin", f"/help/bulletins/{self.catalog.pick(self._rng)}"

    def mixed(self) -> Request:
        roll = self._rng.random()
        kind = next(k for k, upto in MIX if roll < upto)
        if kind == "bulletin":
            return self.bulletin()
        if kind == "help":
            return kind, "/help"
        if kind == "search":
            return kind, "/help/search?q=" + quote(" ".join(self._rng.sample(self._words, 2)))
        return kind, "/api/v1/bulletins"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What load_locustfile.py sends: `pick` "list" cycles `paths`; "mixed" or
    "bulletin" draws from `Mix` over the community sim's seeded `topics`."""

    seconds: float
    max_requests: int
    # Users: each sends its next request when its last is answered (closed loop), or when
    # the next is due (paced: when all are busy, requests go out late, and that is
    # recorded). For an open loop, more users than can be waiting at once.
    concurrency: int = 16
    rate: float | None = None
    pick: str = "list"
    paths: tuple[Request, ...] = ()
    rng_seed: int = 0
    topics: int = 300
    follow: bool = False  # follow a 303 to a same-site path
    # Each request on a connection of its own (open loop: as many users as requests can be
    # in flight, more than the front door's max_connections_per_client if they stayed open).
    close: bool = False
    forwarded_for: bool = False  # each request from a customer address of its own (XFF)
    mark: str = ""  # record whether each final body holds this text
    patience: float = TIMEOUT_S  # each request's connect and read timeout


@dataclass(frozen=True, slots=True)
class Record:
    due: float  # s from t0: when it was due (paced) or sent (closed loop)
    sent: float
    done: float
    status: int  # 0: no answer (refused, reset, timed out)
    kind: str
    served_by: str
    location: str
    marked: bool  # the final body held the plan's `mark`
    then: int | None  # the followed 303's status
    error: str  # "timeout", "connection" or ""

    @property
    def ms(self) -> float:
        """From sent to answered."""
        return (self.done - self.sent) * 1000


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # s from the start
    what: str
    run: Callable[[], None]  # blocking; runs in a thread so the load goes on


@dataclass(slots=True)
class Run:
    records: list[Record] = field(default_factory=list)
    events: list[tuple[float, float, str]] = field(default_factory=list)  # began, ended, what


def run_load(base: str, plan: Plan, *, events: Sequence[Event] = ()) -> Run:
    """Load `base` with locust on `plan`; `events` at their times from the load's start."""
    run = Run()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        out, log = Path(tmp) / "records.json", Path(tmp) / "locust.log"
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(
            json.dumps(asdict(plan) | {"out": str(out), "users": plan.concurrency})
        )
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "--host", base, "-u", str(plan.concurrency), "-r", str(plan.concurrency),
                "--run-time", f"{math.ceil(plan.seconds + plan.patience * 2 + 10)}s",
                "--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING"]  # fmt: skip
        env = clean_env({PLAN_ENV: str(plan_file), "PYTHONPATH": str(ROOT)})
        locust = spawn(argv, core=SIDE_CORE, log=log, env=env)
        try:
            t0 = _wait_t0(Path(f"{out}.t0"), locust, log)
            threads = [threading.Thread(target=_fire, args=(e, t0, run), name=f"event-{e.what}")
                       for e in events]  # fmt: skip
            for thread in threads:
                thread.start()
            locust.wait(timeout=plan.seconds + plan.patience * 2 + 60)
            for thread in threads:
                thread.join()
        finally:
            terminate(locust, grace=10)
        if not out.exists() or out.read_text() == "[]":
            raise StartError(f"locust wrote no records:\n{log.read_text(errors='replace')[-2000:]}")
        run.records = sorted((Record(*r) for r in json.loads(out.read_text())), key=lambda r: r.due)
    return run


def _wait_t0(
    path: Path, locust: subprocess.Popen[bytes], log: Path, seconds: float = 60.0
) -> float:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline or locust.poll() is not None:
            raise StartError(f"locust did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.02)
    time.sleep(0.01)  # written in one go; read it whole
    return float(path.read_text())


def _fire(event: Event, t0: float, run: Run) -> None:
    time.sleep(max(0.0, t0 + event.at - time.time()))
    began = time.time() - t0
    event.run()
    run.events.append((began, time.time() - t0, event.what))


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    requests: int
    errors: int  # not 200, or no answer
    p50_ms: float
    p99_ms: float
    max_lag_ms: float  # how late the generator sent a request (paced)


def windows(records: Sequence[Record], edges: Sequence[float]) -> list[Window]:
    """One window per pair of consecutive `edges` (s from the start), by when requests were
    due; `every(width, until)` gives edges `width` s apart."""
    found = []
    for start, end in itertools.pairwise(edges):
        inside = [r for r in records if start <= r.due < end]
        ms = sorted(r.ms for r in inside)
        lag = max(((r.sent - r.due) * 1000 for r in inside), default=0.0)
        found.append(Window(start, end, len(inside), sum(r.status != 200 for r in inside),
                            percentile(ms, 0.50), percentile(ms, 0.99), lag))  # fmt: skip
    return found


def every(width: float, until: float) -> list[float]:
    return [i * width for i in range(int(until / width + 0.5) + 1)]
