"""The locust process's recording listeners: read the run config, learn the bulletins,
record every answer, and sample users and CPU once a second. The gate is `gate.py`.

Importing this module registers the listeners (loadtests/locustfile.py does). Locust
has monkey-patched the standard library by then (gevent), so `threading` and
`time.sleep` here are greenlets and cooperative sleeps.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Final

from locust import events
from locust.env import Environment

from loadtests.spike import readings
from loadtests.spike.customers import CLASS_OF
from loadtests.spike.hooks import on
from loadtests.spike.state import RUN, Catalog, RunConfig
from sims.harness import procs

log = logging.getLogger("spike")
HTTP_TIMEOUT_S: Final = 5.0
SAMPLE_S: Final = 1.0
STALL_NOTE_S: Final = 0.25  # a sample this late means the loop was held up
_stop_sampling = threading.Event()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310 - loopback
        body: bytes = answer.read()
        return body


@on(events.init_command_line_parser)
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--spike-run",
        default="",
        help="the run config JSON written by `python -m loadtests.spike`",
        include_in_web_ui=False,
    )


@on(events.init)
def _init(environment: Environment, **_: object) -> None:
    path = getattr(environment.parsed_options, "spike_run", "")
    if path:
        RUN.config = RunConfig.read(Path(path))


@on(events.test_start)
def _test_start(environment: Environment, **_: object) -> None:
    config = RUN.need_config()
    doc = json.loads(get(f"{config.host}/api/v1/bulletins?limit=100"))
    RUN.catalog = Catalog.zipf([int(b["id"]) for b in doc["bulletins"]])
    RUN.metrics_before = readings.parse(get(f"{config.ops}/metrics").decode())
    log.info(
        "%d bulletins; the 5 most read get %.0f%% of reads",
        len(RUN.catalog.ids), 100 * RUN.catalog.share_of_top(5),
    )  # fmt: skip
    _stop_sampling.clear()
    threading.Thread(
        target=_sample, args=(environment, config.door_pid), name="spike-sampler", daemon=True
    ).start()


def cpu_seconds(pid: int) -> float | None:
    """The harness's `cpu_seconds`, None once the process is gone."""
    try:
        return procs.cpu_seconds(pid)
    except OSError:
        return None


def _sample(environment: Environment, door_pid: int | None) -> None:
    """Users, and locust's and the front door's CPU (% of one core), once a second."""
    wall, mine = time.monotonic(), time.process_time()
    door = cpu_seconds(door_pid) if door_pid else None
    while not _stop_sampling.wait(SAMPLE_S):
        now, mine_now = time.monotonic(), time.process_time()
        door_now = cpu_seconds(door_pid) if door_pid else None
        span = max(now - wall, 1e-6)
        if span - SAMPLE_S > STALL_NOTE_S:
            # Our own loop was blocked (or this process not scheduled): every answer in
            # flight was timed that much too long. Noted, gated (slo.toml [loadgen]).
            RUN.stalls.append((RUN.now() - span, span - SAMPLE_S))
            log.warning("locust's event loop was held up %.2f s at %.0f s", span - SAMPLE_S,
                        RUN.now() - span)  # fmt: skip
        door_cpu = float("nan")
        if door is not None and door_now is not None:
            door_cpu = 100 * (door_now - door) / span
        runner = environment.runner
        RUN.recorder.gauges(
            RUN.now(),
            users=runner.user_count if runner is not None else 0,
            locust_cpu=100 * (mine_now - mine) / span,
            door_cpu=door_cpu,
        )
        wall, mine, door = now, mine_now, door_now


@on(events.test_stop)
def stop_sampling(**_: object) -> None:
    _stop_sampling.set()


@on(events.request)
def _request(
    name: str, response_time: float, response: Any, exception: BaseException | None, **_: object
) -> None:
    status = getattr(response, "status_code", 0) or 0
    RUN.recorder.request(
        RUN.now(),
        CLASS_OF.get(name, name),
        response_time,
        ok=exception is None,
        server_error=status == 0 or status >= 500,
    )


@on(events.cpu_warning)
def _cpu_warning(cpu_usage: float, **_: object) -> None:
    RUN.cpu_warnings.append(RUN.now())
    log.warning("locust at %.0f%% CPU at %.0f s: the load generator is at its limit",
                cpu_usage, RUN.now())  # fmt: skip
