"""Call-center simulator: an aiohttp stand-in for one call center, with admin switches.

Used by the demo, tests and load tests; never imported by the product (failover/, cache/).
Speaks DESIGN.md "Call center, as the front door sees it". Two listeners, so that "down"
really closes the service socket while the switches keep working:

- service: ``GET /health``, support pages (``/``, ``/billing``, ``/router/setup``, ...;
  unknown ones 404), ``GET /big`` (1 MiB streamed), ``POST /callbacks`` (JSON body,
  ``Idempotency-Key``; 201 first time, 200 on a repeat), ``/echo[/...]`` (the request as
  JSON). Every response carries ``X-Served-By: <name>``.
- control: ``POST /_sim/mode`` ``{"mode": ..., **params}``, ``GET /_sim/state``,
  ``POST /_sim/health``, ``GET /_sim/callbacks``.

Modes: up, down (refused), hang (never answers), slow (``delay_ms``), error (``status``,
default 503), flap (up/down every ``period_ms``).
CLI: ``python -m sims.callcenter --name A --port 9101 --control-port 9201``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import asdict
from typing import Final, cast

from aiohttp import web

from sims.callcenter_control import SIM_KEY, control_app
from sims.callcenter_service import BIG_BODY, PAGES, STATE_KEY, service_app
from sims.callcenter_state import (
    JSON,
    CallbackDelivery,
    HealthReport,
    HealthStatus,
    Mode,
    ModeSettings,
    SimState,
)

# Layout (DESIGN.md Style 8): values and shared state in callcenter_state, the service
# listener's handlers in callcenter_service, the /_sim/* switches in callcenter_control;
# this module owns the lifecycle (CallCenterSim), the CLI, and re-exports the public names.
__all__ = [
    "BIG_BODY",
    "JSON",
    "PAGES",
    "SIM_KEY",
    "STATE_KEY",
    "CallCenterSim",
    "CallbackDelivery",
    "HealthReport",
    "HealthStatus",
    "Mode",
    "ModeSettings",
    "main",
]

_SERVICE_SHUTDOWN_S: Final = 0.05  # "down" is a power cut: in-flight requests die quickly


class CallCenterSim:
    """One simulated call center: a service listener and a control listener."""

    def __init__(
        self, *, name: str, host: str = "127.0.0.1", port: int = 0, control_port: int = 0
    ) -> None:
        self._state = SimState(name)
        self._host = host
        self._port = port
        self._control_port = control_port
        self._service: web.AppRunner | None = None
        self._control: web.AppRunner | None = None
        self._flap_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def port(self) -> int:
        """Service port (0 until the first start() picks a free one)."""
        return self._port

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
        return self._state.listening

    @property
    def requests_by_path(self) -> dict[str, int]:
        return dict(self._state.requests)

    @property
    def callbacks(self) -> tuple[CallbackDelivery, ...]:
        return tuple(self._state.deliveries)

    @property
    def callback_counts(self) -> dict[str, int]:
        return dict(self._state.key_counts)

    async def start(self) -> None:
        async with self._lock:
            if self._control is not None:
                raise RuntimeError(f"call center {self.name} already started")
            self._control, self._control_port = await _serve(
                control_app(self), self._host, self._control_port, shutdown_timeout=1.0
            )
            await self._apply(self._state.settings)

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_flap()
            await self._listen(want=False)
            if self._control is not None:
                control, self._control = self._control, None
                await control.cleanup()

    async def set_mode(self, mode: Mode | str, **params: float) -> None:
        await self.apply(ModeSettings.parse(mode, params))

    async def apply(self, settings: ModeSettings) -> None:
        async with self._lock:
            if self._control is None:
                raise RuntimeError(f"call center {self.name} is not started")
            await self._apply(settings)

    def set_health(self, **changes: object) -> HealthReport:
        self._state.health = self._state.health.updated(changes)
        return self._state.health

    def state(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "url": self.url,
            **self._state.settings.as_json(),
            "listening": self.listening,
            "health": cast(JSON, asdict(self._state.health)),
            "requests_total": self._state.requests.total(),
            "requests_by_path": cast(JSON, self.requests_by_path),
            "callbacks_received": len(self._state.deliveries),
            "callback_counts": cast(JSON, self.callback_counts),
        }

    async def _apply(self, settings: ModeSettings) -> None:
        # Holding the lock, the flap task is asleep or queued on the lock, never mid-restart.
        await self._stop_flap()
        self._state.settings = settings
        await self._listen(want=settings.mode is not Mode.DOWN)
        self._state.announce_change()
        if settings.mode is Mode.FLAP:
            self._flap_task = asyncio.create_task(
                self._flap(settings.period_ms / 1000), name=f"callcenter-{self.name}-flap"
            )

    async def _flap(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            async with self._lock:
                await self._listen(want=not self._state.listening)

    async def _stop_flap(self) -> None:
        task, self._flap_task = self._flap_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

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
        self._state.listening = self._service is not None


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


async def _run(args: argparse.Namespace) -> None:
    sim = CallCenterSim(
        name=args.name, host=args.host, port=args.port, control_port=args.control_port
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        print(f"call center {sim.name}: service {sim.url}  control {sim.control_url}", flush=True)
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sims.callcenter", description=__doc__)
    parser.add_argument("--name", required=True, help="call center name (X-Served-By)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="service port (0 = free port)")
    parser.add_argument("--control-port", type=int, default=0, help="admin switches port")
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
