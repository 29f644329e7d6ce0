"""The customer mix: one `FastHttpUser` whose weighted tasks are what customers do, every
answer checked (`checks.py`); and `SpikeShape`, the `LoadTestShape`: users over time from
`profile.Profile`, the outage switched through the call-center simulators' control API
on timers (greenlets: locust has monkey-patched threading). Why so: loadtests/README.md,
"Phases" and "The customers". Also `Addressed` (the soak's customers too) and the typed
`on`/`settle` every locustfile here uses."""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeVar, cast
from urllib.parse import urlencode

from locust import FastHttpUser, LoadTestShape, task
from locust.contrib.fasthttp import ResponseContextManager

from loadtests.spike import checks
from loadtests.spike.checks import SELF_HELP, Verdict
from loadtests.spike.profile import PACE_S, expect, next_start
from loadtests.spike.slo import NAMES
from loadtests.spike.state import RUN
from sims.harness.ports import post

log = logging.getLogger("spike.shape")
SWITCH_TIMEOUT_S: Final = 5.0
CLASS_OF: Final = {name: cls for cls, (_, name) in NAMES.items()}
# What customers come for; the call-center pages the simulators serve, the common first.
TOPICS: Final = tuple(checks.CALL_CENTER_TITLES)
TOPIC_WEIGHTS: Final = (20, 25, 25, 15, 10, 5)
SEARCHES: Final = (
    "wifi dropping", "router lights", "slow internet", "bill higher", "password reset",
    "email not sending", "tv box", "esim", "firmware update", "outage", "modem restart",
    "roaming data", "wfi keeps droping", "refund",
)  # fmt: skip
PHONE: Final = "+14155552671"


# Typed views of the few locust APIs that are not annotated (`EventHook.add_listener`, a
# response's `success`/`failure`), so that the locust side passes mypy strict.
F = TypeVar("F", bound=Callable[..., Any])


class _Hook(Protocol):
    def add_listener(self, handler: Callable[..., Any]) -> Callable[..., Any]: ...


class _Settle(Protocol):
    def success(self) -> None: ...
    def failure(self, exc: object) -> None: ...


def on(hook: object) -> Callable[[F], F]:
    """`@on(events.quitting)`: `@events.quitting.add_listener`, typed."""

    def register(handler: F) -> F:
        cast(_Hook, hook).add_listener(handler)
        return handler

    return register


def settle(response: object, verdict: Verdict) -> None:
    """Mark a `catch_response` answer as a success, or a failure with the verdict's reason."""
    view = cast(_Settle, response)
    if verdict.ok:
        view.success()
    else:
        view.failure(verdict.reason)


def _header(resp: ResponseContextManager, name: str) -> str | None:
    value = None if resp.headers is None else resp.headers.get(name)
    return None if value is None else str(value)


_ADDRESSES: Final = itertools.count(1)


def customer_address(n: int) -> str:
    """Customer `n`'s address, in 198.18.0.0/15 (RFC 2544: for benchmarks)."""
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) & 255}.{n & 255}"


class Addressed(FastHttpUser):
    """A customer (here and in the soak) from an address of its own, as customers come
    behind a load balancer: the front door trusts 127.0.0.1 as its proxy (stack.py) and
    reads X-Forwarded-For, so per-client limits and counted-once views and votes (issue
    14) apply per customer."""

    abstract = True
    network_timeout = 10.0
    connection_timeout = 5.0
    max_retries = 0  # a retried request would hide a failure from the count

    def __init__(self, environment: Any) -> None:
        # Read by FastHttpUser.__init__ for every request of this user's client.
        self.default_headers = {"X-Forwarded-For": customer_address(next(_ADDRESSES))}
        super().__init__(environment)


