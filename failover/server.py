"""The HTTP server in front of the app: what a connection may hold before a handler runs.

aiohttp's server has no header deadline and no per-client connection cap: 300 connections
sending one header byte every 2 s stay open for ever (its keep-alive timer only closes a
connection that has sent nothing). The runner built here adds, per connection:

- a header deadline (`server.header_timeout_ms`, nginx's `client_header_timeout`,
  HAProxy's `timeout http-request`): from the connection's start, or from the first byte
  of a later request on it, its headers must be complete in time, or it is closed;
- a cap on open connections per client address and in all (`server.max_connections*`),
  checked as a connection arrives; a trusted proxy (`server.trusted_proxies`) is one
  address for many customers, so it has no per-client cap;
- request bodies are not decompressed (`auto_decompress=False`): the proxy relays them
  byte for byte with their own Content-Encoding and Content-Length; the front door's own
  routes refuse a compressed body with 415 (RFC 7694) instead of misreading it;
- the request checks of RFC 9112 that aiohttp's parser leaves to the application, made
  before routing so they cover every route and the 404s (`failover/target.py`).

Everything refused is counted in `switchboard_requests_refused_total{reason}`; none of it
reaches a call center, so none of it can count against one.

The first two are kept by the handler aiohttp's server makes for each connection
(`failover/connections.py`); the request checks are made here, before routing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from aiohttp import hdrs, web
from multidict import istr

from failover.admission import refusal
from failover.appkeys import AHEAD, METRICS, SETTINGS
from failover.connections import Connections, Count, Guard, GuardedServer, ServerLimits
from failover.target import absolute_form_problem, framing_problem, host_problem
from monitoring.http import Ahead

REFUSALS: Final = (
    "malformed",
    "bad_target",
    "bad_host",
    "bad_framing",
    "content_encoding",
    "connection_limit",
    "client_connection_limit",
    "header_timeout",
    "body_timeout",
    "body_too_large",
    "client_gone",
    "client_in_flight",
    "uploads_full",
)


def runner_for(app: web.Application, **kwargs: Any) -> GuardedRunner:
    """The runner for a front door app built by `create_app`, with its [server] limits;
    `kwargs` as for `web.AppRunner` (shutdown_timeout, access_log, ...)."""
    settings, metrics = app[SETTINGS], app[METRICS]
    s = settings.server
    for reason in REFUSALS:  # every series from the start, so rate() sees the first one
        metrics.refused_total.labels(reason)
    limits = ServerLimits(
        header_timeout=s.header_timeout_ms / 1000,
        keepalive_timeout=s.keepalive_timeout_ms / 1000,
        max_connections=s.max_connections,
        max_connections_per_client=s.max_connections_per_client,
        trusted=tuple(s.trusted_proxies),
        ipv6_prefix=settings.limits.ipv6_prefix,
    )
    return GuardedRunner(app, limits=limits, count=metrics.count_refused, ahead=app.get(AHEAD),
                         **kwargs)  # fmt: skip


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `GuardedRequestHandler`s and whose requests
    pass `checked` before routing (and `ahead`, if given, answers first when it can)."""

    def __init__(
        self, app: web.Application, *, limits: ServerLimits, count: Count,
        ahead: Ahead | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        handler_kwargs = {
            "keepalive_timeout": limits.keepalive_timeout,
            "auto_decompress": False,
            **{k: v for k, v in kwargs.items() if k in _HANDLER_KWARGS},
        }
        super().__init__(app, **kwargs, keepalive_timeout=limits.keepalive_timeout,
                         auto_decompress=False)  # fmt: skip
        self._sb_guard = Guard(limits=limits, count=count, connections=Connections(limits=limits))
        self._sb_handler_kwargs = handler_kwargs
        self._sb_ahead = ahead

    @property
    def connections(self) -> Connections:
        return self._sb_guard.connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the app, freezes it
        return GuardedServer(
            checked(plain.request_handler, self._sb_guard, self._sb_ahead),
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            guard=self._sb_guard,
            handler_kwargs=self._sb_handler_kwargs,
        )


# What `web.AppRunner(**kwargs)` passes on to each RequestHandler (aiohttp's docs, "Low
# level server": access_log*, logger, lingering_time, read_bufsize, max_* sizes, ...).
_HANDLER_KWARGS: Final = frozenset(
    {
        "access_log",
        "access_log_class",
        "access_log_format",
        "logger",
        "tcp_keepalive",
        "lingering_time",
        "read_bufsize",
        "max_line_size",
        "max_headers",
        "max_field_size",
        "timeout_ceil_threshold",
    }
)
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def checked(handler: Handler, guard: Guard, ahead: Ahead | None = None) -> Handler:
    """`handler` (the app's router) behind the request checks; `ahead` tried between
    the two: a checked request it answers (the cached bulletin page) goes no further."""
    mount = guard.limits.mount
    count = guard.count

    async def check(request: web.BaseRequest) -> web.StreamResponse:
        problem = request_problem(request, mount)
        if problem is not None:
            reason, status, text = problem
            count(reason)
            return refusal(status, text)
        if ahead is not None:
            response = ahead(request)
            if response is not None:
                return response
        return await handler(request)

    return check


_HOST_KEY: Final = istr(hdrs.HOST)  # a CIMultiDict takes an istr key faster
_TE_KEY: Final = istr(hdrs.TRANSFER_ENCODING)
_CE_KEY: Final = istr(hdrs.CONTENT_ENCODING)
_GOOD_HOSTS_MAX: Final = 256
# Host values found valid, so that the regex runs once per value, not once per request
# (bounded: cleared when full, as a client may send any number of distinct values).
_good_hosts: set[str] = set()


def request_problem(request: web.BaseRequest, mount: str) -> tuple[str, int, str] | None:
    """(metric reason, status, text) for a request that must not go further."""
    headers = request.headers
    version = request.version
    if version < (1, 1):
        framing = framing_problem(http10=True, has_transfer_encoding=_TE_KEY in headers)
        if framing is not None:
            return "bad_framing", 400, framing
    hosts: Sequence[str] = headers.getall(_HOST_KEY, ())
    if len(hosts) != 1 or hosts[0] not in _good_hosts:
        problem = _host_problem(hosts, http11=version >= (1, 1))
        if problem is not None:
            return problem
    raw = request.raw_path
    if not raw.startswith("/"):
        target = absolute_form_problem(raw)
        if target is not None:
            return "bad_target", 400, target
    encoding = headers.get(_CE_KEY)
    if encoding is not None and encoding.strip().lower() != "identity":
        path = request.rel_url.raw_path
        if not (path == mount or path.startswith(mount + "/")) and request.body_exists:
            return "content_encoding", 415, "request bodies are accepted uncompressed only"
    return None


def _host_problem(hosts: Sequence[str], *, http11: bool) -> tuple[str, int, str] | None:
    if len(hosts) > 1:
        return "bad_host", 400, "more than one Host header"
    host = host_problem(hosts[0] if hosts else None, http11=http11)
    if host is not None:
        return "bad_host", 400, host
    if hosts:
        if len(_good_hosts) >= _GOOD_HOSTS_MAX:
            _good_hosts.clear()
        _good_hosts.add(hosts[0])
    return None
