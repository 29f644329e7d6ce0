"""One proxy handler alone, in process, for `loadtests/bench_proxy_handler.py`.

    python -m loadtests.bench.handler_child UPSTREAM {bare|support|observed} CALLS

Builds the handler (the bare forwarding proxy's, or the front door's `support` with or
without the `observed` wrapper every route gets), warms it up against UPSTREAM, prints
READY, waits for a line on stdin, calls it CALLS times with one prepared request (no
server, no socket to a client: only what the handler itself does, the client request to
UPSTREAM included), prints DONE and waits for a last line before it exits. The parent
zeroes and dumps callgrind's counters around the calls.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from failover import web as frontdoor
from failover.app import build_pool, probe_schedule, proxy_policy
from failover.clock import SystemClock
from failover.monitor import Monitor
from failover.proxy import Proxy, new_proxy_session
from failover.settings import load_settings
from loadtests.bench import bare
from monitoring.http import Handler, observed
from monitoring.metrics import Metrics

VARIANTS = ("bare", "support", "observed")
WARMUP = 200
PATH = "/support/router/setup"
HEADERS = {"Host": "127.0.0.1:8080", "User-Agent": "wrk"}  # what wrk sends


async def _door(app: web.Application, upstream: str, *, wrapped: bool) -> Handler:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "switchboard.toml"
        config.write_text(f'[[callcenters]]\nname = "cc"\nurl = "{upstream}"\n')
        settings = load_settings(config, env={})
    clock = SystemClock()
    pool = build_pool(settings)
    metrics = Metrics(CollectorRegistry(), now=clock.monotonic)
    policy = proxy_policy(settings)
    session = new_proxy_session(max_connections=settings.proxy.max_connections)
    app.on_cleanup.append(lambda _: session.close())
    monitor = Monitor(
        pool, {"cc": upstream + "/health"}, schedule=probe_schedule(settings), session=session,
        clock=clock, observer=lambda *_: None,
    )  # fmt: skip
    for _ in range(settings.health.healthy_threshold):
        await monitor.probe_once("cc")  # up, so that customers are sent there
    app[frontdoor.FRONT_DOOR] = frontdoor.FrontDoor(
        pool=pool, proxy=Proxy(session, {"cc": upstream}, policy), policy=policy, clock=clock,
        metrics=metrics, monitor=monitor, observe=lambda _: None,
    )  # fmt: skip
    return observed(metrics)("support", frontdoor.support) if wrapped else frontdoor.support


async def _bare(app: web.Application, upstream: str) -> Handler:
    session = aiohttp.ClientSession(auto_decompress=False)  # as bare.py's own
    app.on_cleanup.append(lambda _: session.close())
    app[bare.SESSION] = session
    app[bare.UPSTREAM] = upstream
    return bare.forward


async def main(upstream: str, variant: str, calls: int) -> None:
    app = web.Application()
    if variant == "bare":
        handler = await _bare(app, upstream)
    else:
        handler = await _door(app, upstream, wrapped=variant == "observed")
    app.freeze()
    request = make_mocked_request(
        "GET", PATH, headers=CIMultiDict(HEADERS), app=app,
        match_info={"tail": PATH.removeprefix("/support")},
    )  # fmt: skip
    for _ in range(WARMUP):
        response = await handler(request)
        if response.status != 200:
            raise SystemExit(f"handler_child: {variant} answered {response.status}")
    print("READY", flush=True)
    sys.stdin.readline()
    for _ in range(calls):
        await handler(request)
    print("DONE", flush=True)
    sys.stdin.readline()
    await app.cleanup()


if __name__ == "__main__":
    upstream_url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if name not in VARIANTS:
        raise SystemExit(f"handler_child: unknown variant {name!r}; one of {VARIANTS}")
    uvloop.run(main(upstream_url, name, count))
