"""Operator switches under /admin/, behind a bearer token.

No token configured means admin is disabled (403), never open. A missing or wrong
token is 401 and changes nothing. The token is compared in constant time
(`hmac.compare_digest`) so its bytes cannot be guessed by timing.

    POST /admin/override                   {"mode": "automatic" | "self-help" |
                                            "callcenter", "callcenter": name, "reason"}
    POST /admin/callcenters/<name>/emergency {"on": true|false}
    POST /admin/callcenters/<name>/drain     {"on": true|false}
    POST /admin/cache/rewarm
    PUT  /admin/message                    {"message": text}: the outage banner's line
    DELETE /admin/message                  back to [branding] message
    GET  /admin/switches                   what is in force
    GET  /admin/log                        who did what, when (newest first)

Who: the `X-Actor` header (or an "actor" field), e.g. an SRE's login, recorded with
the client address. Switches are stored in Redis so every replica applies them and
they survive a restart (`failover.switches`); the answer's "shared" says whether
that worked.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from failover.jsonbody import JsonBodyError, loads_object
from failover.routing import Override, OverrideKind
from failover.switch_state import MAX_TEXT, Desired, one_line
from failover.switches import Switches
from kernel.problem import problem
from monitoring.http import Wrap

log = logging.getLogger("switchboard.admin")

ADMIN_TOKEN: Final = web.AppKey("admin_token", str)
SWITCHBOARD: Final = web.AppKey("switches", Switches)
# Self-help's rewarm (how many bulletins it fetched from the community site), handed in
# by the composition root (switchboard/app.py): cache/ is failover's sibling, not below it.
REWARM: Final[web.AppKey[Callable[[], Awaitable[int]]]] = web.AppKey("rewarm")
MAX_ACTOR: Final = 64
MAX_REASON: Final = MAX_TEXT
MAX_MESSAGE: Final = MAX_TEXT  # as [branding] message
SWITCHES: Final = frozenset({"emergency", "drain"})


def _authorize(request: web.Request) -> web.Response | None:
    token = request.app.get(ADMIN_TOKEN)
    if not token:
        return problem(403, "admin is disabled: set SWITCHBOARD_ADMIN_TOKEN")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return problem(
            401,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="switchboard-admin"'},
        )
    return None


def authorize(request: web.Request) -> web.Response | None:
    """The same check for other handlers (the status pages' operator view,
    `failover.statusview`): None when the bearer token is right, else /admin's 401/403."""
    return _authorize(request)


async def _json_body(request: web.Request) -> dict[str, object] | web.Response:
    if not request.can_read_body:
        return {}
    try:
        # Not request.json(): deeply nested JSON raises RecursionError there, a 500.
        return loads_object(await request.read())
    except JsonBodyError as exc:
        return problem(400, str(exc))


def _actor(request: web.Request, body: dict[str, object]) -> str:
    raw = request.headers.get("X-Actor") or body.get("actor") or "unknown"
    text = "".join(ch for ch in str(raw) if ch.isprintable())[:MAX_ACTOR].strip()
    return text or "unknown"


async def _act(
    request: web.Request, body: dict[str, object], desired: Desired, *,
    action: str, target: str, detail: str, answer: dict[str, object],
) -> web.Response:  # fmt: skip
    switches = request.app[SWITCHBOARD]
    shared = await switches.act(
        desired, actor=_actor(request, body), remote=request.remote or "?", action=action,
        target=target, detail=detail,
    )  # fmt: skip
    answer = {**answer, "shared": shared}
    if not shared and switches.shared:
        answer["warning"] = (
            "applied on this replica only: Redis is unreachable; the other replicas get it "
            "when Redis answers again"
        )
    return web.json_response(answer)


def _known(request: web.Request, name: str) -> web.Response | None:
    switches = request.app[SWITCHBOARD]
    if name not in {v.name for v in switches.current_views()}:
        return problem(404, f"no call center named {name!r}")
    return None


