"""The HTTP server in front of the app: what a connection may hold before a handler runs.

aiohttp's server has no header deadline and no per-client connection cap: 300 connections
sending one header byte every 2 s stay open for ever (its keep-alive timer only closes a
connection that has sent nothing). This module adds, per connection:

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

aiohttp exposes no hook for the first two: `GuardedRequestHandler` subclasses its
`RequestHandler` and reads two of its attributes (`_request_count`, the requests parsed
on the connection; `_request_in_progress`). The lock pins aiohttp, and
tests/attacks/test_proxy_connections.py fails if a release changes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from failover.admission import refusal
from failover.appkeys import METRICS, SETTINGS
from failover.headers import IPNetwork, is_trusted
from failover.limits.identity import client_identity
from failover.target import framing_problem, host_problem

log = logging.getLogger("switchboard.server")

Count = Callable[[str], None]
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    header_timeout: float
    keepalive_timeout: float
    max_connections: int
    max_connections_per_client: int
    trusted: tuple[IPNetwork, ...] = ()
    mount: str = "/support"


@dataclass(slots=True, kw_only=True)
class Connections:
    """Open connections, in all and per client key (the TCP peer)."""

    limits: ServerLimits
    total: int = 0
    by_client: dict[str, int] = field(default_factory=dict)

    def admit(self, peer: str | None) -> tuple[str | None, str | None]:
        """(key to release later, None) if admitted, else (None, reason)."""
        if self.total >= self.limits.max_connections:
            return None, "connection_limit"
        key = client_identity(peer, (), ())  # the TCP peer; an IPv6 one by its /64
        full = self.by_client.get(key, 0) >= self.limits.max_connections_per_client
        if full and not is_trusted(peer, self.limits.trusted):
            return None, "client_connection_limit"
        self.total += 1
        self.by_client[key] = self.by_client.get(key, 0) + 1
        return key, None

    def release(self, key: str) -> None:
        self.total -= 1
        left = self.by_client[key] - 1
        if left:
            self.by_client[key] = left
        else:
            del self.by_client[key]


@dataclass(slots=True, kw_only=True)
class Guard:
    """What every connection of one server shares."""

    limits: ServerLimits
    count: Count
    connections: Connections


class GuardedRequestHandler(web.RequestHandler):
    __slots__ = ("_sb_guard", "_sb_key", "_sb_quiet", "_sb_seen", "_sb_timer")

    def __init__(self, manager: web.Server, *, guard: Guard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._sb_guard = guard
        self._sb_key: str | None = None
        self._sb_seen = 0
        self._sb_timer: asyncio.TimerHandle | None = None
        self._sb_quiet = False

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request that aiohttp's parser refused (4xx) is the client's fault: counted
        and logged in one line, not as an ERROR with a traceback (no false alert)."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        self._sb_guard.count("malformed")
        log.info("refused a malformed request from %s: %s", request.remote,
                 str(exc or message)[:200].replace("\n", " "))  # fmt: skip
        self._sb_quiet = True
        try:
            return super().handle_error(request, status, exc, message)
        finally:
            self._sb_quiet = False

    def log_exception(self, *args: Any, **kw: Any) -> None:
        if not self._sb_quiet:
            super().log_exception(*args, **kw)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else None
        key, refused = self._sb_guard.connections.admit(address)
        if refused is not None:
            self._sb_guard.count(refused)
            self.force_close()
            return
        self._sb_key = key
        self._start_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._request_count != self._sb_seen:  # a request's headers are complete
            self._sb_seen = self._request_count
            self._stop_header_timer()
        elif self._sb_timer is None and not self._request_in_progress:
            self._start_header_timer()  # the first bytes of the next request

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_header_timer()
        if self._sb_key is not None:
            self._sb_guard.connections.release(self._sb_key)
            self._sb_key = None
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        if self.transport is None:
            return
        self._sb_timer = self._loop.call_later(
            self._sb_guard.limits.header_timeout, self._header_deadline
        )

    def _stop_header_timer(self) -> None:
        if self._sb_timer is not None:
            self._sb_timer.cancel()
            self._sb_timer = None

    def _header_deadline(self) -> None:
        self._sb_timer = None
        if self._request_count == self._sb_seen and not self._request_in_progress:
            self._sb_guard.count("header_timeout")
            self.force_close()


class GuardedServer(web.Server):
    def __init__(self, *args: Any, guard: Guard, handler_kwargs: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sb_guard = guard
        self._sb_handler_kwargs = handler_kwargs

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(
            self, loop=self._loop, guard=self._sb_guard, **self._sb_handler_kwargs
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
    )
    return GuardedRunner(app, limits=limits, count=metrics.count_refused, **kwargs)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `GuardedRequestHandler`s and whose requests
    pass `checked` before routing."""

    def __init__(
        self, app: web.Application, *, limits: ServerLimits, count: Count, **kwargs: Any
    ) -> None:
        handler_kwargs = {
            "keepalive_timeout": limits.keepalive_timeout,
            "auto_decompress": False,
            **{k: v for k, v in kwargs.items() if k in _HANDLER_KWARGS},
        }
        super().__init__(app, **kwargs, keepalive_timeout=limits.keepalive_timeout,
                         auto_decompress=False)  # fmt: skip
        self._sb_guard = Guard(limits=limits, count=count, connections=Connections(limits=limits))
        self._sb_handler_kwargs = handler_kwargs

    @property
    def connections(self) -> Connections:
        return self._sb_guard.connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # starts the app, freezes it
        return GuardedServer(
            checked(plain.request_handler, self._sb_guard),
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


def checked(handler: Handler, guard: Guard) -> Handler:
    mount = guard.limits.mount
    count = guard.count

    async def check(request: web.BaseRequest) -> web.StreamResponse:
        problem = request_problem(request, mount)
        if problem is not None:
            reason, status, text = problem
            count(reason)
            return refusal(status, text)
        return await handler(request)

    return check


def request_problem(request: web.BaseRequest, mount: str) -> tuple[str, int, str] | None:
    """(metric reason, status, text) for a request that must not go further."""
    headers = request.headers
    version = request.version
    framing = framing_problem(
        http10=version < (1, 1), has_transfer_encoding="Transfer-Encoding" in headers
    )
    if framing is not None:
        return "bad_framing", 400, framing
    hosts: Sequence[str] = headers.getall("Host", ())
    if len(hosts) > 1:
        return "bad_host", 400, "more than one Host header"
    host = host_problem(hosts[0] if hosts else None, http11=version >= (1, 1))
    if host is not None:
        return "bad_host", 400, host
    raw = request.raw_path
    if not raw.startswith("/"):
        target = _absolute_form_problem(raw)
        if target is not None:
            return "bad_target", 400, target
    encoding = headers.get("Content-Encoding")
    if encoding is not None and encoding.strip().lower() != "identity":
        path = request.rel_url.raw_path
        if not (path == mount or path.startswith(mount + "/")) and request.body_exists:
            return "content_encoding", 415, "request bodies are accepted uncompressed only"
    return None


def _absolute_form_problem(raw: str) -> str | None:
    """RFC 9112 3.2.2: a server must accept the absolute form; only its path and query
    are used here (the upstream URL never takes an authority from a client). Userinfo
    is refused (RFC 9110 4.2.4: treat it as an error)."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "unsupported request target"
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if "@" in authority:
        return "userinfo in request target"
    return None
