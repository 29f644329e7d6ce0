"""Community-site simulator: a Discourse JSON API over seeded service bulletins, with switches.

Used by the demo, tests and load tests; never imported by the product (failover/, cache/).
The self-help layer's origin (``cache/origin.py``) reads it exactly as it reads a real
Discourse site. Two listeners, so that ``down`` really closes the service socket while the
switches keep working:

- service: ``GET /latest.json?page=N``, ``/t/{id}.json``, ``/t/{slug}/{id}.json``,
  ``/categories.json`` (see ``sims.community_api``), over ``sims.community_seed`` content.
- control: ``POST /_sim/mode`` ``{"mode": ..., **params}``, ``GET /_sim/state``,
  ``POST /_sim/reset`` (zero the request counters).

Modes: up, down (refused), slow (``delay_ms``), error (``status``, default 503), hang (never
answers). slow, error and hang take ``count``: only the next ``count`` requests meet the
fault, then the site is ``up`` again (a blip, for retry tests).
CLI: ``python -m sims.community --port 9301 --control-port 9302 [--topics 300 --seed N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any, Final, cast

from aiohttp import web

from sims.community_api import PER_PAGE
from sims.community_seed import DEFAULT_SEED, Seed, Topic, build_seed
from sims.community_service import STATE_KEY, CommunityState, Mode, ModeSettings, service_app

# Layout (DESIGN.md Style 8): words in community_text, generated content in community_seed,
# API shapes in community_api, modes + faults + routes in community_service; this module
# owns the lifecycle, the control listener and the CLI, and re-exports the public names.
__all__ = [
    "DEFAULT_SEED",
    "PER_PAGE",
    "STATE_KEY",
    "CommunitySim",
    "Mode",
    "ModeSettings",
    "Seed",
    "Topic",
    "build_seed",
    "main",
]

_SERVICE_SHUTDOWN_S: Final = 0.05  # "down" is a power cut: in-flight requests die quickly
SIM_KEY: Final = web.AppKey["CommunitySim"]("community_sim")


class CommunitySim:
    """A simulated Discourse community site: a service listener and a control listener."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int = 0,
        topics: int = 300,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self._state = CommunityState(build_seed(topics, seed))
        self._host = host
        self._port = port
        self._control_port = control_port
        self._service: web.AppRunner | None = None
        self._control: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    @property
    def seed(self) -> Seed:
        """The content served: topics in /latest order, authors, categories."""
        return self._state.seed

    @property
    def url(self) -> str:
        """Service base URL; the port is fixed at the first start() and kept across down/up."""
        return f"http://{self._host}:{self._port}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self._control_port}"

    @property
    def settings(self) -> ModeSettings:
        return self._state.settings

    @property
    def listening(self) -> bool:
        return self._service is not None

    @property
    def requests_by_path(self) -> dict[str, int]:
        """Requests the service listener received, by path (query strings not included)."""
        return dict(self._state.requests)

    @property
    def requests_total(self) -> int:
        return self._state.requests.total()

    def requests_for(self, path: str) -> int:
        return self._state.requests.get(path, 0)

    def reset_counters(self) -> None:
        self._state.requests.clear()

    async def start(self) -> None:
        async with self._lock:
            if self._control is not None:
                raise RuntimeError("community sim already started")
            self._control, self._control_port = await _serve(
                _control_app(self), self._host, self._control_port, shutdown_timeout=1.0
            )
            await self._apply(self._state.settings)

    async def stop(self) -> None:
        async with self._lock:
            await self._listen(want=False)
            if self._control is not None:
                control, self._control = self._control, None
                await control.cleanup()

    async def __aenter__(self) -> CommunitySim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def set_mode(self, mode: Mode | str, **params: float) -> None:
        await self.apply(ModeSettings.parse(mode, params))

    async def apply(self, settings: ModeSettings) -> None:
        async with self._lock:
            if self._control is None:
                raise RuntimeError("community sim is not started")
            await self._apply(settings)

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            **self._state.settings.as_json(),
            "remaining": self._state.remaining,
            "listening": self.listening,
            "topics": len(self.seed.topics),
            "authors": len({t.author.id for t in self.seed.topics}),
            "requests_total": self.requests_total,
            "requests_by_path": self.requests_by_path,
        }

    async def _apply(self, settings: ModeSettings) -> None:
        self._state.apply(settings)
        await self._listen(want=settings.mode is not Mode.DOWN)

    async def _listen(self, *, want: bool) -> None:
        if want and self._service is None:
            self._service, self._port = await _serve(
                service_app(self._state),
                self._host,
                self._port,
                shutdown_timeout=_SERVICE_SHUTDOWN_S,
            )
        elif not want and self._service is not None:
            service, self._service = self._service, None
            self._state.cancel_hanging()
            await service.cleanup()


async def _serve(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float
) -> tuple[web.AppRunner, int]:
    """Run ``app`` on host:port (0 = pick a free one); the bound port is then reused."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site.port


async def _ctl_mode(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    params = cast(dict[str, object], body)
    try:
        settings = ModeSettings.parse(cast(str, params.pop("mode", None)), params)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    sim = request.app[SIM_KEY]
    await sim.apply(settings)
    return web.json_response(sim.state())


async def _ctl_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM_KEY].state())


async def _ctl_reset(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    sim.reset_counters()
    return web.json_response(sim.state())


def _control_app(sim: CommunitySim) -> web.Application:
    app = web.Application()
    app[SIM_KEY] = sim
    app.router.add_post("/_sim/mode", _ctl_mode)
    app.router.add_get("/_sim/state", _ctl_state)
    app.router.add_post("/_sim/reset", _ctl_reset)
    return app


async def _run(args: argparse.Namespace) -> None:
    sim = CommunitySim(
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        topics=args.topics,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        print(f"community: service {sim.url}  control {sim.control_url}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sims.community", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="service port (0 = free port)")
    parser.add_argument("--control-port", type=int, default=0, help="admin switches port")
    parser.add_argument("--topics", type=int, default=300, help="bulletins to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="content seed")
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
