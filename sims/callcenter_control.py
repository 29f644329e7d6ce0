"""Call-center simulator control listener: the ``/_sim/*`` admin switches.

It stays up while the service listener is ``down``, so tests and the demo can bring it back.
``/_sim/mode`` and ``/_sim/state`` are every simulator's (``sims.base.control_app``); a call
center adds ``POST /_sim/health``, ``GET /_sim/callbacks`` (``deliveries``, ``counts`` per key,
``poisoned`` attempts per key) and ``POST /_sim/callbacks/poison``
``{"contains": "<substring>" | null, "status": 400..599 (default 500)}``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Final, cast

from aiohttp import web

from sims import base
from sims.callcenter_state import JSON, parse_poison

if TYPE_CHECKING:  # runtime import would be circular: CallCenterSim.start() builds this app
    from sims.callcenter import CallCenterSim

SIM_KEY: Final = web.AppKey["CallCenterSim"]("callcenter_sim")


async def _ctl_health(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    try:
        report = sim.set_health(**await base.json_object(request))
    except ValueError as exc:
        return base.json_error(exc)
    return web.json_response(asdict(report))


async def _ctl_callbacks(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    deliveries: JSON = [cast(JSON, asdict(d)) for d in sim.callbacks]
    return web.json_response(
        {"deliveries": deliveries, "counts": sim.callback_counts, "poisoned": sim.poisoned}
    )


async def _ctl_poison(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    try:
        rule = parse_poison(await base.json_object(request))
    except ValueError as exc:
        return base.json_error(exc)
    contains, status = rule if rule is not None else (None, 500)
    sim.set_poison(contains, status)
    return web.json_response({"poison": sim.state()["poison"]})


def control_app(sim: CallCenterSim) -> web.Application:
    """The control listener's app for ``sim``: the common switches and the call center's."""
    app = base.control_app(sim)
    app[SIM_KEY] = sim
    app.router.add_post("/_sim/health", _ctl_health)
    app.router.add_get("/_sim/callbacks", _ctl_callbacks)
    app.router.add_post("/_sim/callbacks/poison", _ctl_poison)
    return app
