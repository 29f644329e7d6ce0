"""Operator switches under /admin/, behind a bearer token.

No token configured means admin is disabled (403), never open. The token is compared
in constant time (`hmac.compare_digest`) so its bytes cannot be guessed by timing.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Final

from aiohttp import web

from failover.pool import UnknownCallCenterError
from failover.routing import Override, OverrideKind
from failover.web import FRONT_DOOR
from monitoring.http import Wrap

log = logging.getLogger("switchboard.admin")

ADMIN_TOKEN: Final = web.AppKey("admin_token", str)


def _authorize(request: web.Request) -> web.Response | None:
    token = request.app.get(ADMIN_TOKEN)
    if not token:
        return web.json_response(
            {"error": "admin is disabled: set SWITCHBOARD_ADMIN_TOKEN"}, status=403
        )
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return web.json_response(
            {"error": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="switchboard-admin"'},
        )
    return None


async def _json_body(request: web.Request) -> dict[str, object] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    return body


async def set_emergency(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    on = body.get("on")
    if not isinstance(on, bool):
        return web.json_response({"error": "field 'on' must be true or false"}, status=400)
    fd = request.app[FRONT_DOOR]
    name = request.match_info["name"]
    try:
        events = fd.pool.set_emergency(name, on, now=fd.clock.monotonic())
    except UnknownCallCenterError:
        return web.json_response({"error": f"no call center named {name!r}"}, status=404)
    log.warning("admin: emergency %s for %s from %s", on, name, request.remote)
    fd.observe(events)
    return web.json_response({"callcenter": name, "emergency": on})


async def set_override(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    mode = body.get("mode")
    reason = str(body.get("reason", ""))[:200]
    target = body.get("callcenter")
    override: Override | None
    if mode == "automatic":
        override = None
    elif mode == "self-help":
        override = Override(kind=OverrideKind.FORCE_SELF_HELP, reason=reason)
    elif mode == "callcenter" and isinstance(target, str):
        override = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter=target, reason=reason)
    else:
        return web.json_response(
            {"error": "mode must be 'automatic', 'self-help' or 'callcenter' (with 'callcenter')"},
            status=400,
        )
    fd = request.app[FRONT_DOOR]
    try:
        events = fd.pool.set_override(override, now=fd.clock.monotonic())
    except UnknownCallCenterError:
        return web.json_response({"error": f"no call center named {target!r}"}, status=404)
    log.warning("admin: override %s (%s) from %s", mode, reason, request.remote)
    fd.observe(events)
    return web.json_response({"mode": mode, "callcenter": target, "reason": reason})


def add_routes(app: web.Application, token: str | None, wrap: Wrap) -> None:
    if token:
        app[ADMIN_TOKEN] = token
    app.router.add_post("/admin/callcenters/{name}/emergency", wrap("admin", set_emergency))
    app.router.add_post("/admin/override", wrap("admin", set_override))
