"""One proxied attempt at one call center.

The caller (web.py) decides where to go and whether to retry; this module only carries
one request there and reports what happened, keeping backend-originated failures (a
5xx answer) apart from local-origin ones (refused, reset, timeout), as Envoy does.

The upstream URL is built from parts: scheme, host and port of the configured base, its
path, then the customer's checked path (`failover/target.py`). The request body comes
already read (`failover/admission.py`), so it is relayed byte for byte, with its own
Content-Encoding, and a failure while sending it is never the client's doing. A free
connection is waited for within the budget; none free is `NotSent`, which says nothing
about the call center and counts against none.

Response bodies up to `buffer_bytes` are read whole before the customer sees a byte, so
a failure while reading them can still be retried elsewhere; larger ones are streamed
(`failover/relay.py`).

Timeouts: aiohttp's `sock_connect` and `sock_read` bound each phase of every attempt
(`ClientTimeout(total=...)` alone can hang, aiohttp #11740), always at their configured
values: running out of one is the call center's fault. The customer's budget is kept
by one `asyncio.timeout_at` around everything before the customer sees a byte: the
connection, the status line and headers, and a buffered body. `sock_read` alone cannot
keep it: it starts again with every chunk, so a call center sending a header line a
second held a customer for as long as it liked. A streamed body is not bounded by the
budget (`failover/relay.py`).

Who the budget running out counts against: the call center, if its attempt had the
whole budget (the request's first, sent without waiting for a connection): it used
the budget up itself. A later attempt only had what the first left, and a call center
on time by its own bounds may still need more than that: `OutOfBudget`, nothing is
recorded against it, as for `NotSent`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from failover.relay import buffered, read_up_to, response_headers, stream
from failover.target import Origin, upstream_url
from kernel.breaker import Outcome, outcome_of_status
from kernel.headers import IPNetwork, upstream_request_headers


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyPolicy:
    connect_timeout: float
    read_timeout: float
    budget: float
    buffer_bytes: int
    send_timeout: float = 60.0  # each write of a streamed answer to the customer
    trusted_proxies: tuple[IPNetwork, ...] = ()
    mount: str = "/support"
    max_connections: int = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """The call center answered and the customer has (or is about to get) its answer."""

    response: web.StreamResponse
    status: int
    outcome: Outcome  # SUCCESS, or BACKEND_FAILURE for a 5xx passed through / cut stream


@dataclass(frozen=True, slots=True, kw_only=True)
class NotSent:
    """Nothing left the front door: no free connection within the budget (ours, not the
    call center's doing: nothing is recorded against it)."""

    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutOfBudget:
    """The request's deadline ended an attempt that did not have the whole budget: the
    call center was not given the time it is promised, so nothing is recorded against
    it. Nothing was sent to the customer."""

    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """Nothing was sent to the customer: the caller may retry or send to self-help."""

    outcome: Outcome
    status: int | None
    detail: str


def new_proxy_session(*, max_connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=max_connections, limit_per_host=max_connections, ttl_dns_cache=60
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # customers' cookies are theirs, not ours
        auto_decompress=False,  # pass bytes through as the call center encoded them
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
    )


class Proxy:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Mapping[str, str],
        policy: ProxyPolicy,
    ) -> None:
        self._session = session
        # One slot per pooled connection: waiting for one is bounded by the budget here,
        # where running out is known to be ours, not inside aiohttp's connector.
        self._slots = asyncio.Semaphore(max(1, policy.max_connections))
        self.reconfigure(bases, policy)

    def reconfigure(self, bases: Mapping[str, str], policy: ProxyPolicy) -> None:
        """A configuration reload (issue 17): new call-center URLs and timeouts, for the
        attempts that start from now on. One under way keeps the URL and timeouts it
        started with (read once, at its start). `max_connections` is not reloadable
        (the connector's limit is fixed when the session opens)."""
        self._bases = {name: base.rstrip("/") for name, base in bases.items()}
        self._origins = {name: Origin.of(URL(base)) for name, base in bases.items()}
        self._policy = policy
        # Every attempt's: the budget is kept by `asyncio.timeout_at` (module docstring).
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=policy.connect_timeout, sock_read=policy.read_timeout
        )

    @property
    def policy(self) -> ProxyPolicy:
        """The policy in force (a reload may replace it)."""
        return self._policy

    async def attempt(
        self,
        request: web.Request,
        name: str,
        *,
        path_qs: str,
        remaining: float,
        whole_budget: bool,
        body: bytes | None = None,
        extra_response_headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Answered | Failed | NotSent | OutOfBudget:
        """Send the request to `name`. A 5xx answer comes back as `Failed`, like a
        refused connection: the caller retries elsewhere or sends the customer to
        self-help; an error page from a failing call center is never passed on.
        `path_qs` is the checked path under the mount, with its query (`target.py`);
        `body` the whole request body, already read. `whole_budget`: `remaining` is
        the request's whole budget (its first attempt), so running out of it is the
        call center's doing.
        `request_id` goes to the call center and back to the customer as `X-Request-ID`
        (set here, not by the caller: a streamed answer's headers leave from here)."""
        if remaining <= 0:
            return OutOfBudget(detail="budget spent")
        deadline = asyncio.get_running_loop().time() + remaining
        slots = self._slots
        if slots.locked():
            whole_budget = False  # some of it goes on waiting for a connection: ours
            try:
                async with asyncio.timeout_at(deadline):
                    await slots.acquire()
            except TimeoutError:
                return NotSent(detail="no free call-center connection within the budget")
        else:
            await slots.acquire()  # one is free: returns at once
        try:
            return await self._attempt(
                request, name, path_qs=path_qs, deadline=deadline, whole_budget=whole_budget,
                body=body, extra=extra_response_headers, request_id=request_id,
            )  # fmt: skip
        finally:
            slots.release()

    async def _attempt(
        self,
        request: web.Request,
        name: str,
        *,
        path_qs: str,
        deadline: float,
        whole_budget: bool,
        body: bytes | None,
        extra: Mapping[str, str] | None,
        request_id: str | None,
    ) -> Answered | Failed | OutOfBudget:
        p = self._policy
        base = self._bases.get(name)
        if base is None:  # removed by a reload since the route was chosen: try the next
            return Failed(outcome=Outcome.LOCAL_FAILURE, status=None, detail="not configured")
        url = upstream_url(self._origins[name], path_qs)
        headers = upstream_request_headers(
            request.headers,
            peer=request.remote,
            scheme=request.scheme,
            host=request.headers.get("Host"),
            trusted=p.trusted_proxies,
            keep_content_length=False,
            request_id=request_id,
        )
        send = self._session.request(
            request.method,
            url,
            headers=headers,
            data=body,
            allow_redirects=False,
            timeout=self._timeout,
        )
        upstream: aiohttp.ClientResponse | None = None
        budget = asyncio.timeout_at(deadline)
        try:
            async with budget:
                upstream = await send
                outcome = outcome_of_status(upstream.status)
                if outcome is not Outcome.SUCCESS:
                    upstream.release()
                    status = upstream.status
                    return Failed(outcome=outcome, status=status, detail=f"HTTP {status}")
                length = upstream.content_length
                if length is not None and length > p.buffer_bytes:
                    answer, whole = b"", False  # streamed from its first byte
                elif upstream.content.is_eof():
                    answer, whole = await upstream.read(), True  # arrived with the headers
                else:
                    answer, whole = await read_up_to(upstream, p.buffer_bytes)
        except TimeoutError:
            _close(upstream)
            if not budget.expired():  # sock_connect or sock_read: the call center's own
                return Failed(outcome=Outcome.LOCAL_FAILURE, status=None, detail="timeout")
            if whole_budget:  # it had the whole budget and used it up
                return Failed(outcome=Outcome.LOCAL_FAILURE, status=None, detail="budget ran out")
            return OutOfBudget(detail="the budget left to this attempt ran out")
        except (aiohttp.ClientError, OSError) as exc:
            _close(upstream)
            detail = f"{type(exc).__name__}: {exc}"[:200]
            return Failed(outcome=Outcome.LOCAL_FAILURE, status=None, detail=detail)
        if whole:
            return self._buffered(upstream, answer, base, extra, request_id)
        return await self._stream(request, upstream, base, extra, request_id, prefix=answer)

    def _headers(
        self,
        upstream: aiohttp.ClientResponse,
        base: str,
        extra: Mapping[str, str] | None,
        request_id: str | None,
        *,
        keep_content_length: bool,
    ) -> CIMultiDict[str]:
        return response_headers(upstream, base=base, mount=self._policy.mount, extra=extra,
                                request_id=request_id,
                                keep_content_length=keep_content_length)  # fmt: skip

    def _buffered(
        self,
        upstream: aiohttp.ClientResponse,
        body: bytes,
        base: str,
        extra: Mapping[str, str] | None,
        request_id: str | None,
    ) -> Answered:
        headers = self._headers(upstream, base, extra, request_id, keep_content_length=False)
        response = buffered(upstream, body, headers)
        return Answered(response=response, status=upstream.status, outcome=Outcome.SUCCESS)

    async def _stream(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        base: str,
        extra: Mapping[str, str] | None,
        request_id: str | None,
        *,
        prefix: bytes = b"",
    ) -> Answered:
        headers = self._headers(upstream, base, extra, request_id, keep_content_length=True)
        response, outcome = await stream(
            request, upstream, headers, prefix=prefix, send_timeout=self._policy.send_timeout
        )
        return Answered(response=response, status=upstream.status, outcome=outcome)


def _close(upstream: aiohttp.ClientResponse | None) -> None:
    if upstream is not None:
        upstream.close()
