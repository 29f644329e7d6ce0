"""Call-center simulator: an aiohttp stand-in for one call center, with admin switches.

Used by the demo, tests and load tests; never imported by the product (failover/, cache/).
Speaks docs/architecture.md "Call center, as the front door sees it". Two listeners, so that "down"
really closes the service socket while the switches keep working:

- service: ``GET /health``, support pages (``/``, ``/billing``, ``/router/setup``, ...;
  unknown ones 404), ``GET /big`` (1 MiB streamed), ``POST /callbacks`` (JSON body,
  ``Idempotency-Key``; 201 first time, 200 on a repeat; a poisoned one, below, fails),
  ``/echo[/...]`` (the request as JSON). Every response carries ``X-Served-By: <name>``.
- control: ``POST /_sim/mode`` ``{"mode": ..., **params}``, ``GET /_sim/state``,
  ``POST /_sim/health``, ``GET /_sim/callbacks`` (deliveries, counts and poisoned attempts
  per key), ``POST /_sim/callbacks/poison`` ``{"contains": "<substring>", "status": 500}``:
  a callback whose body holds the substring is answered with the status (400..599, default
  500) and ``{"error": "poison callback"}`` every time, never recorded as delivered
  (``{"contains": null}`` clears it; ``set_poison`` from Python).

Modes: up, down (refused), hang (never answers), slow (``delay_ms``), error (``status``,
default 503), flap (up/down every ``period_ms``).
CLI: ``python -m sims.callcenter --name A --port 9101 --control-port 9201``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from typing import cast

from aiohttp import web

from sims.base import Simulator, add_listener_args, run_until_signalled
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
    parse_poison,
)

# Layout (docs/architecture.md Style 8): values and shared state in callcenter_state, the service
# listener's handlers in callcenter_service, the /_sim/* switches in callcenter_control;
# this module owns the lifecycle (CallCenterSim, on sims.base.Simulator), the CLI, and
# re-exports the public names.
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


class CallCenterSim(Simulator[ModeSettings]):
    """One simulated call center: a service listener and a control listener."""

    def __init__(
        self, *, name: str, host: str = "127.0.0.1", port: int = 0, control_port: int = 0
    ) -> None:
        self._state = SimState(name)
        super().__init__(
            label=f"call center {name}",
            gate=self._state,
            host=host,
            port=port,
            control_port=control_port,
        )
        self._flap_task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def port(self) -> int:
        """Service port (0 until the first start() picks a free one)."""
        return self._port

    @property
    def requests_by_path(self) -> dict[str, int]:
        return dict(self._state.requests)

    @property
    def callbacks(self) -> tuple[CallbackDelivery, ...]:
        return tuple(self._state.deliveries)

    @property
    def callback_counts(self) -> dict[str, int]:
        return dict(self._state.key_counts)

    @property
    def poisoned(self) -> dict[str, int]:
        """Poisoned ``POST /callbacks`` attempts per Idempotency-Key (never in ``callbacks``)."""
        return dict(self._state.poisoned)

    @property
    def poison(self) -> tuple[str, int] | None:
        """The poison rule ``(substring, status)``, or None."""
        return self._state.poison

    def set_health(self, **changes: object) -> HealthReport:
        self._state.health = self._state.health.updated(changes)
        return self._state.health

    def set_poison(self, contains: str | None, status: int = 500) -> tuple[str, int] | None:
        """Fail every callback whose raw body holds ``contains`` with ``status`` (400..599);
        None clears the rule. ValueError if invalid."""
        params: dict[str, object] = {"contains": contains}
        if contains is not None:
            params["status"] = status
        self._state.poison = parse_poison(params)
        return self._state.poison

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
            "poison": (
                None
                if self.poison is None
                else {"contains": self.poison[0], "status": self.poison[1]}
            ),
            "callbacks_poisoned": self._state.poisoned.total(),
        }

    def _service_app(self) -> web.Application:
        return service_app(self._state)

    def _control_app(self) -> web.Application:
        return control_app(self)

    def _parse(self, mode: str, params: Mapping[str, object]) -> ModeSettings:
        return ModeSettings.parse(mode, params)

    async def _apply(self, settings: ModeSettings) -> None:
        # Holding the lock, the flap task is asleep or queued on the lock, never mid-restart.
        await self._stop_flap()
        await self._switch(settings)
        if settings.mode is Mode.FLAP:
            self._flap_task = asyncio.create_task(
                self._flap(settings.period_ms / 1000), name=f"callcenter-{self.name}-flap"
            )

    async def _shutdown(self) -> None:
        await self._stop_flap()
        await super()._shutdown()

    async def _flap(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            async with self._lock:
                await self._listen(want=not self.listening)

    async def _stop_flap(self) -> None:
        task, self._flap_task = self._flap_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})


async def _run(args: argparse.Namespace) -> None:
    sim = CallCenterSim(
        name=args.name, host=args.host, port=args.port, control_port=args.control_port
    )
    await run_until_signalled(sim, f"call center {sim.name}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sims.callcenter", description=__doc__)
    parser.add_argument("--name", required=True, help="call center name (X-Served-By)")
    add_listener_args(parser)
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
