"""Per connection, before a handler runs: the header deadline and the connection caps.

aiohttp's server has no header deadline and no per-client connection cap: 300 connections
sending one header byte every 2 s stay open for ever (its keep-alive timer only closes a
connection that has sent nothing). `GuardedRequestHandler` adds:

- a header deadline (`server.header_timeout_ms`, nginx's `client_header_timeout`,
  HAProxy's `timeout http-request`): from the connection's start, or from the first byte
  of a later request on it, its headers must be complete in time, or it is closed;
- a cap on open connections per client address and in all (`server.max_connections*`),
  checked as a connection arrives; a trusted proxy (`server.trusted_proxies`) is one
  address for many customers, so it has no per-client cap.

aiohttp exposes no hook for either: `GuardedRequestHandler` subclasses its
`RequestHandler` and reads two of its attributes (`_request_count`, the requests parsed
on the connection; `_request_in_progress`). The lock pins aiohttp, and
tests/attacks/test_proxy_connections.py fails if a release changes them.
`failover/server.py` builds the runner that serves through these handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kernel.headers import IPNetwork, is_trusted
from kernel.limits.identity import client_identity

log = logging.getLogger("switchboard.server")

Count = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    header_timeout: float
    keepalive_timeout: float
    max_connections: int
    max_connections_per_client: int
    trusted: tuple[IPNetwork, ...] = ()
    mount: str = "/support"
    # An IPv6 client is its network of this prefix (`[limits] ipv6_prefix`), as for every
    # other limit: one /64 holds 2^64 addresses, each otherwise a client of its own.
    ipv6_prefix: int = 64


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
        # the TCP peer; an IPv6 one by its network of `[limits] ipv6_prefix`
        key = client_identity(peer, (), (), ipv6_prefix=self.limits.ipv6_prefix)
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
