"""Call-center simulator control listener: the ``/_sim/*`` admin switches.

It stays up while the service listener is ``down``, so tests and the demo can bring it back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Final, cast

from aiohttp import web

from sims.callcenter_state import JSON, ModeSettings

if TYPE_CHECKING:  # runtime import would be circular: CallCenterSim.start() builds this app
    from sims.callcenter import CallCenterSim

SIM_KEY: Final = web.AppKey["CallCenterSim"]("callcenter_sim")


async def _json_object(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON\n") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object\n")
    return cast(dict[str, object], body)


async def _ctl_mode(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json_object(request)
    try:
        settings = ModeSettings.parse(cast(str, body.pop("mode", None)), body)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    await sim.apply(settings)
    return web.json_response(sim.state())


async def _ctl_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIM_KEY].state())


async def _ctl_health(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    try:
        report = sim.set_health(**await _json_object(request))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(asdict(report))


async def _ctl_callbacks(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    deliveries: JSON = [cast(JSON, asdict(d)) for d in sim.callbacks]
    return web.json_response({"deliveries": deliveries, "counts": sim.callback_counts})


def control_app(sim: CallCenterSim) -> web.Application:
    """The control listener's app; it drives ``sim`` through its public methods."""
    app = web.Application()
    app[SIM_KEY] = sim
    app.router.add_post("/_sim/mode", _ctl_mode)
    app.router.add_get("/_sim/state", _ctl_state)
    app.router.add_post("/_sim/health", _ctl_health)
    app.router.add_get("/_sim/callbacks", _ctl_callbacks)
    return app
