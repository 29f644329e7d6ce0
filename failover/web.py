"""HTTP handlers of the front door: `/support/...`, probes of our own, status.

The customer entry `/support/<topic...>` asks the pool where to go, proxies there,
retries a failed idempotent request once on the next serving call center (if at least
the connect timeout of the budget is left), and otherwise answers `303 See Other` to
`/help/search?q=<topic words>`. A customer never gets a 502/504 page from us:
`support` turns even our own bugs into the self-help redirect.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlencode

from aiohttp import web

from failover.admission import InFlight, refusal
from failover.monitor import Monitor
from failover.pool import Event, Pool
from failover.proxy import Answered, NotSent, OutOfBudget, Proxy, ProxyPolicy
from failover.routing import OfferSelfHelp, SendToSelfHelp
from failover.target import BadTargetError, upstream_path
from kernel.body import ClientFaultError, read_body
from kernel.clock import Clock
from kernel.limits.identity import Identities
from kernel.logs import REQUEST_ID
from monitoring.http import DESTINATION, Wrap
from monitoring.metrics import Metrics

log = logging.getLogger("switchboard.frontdoor")

IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# The customer chose to go on to a DEGRADED call center instead of self-help.
CONTINUE_PARAM: Final = "sb_continue"
CONTINUE_COOKIE: Final = "sb_continue"
CONTINUE_COOKIE_AGE: Final = 30 * 60
MAX_TOPIC_WORDS: Final = 8
MAX_TOPIC_CHARS: Final = 120
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontDoor:
    """What the handlers need; built once by `switchboard.app.create_app`."""

    pool: Pool
    proxy: Proxy
    policy: ProxyPolicy
    clock: Clock
    metrics: Metrics
    monitor: Monitor
    observe: Callable[[Sequence[Event]], None]
    # Topic words of customers sent to self-help, for the trending boost.
    note_topic: Callable[[Sequence[str]], None] = lambda _: None
    # What one client may hold on the proxy path (failover/admission.py).
    in_flight: InFlight = field(default_factory=lambda: InFlight(limit=32))
    uploads: InFlight = field(default_factory=lambda: InFlight(limit=128))
    max_body_bytes: int = 1024**2
    body_timeout: float = 10.0
    # IPv6 clients grouped per network of this prefix (`[limits] ipv6_prefix`).
    ipv6_prefix: int = 64
    # Who a request counts against for `in_flight`, under the policy's trusted proxies.
    identities: Identities = field(init=False, repr=False)

    def __post_init__(self) -> None:
        identities = Identities(self.policy.trusted_proxies, ipv6_prefix=self.ipv6_prefix)
        object.__setattr__(self, "identities", identities)


FRONT_DOOR: Final = web.AppKey("front_door", FrontDoor)


def topic_words(tail: str) -> list[str]:
    """Words of the customer's path, for the self-help search: `router/wifi-drops` ->
    ["router", "wifi", "drops"]. Percent-decoded; bounded in count and length."""
    words = _WORD.findall(unquote(tail))[:MAX_TOPIC_WORDS]
    out: list[str] = []
    total = 0
    for raw in words:
        word = raw.lower()[:40]
        if total + len(word) > MAX_TOPIC_CHARS:
            break
        out.append(word)
        total += len(word) + 1
    return out


def self_help_location(tail: str, *, offer_continue: bool = False) -> str:
    """A same-site relative target, always: we build it, nothing of it is copied raw."""
    words = topic_words(tail)
    params: dict[str, str] = {}
    if words:
        params["q"] = " ".join(words)
    if offer_continue:
        # The page the customer asked for, as asked; the help page only ever renders it
        # as a link under /support/ (cache/web.py checks), so it cannot point off-site.
        params["continue"] = "/support/" + unquote(tail).lstrip("/")
    if not words:
        return "/help" + ("?" + urlencode(params) if params else "")
    return "/help/search?" + urlencode(params)


def _see_other(location: str) -> web.Response:
    return web.Response(
        status=303,
        text=f"See {location}\n",
        headers={"Location": location, "Cache-Control": "no-store"},
    )


def _continue_in_query(request: web.Request) -> bool:
    # A substring test first: the hot path never parses the query for this.
    return CONTINUE_PARAM in request.raw_path and request.query.get(CONTINUE_PARAM) == "1"


def _wants_continue(request: web.Request) -> bool:
    if _continue_in_query(request):
        return True
    return (
        CONTINUE_COOKIE in request.headers.get("Cookie", "")
        and request.cookies.get(CONTINUE_COOKIE) == "1"
    )


def _upstream_path(request: web.Request, mount: str) -> str:
    """The checked path under the mount, with the query minus our own parameter; from
    the parsed origin-form path, never the raw target (which may be a whole URL)."""
    url = request.rel_url
    query = url.raw_query_string
    if CONTINUE_PARAM in query and CONTINUE_PARAM in request.query:
        query = urlencode([(k, v) for k, v in request.query.items() if k != CONTINUE_PARAM])
    return upstream_path(url.raw_path, query, mount=mount)


async def support(request: web.Request) -> web.StreamResponse:
    """The customer entry. A fault of ours becomes the self-help redirect, not a 500; a
    fault of the client's is a 4xx with the reason, and no call center hears of it."""
    fd = request.app[FRONT_DOOR]
    try:
        return await _support(request, fd)
    except ClientFaultError as fault:
        fd.metrics.count_refused(fault.reason)
        return refusal(fault.status, fault.text)
    except Exception:
        log.exception("support handler failed; sending the customer to self-help")
        request[DESTINATION] = "self-help"
        return _see_other(self_help_location(request.match_info.get("tail", "")))