class Customer(Addressed):
    """One customer of the spike; several hundred of them make the load (profile.py)."""

    def on_start(self) -> None:
        self.rng = random.Random()
        self.scheduled = time.monotonic()

    def wait_time(self) -> float:
        """Poisson arrivals at one task per PACE_S on average (profile.next_start)."""
        gap = self.rng.expovariate(1 / PACE_S)
        self.scheduled, wait = next_start(self.scheduled, time.monotonic(), gap)
        return wait

    @task(30)
    def arrive(self) -> None:
        topic = self.rng.choices(TOPICS, TOPIC_WEIGHTS)[0]
        name = NAMES["support"][1]
        with self.client.get(f"/support/{topic}", name=name, allow_redirects=False,
                             catch_response=True) as resp:  # fmt: skip
            expected = expect(RUN.now(), down_at=RUN.down_at, up_at=RUN.up_at)
            verdict = checks.check_support(
                status=resp.status_code, location=_header(resp, "Location"),
                served_by=_header(resp, "X-Served-By"), body=resp.text or "", topic=topic,
                expected=expected,
            )  # fmt: skip
            settle(resp, verdict)
        if verdict.destination is not None:
            RUN.recorder.destination(RUN.now(), verdict.destination)
        if verdict.ok and verdict.destination == SELF_HELP:  # land where the 303 sends them
            marker = f"Help with “{checks.topic_query(topic)}”"
            self._page("support_redirect", checks.self_help_target(topic), marker)

    def _page(self, cls: str, path: str, marker: str) -> None:
        """GET a self-help page: 200 with `marker` in it."""
        with self.client.get(path, name=NAMES[cls][1], catch_response=True) as resp:
            settle(resp, checks.check_page(status=resp.status_code, body=resp.text or "",
                                            marker=marker))  # fmt: skip

    @task(10)
    def browse_help(self) -> None:
        self._page("help", "/help", "<h1>How can we help?</h1>")

    @task(15)
    def search(self) -> None:
        words = self.rng.choice(SEARCHES)
        self._page("search", "/help/search?" + urlencode({"q": words}), f"Help with “{words}”")

    @task(35)
    def read_bulletin(self) -> None:
        bulletin = RUN.catalog.pick(self.rng)
        # The vote form names the bulletin: the page is the one asked for.
        marker = f'action="/help/bulletins/{bulletin}/vote"'
        self._page("bulletin", f"/help/bulletins/{bulletin}", marker)

    @task(9)
    def vote(self) -> None:
        bulletin = RUN.catalog.pick(self.rng)
        helpful = "yes" if self.rng.random() < 0.8 else "no"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.client.post(f"/help/bulletins/{bulletin}/vote", data=f"helpful={helpful}",
                              headers=form, name=NAMES["vote"][1], allow_redirects=False,
                              catch_response=True) as resp:  # fmt: skip
            target = f"/help/bulletins/{bulletin}?voted=1"
            location = _header(resp, "Location")
            settle(resp, checks.check_redirect(status=resp.status_code, location=location,
                                                target=target))  # fmt: skip

    @task(1)
    def ask_callback(self) -> None:
        topic = self.rng.choices(TOPICS, TOPIC_WEIGHTS)[0]
        key = uuid.uuid4().hex
        body = {"name": f"Customer {key[:8]}", "phone": PHONE, "topic": topic}
        with self.client.post("/help/callbacks", json=body, name=NAMES["callback"][1],
                              headers={"Idempotency-Key": f"spike-{key}"},
                              catch_response=True) as resp:  # fmt: skip
            ticket: object = None
            if resp.status_code == 202:
                with contextlib.suppress(ValueError):
                    ticket = resp.json().get("ticket")
            verdict = checks.check_callback(status=resp.status_code, ticket=ticket)
            settle(resp, verdict)
        if verdict.ok and isinstance(ticket, str):
            RUN.tickets.add(ticket)


def switch_call_centers(mode: str) -> None:
    """POST `{"mode": mode}` to every call center's control API; note when and how."""
    config = RUN.need_config()
    sent = RUN.now()
    if mode == "down":
        RUN.down_at = sent
    else:
        RUN.up_at = sent
    for name, control in config.controls.items():
        try:
            post(f"{control}/_sim/mode", {"mode": mode}, timeout=SWITCH_TIMEOUT_S)
        except OSError as exc:
            RUN.switch_problems.append(f"{name} {mode} at {sent:.1f} s: {exc}")
            log.error("could not switch call center %s %s: %s", name, mode, exc)  # noqa: TRY400
    log.info("call centers switched %s at %.2f s", mode, sent)


class SpikeShape(LoadTestShape):
    """Warm-up, baseline, outage and 1.5x spike, recovery, baseline (profile.py)."""

    warm = False

    def tick(self) -> tuple[int, float] | None:
        config = RUN.need_config()
        run_time: float = time.perf_counter() - self.start_time  # get_run_time(), typed
        if RUN.t0 is None:
            RUN.t0 = time.monotonic() - run_time
            profile = config.profile
            for at, mode in ((profile.down_at, "down"), (profile.up_at, "up")):
                timer = threading.Timer(max(0.0, at - run_time), switch_call_centers, (mode,))
                timer.daemon = True
                timer.start()
        if not self.warm and run_time >= config.profile.warm_up_end:
            # Locust's numbers (report, CSV, the gate's percentiles) start after the
            # warm-up: its connection storm is the load generator's, not the customers'.
            # The timeline keeps it, and errors are counted over the whole run.
            self.warm = True
            if self.runner is not None:
                self.runner.stats.reset_all()
                log.info("warm-up over at %.1f s: locust's stats reset", run_time)
        target = config.profile.target(run_time)
        if target is None:
            RUN.completed = True
        return target