async def set_switch(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    on = body.get("on")
    switch = request.match_info["switch"]
    if switch not in SWITCHES:
        return problem(404, f"no switch {switch[:40]!r}: emergency or drain")
    if not isinstance(on, bool):
        return problem(400, "field 'on' must be true or false")
    name = request.match_info["name"]
    if (missing := _known(request, name)) is not None:
        return missing
    current = request.app[SWITCHBOARD].current()
    if switch == "emergency":
        desired = dataclasses.replace(current, emergency=_toggled(current.emergency, name, on=on))
    else:
        desired = dataclasses.replace(current, drained=_toggled(current.drained, name, on=on))
    return await _act(
        request, body, desired, action=switch, target=name, detail=f"on={str(on).lower()}",
        answer={"callcenter": name, switch: on},
    )  # fmt: skip


def _toggled(names: frozenset[str], name: str, *, on: bool) -> frozenset[str]:
    return names | {name} if on else names - {name}


async def set_override(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    mode = body.get("mode")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        return problem(400, f"reason must be text of at most {MAX_REASON} characters")
    reason = one_line(reason)  # as the banner message: stored, shared, shown on /status
    target = body.get("callcenter")
    override: Override | None
    if mode == "automatic":
        override = None
    elif mode == "self-help":
        override = Override(kind=OverrideKind.FORCE_SELF_HELP, reason=reason)
    elif mode == "callcenter" and isinstance(target, str):
        if (missing := _known(request, target)) is not None:
            return missing
        override = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter=target, reason=reason)
    else:
        return problem(
            400, "mode must be 'automatic', 'self-help' or 'callcenter' (with 'callcenter')"
        )
    current = request.app[SWITCHBOARD].current()
    desired = dataclasses.replace(current, override=override)
    where = f"{mode}:{target}" if mode == "callcenter" else str(mode)
    return await _act(
        request, body, desired, action="override", target=where, detail=reason,
        answer={"mode": mode, "callcenter": target, "reason": reason},
    )  # fmt: skip


async def set_message(request: web.Request) -> web.Response:
    """The operator's line in the outage banner, on every replica (shared like the
    switches); plain text, escaped where it is shown."""
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    message: str | None = None
    if request.method == "PUT":
        text = body.get("message")
        if not isinstance(text, str) or len(text) > MAX_MESSAGE:
            return problem(400, f"message must be text of at most {MAX_MESSAGE} characters")
        # One line of plain text: control characters and line breaks become spaces.
        message = one_line(text)
    desired = dataclasses.replace(request.app[SWITCHBOARD].current(), message=message)
    return await _act(
        request, body, desired, action="message", target="banner",
        detail="(configured)" if message is None else message,
        answer={"message": message},
    )  # fmt: skip


async def rewarm(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    switches = request.app[SWITCHBOARD]
    fetched = await request.app[REWARM]()
    await switches.note(
        actor=_actor(request, body), remote=request.remote or "?", action="rewarm",
        target="cache", detail=f"{fetched} fetched from the community site",
    )  # fmt: skip
    return web.json_response({"fetched": fetched})


async def show_switches(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    return web.json_response(request.app[SWITCHBOARD].describe())


async def show_log(request: web.Request) -> web.Response:
    if (denied := _authorize(request)) is not None:
        return denied
    entries = await request.app[SWITCHBOARD].recent()
    return web.json_response({"entries": [dataclasses.asdict(e) for e in entries]})


def add_routes(app: web.Application, token: str | None, wrap: Wrap) -> None:
    if token:
        app[ADMIN_TOKEN] = token
    app.router.add_post("/admin/callcenters/{name}/{switch}", wrap("admin", set_switch))
    app.router.add_post("/admin/override", wrap("admin", set_override))
    app.router.add_post("/admin/cache/rewarm", wrap("admin", rewarm))
    app.router.add_put("/admin/message", wrap("admin", set_message))
    app.router.add_delete("/admin/message", wrap("admin", set_message))
    app.router.add_get("/admin/switches", wrap("admin", show_switches))
    app.router.add_get("/admin/log", wrap("admin", show_log))