async def _support(request: web.Request, fd: FrontDoor) -> web.StreamResponse:
    try:
        path_qs = _upstream_path(request, fd.policy.mount)
    except BadTargetError as bad:
        raise ClientFaultError(400, "bad_target", str(bad)) from None
    client = fd.identities.of_request(request.remote, request.headers)
    if not fd.in_flight.enter(client):
        raise ClientFaultError(429, "client_in_flight", "too many requests in progress from you")
    try:
        return await _admitted(request, fd, path_qs)
    finally:
        fd.in_flight.leave(client)


async def _read_whole_body(request: web.Request, fd: FrontDoor) -> bytes | None:
    if not request.body_exists:
        return None
    if not fd.uploads.enter(""):
        raise ClientFaultError(503, "uploads_full", "too many uploads at once; try again")
    try:
        deadline = asyncio.get_running_loop().time() + fd.body_timeout
        return await read_body(request, limit=fd.max_body_bytes, deadline=deadline)
    finally:
        fd.uploads.leave("")


async def _admitted(request: web.Request, fd: FrontDoor, path_qs: str) -> web.StreamResponse:
    clock = fd.clock
    started = clock.monotonic()
    decision, change = fd.pool.route(now=started, wall=clock.wall)
    if change is not None:
        fd.observe([change])
    tail = request.match_info.get("tail", "")
    if isinstance(decision, SendToSelfHelp):
        return _to_self_help(request, fd, tail, cause=decision.cause.value)
    if (
        isinstance(decision, OfferSelfHelp)
        and request.method == "GET"
        and not _wants_continue(request)
    ):
        return _to_self_help(request, fd, tail, cause="degraded", offer_continue=True)
    idempotent = request.method in IDEMPOTENT
    targets = (
        [decision.callcenter, *decision.fallbacks[:1]] if idempotent else [decision.callcenter]
    )
    extra = None
    if _continue_in_query(request):
        extra = {
            "Set-Cookie": f"{CONTINUE_COOKIE}=1; Max-Age={CONTINUE_COOKIE_AGE}; "
            "Path=/support; HttpOnly; SameSite=Lax"
        }
    body = await _read_whole_body(request, fd)
    if body is not None:  # the budget is the call center's: it starts once the body is in
        started = clock.monotonic()
    policy = fd.proxy.policy  # reloadable: read once per request
    deadline = started + policy.budget
    request_id = REQUEST_ID.get()  # set by `observed`, which wraps this handler
    now = started
    for i, name in enumerate(targets):
        remaining = deadline - now
        if i and remaining < policy.connect_timeout:  # a retry could not even connect
            log.info("no retry at %s: %.3f s of the budget left", name, remaining,
                     extra={"event": "retry_skipped", "backend": name})  # fmt: skip
            break
        if i:
            fd.metrics.retries_total.labels(targets[i - 1]).inc()
        result = await fd.proxy.attempt(
            request, name, path_qs=path_qs, remaining=remaining, whole_budget=not i,
            body=body, extra_response_headers=extra, request_id=request_id,
        )  # fmt: skip
        now = clock.monotonic()
        if isinstance(result, NotSent):  # every connection busy: nothing of the call center's
            log.warning("no attempt at %s: %s", name, result.detail,
                        extra={"event": "attempt_not_sent", "backend": name})  # fmt: skip
            return _to_self_help(request, fd, tail, cause="busy")
        if isinstance(result, OutOfBudget):  # what was left ran out: nothing of its own
            log.info("attempt at %s ran out of the budget: %s", name, result.detail,
                     extra={"event": "attempt_out_of_budget", "backend": name})  # fmt: skip
            break
        fd.metrics.count_attempt(name, result.outcome.value)
        events = fd.pool.record_outcome(name, result.outcome, now=now)
        if events:
            fd.observe(events)
        if isinstance(result, Answered):
            request[DESTINATION] = name
            return result.response
        log.info(
            "attempt at %s failed: %s", name, result.detail,
            extra={"event": "attempt_failed", "backend": name,
                   "outcome": result.outcome.value, "reason": result.detail},
        )  # fmt: skip
    return _to_self_help(request, fd, tail, cause="upstream_failed")


def _to_self_help(
    request: web.Request, fd: FrontDoor, tail: str, *, cause: str, offer_continue: bool = False
) -> web.Response:
    request[DESTINATION] = "self-help"
    fd.metrics.selfhelp_redirects_total.labels(cause).inc()
    fd.note_topic(topic_words(tail))
    return _see_other(self_help_location(tail, offer_continue=offer_continue))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    fd = request.app[FRONT_DOOR]
    if fd.monitor.ready:
        return web.json_response({"ready": True})
    return web.json_response({"ready": False, "reason": "first probes not done yet"}, status=503)


def add_routes(app: web.Application, wrap: Wrap) -> None:
    app.router.add_route("*", "/support{tail:(?:/.*)?}", wrap("support", support))
    app.router.add_get("/healthz", wrap("healthz", healthz))
    app.router.add_get("/readyz", wrap("readyz", readyz))
