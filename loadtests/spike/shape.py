"""The spike's `LoadTestShape`: users over time from `profile.Profile`, and the outage,
switched through the call-center simulators' admin API at the profile's times.

The switches run in their own timers (greenlets: locust has monkey-patched threading),
scheduled when the shape starts: locust calls
`tick` about once a second and may call it late, and the outage has to start at a known
time. The time recorded for a switch is when its first request was sent, so that an
answer completed before it cannot have seen the outage (`profile.expect`).
"""

from __future__ import annotations

import logging
import threading
import time

from locust import LoadTestShape

from loadtests.spike.state import RUN
from sims.harness.ports import post

log = logging.getLogger("spike.shape")
SWITCH_TIMEOUT_S = 5.0


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
