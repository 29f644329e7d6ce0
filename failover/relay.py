"""A call center's answer passed on to the customer: whole, or streamed.

Response bodies up to `buffer_bytes` (with a known length, or chunked and ending within
it) are read whole before the customer sees a byte, so a failure while reading them can
still be retried elsewhere (`failover/proxy.py` decides that). Larger bodies are
streamed; once streaming has begun, a failure can only cut the connection (the status
line is gone), and it is counted against the call center.

A streamed body, once started, is bounded by `sock_read` between chunks, not by the
customer's budget: a large download on a slow phone must not be cut off. Each write to
the customer is bounded by `send_timeout` (nginx's `send_timeout`): aiohttp stops the
`sock_read` timer while reading is paused, so without it a customer who stops reading
held a pooled call-center connection and a proxy slot for ever (two such customers with
`max_connections = 2` sent everyone else to self-help). One who does is cut off, the
call-center connection closed and the slot freed; that is the customer's doing, so the
outcome is SUCCESS: nothing is counted against the call center.

The headers that go back are the call center's as
`kernel.headers.downstream_response_headers` rewrites them (a Location at the call
center goes through the front door again), plus the front door's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from kernel.body import read_at_most
from kernel.breaker import Outcome
from kernel.headers import downstream_response_headers

STREAM_CHUNK = 64 * 1024

log = logging.getLogger("switchboard.frontdoor")


class _CustomerStalledError(Exception):
    """A write to the customer did not go out within `send_timeout` (not an OSError:
    the handler below for a customer gone must not take it for one)."""


async def _send(response: web.StreamResponse, data: bytes | None, *, within: float) -> None:
    """Write `data` (None: the end of the body) within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            await (response.write(data) if data is not None else response.write_eof())
    except TimeoutError:
        raise _CustomerStalledError from None


def response_headers(
    upstream: aiohttp.ClientResponse,
    *,
    base: str,
    mount: str,
    extra: Mapping[str, str] | None,
    request_id: str | None,
    keep_content_length: bool,
) -> CIMultiDict[str]:
    headers = downstream_response_headers(
        upstream.headers,
        upstream_base=base,
        mount=mount,
        keep_content_length=keep_content_length,
        request_id=request_id,
    )
    if extra:
        headers.update(extra)
    return headers


def buffered(
    upstream: aiohttp.ClientResponse, body: bytes, headers: CIMultiDict[str]
) -> web.Response:
    """The whole answer, read: the connection goes back to the pool at once."""
    upstream.release()
    return web.Response(status=upstream.status, reason=upstream.reason, body=body, headers=headers)


async def stream(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
    *,
    prefix: bytes = b"",
    send_timeout: float,
) -> tuple[web.StreamResponse, Outcome]:
    """Relay the answer as it comes: `prefix` (what was read while trying to buffer it)
    first. LOCAL_FAILURE if the call center's body broke off after the status line.
    A write the customer does not take within `send_timeout` cuts its connection."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(headers)
    try:
        await response.prepare(request)
        if prefix:
            await _send(response, prefix, within=send_timeout)
        while True:
            try:
                chunk = await upstream.content.read(STREAM_CHUNK)
            except (aiohttp.ClientError, OSError, TimeoutError):
                # The status line is out: all that is left is to cut the connection,
                # so the customer's client sees a truncated body, not a short one.
                if request.transport is not None:
                    request.transport.close()
                return response, Outcome.LOCAL_FAILURE
            if not chunk:
                break
            await _send(response, chunk, within=send_timeout)
        await _send(response, None, within=send_timeout)
    except _CustomerStalledError:
        # Not close(): it would wait to flush what the customer is not reading.
        if request.transport is not None:
            request.transport.abort()
        log.info("customer stopped reading a streamed answer for %.1f s: cut off",
                 send_timeout, extra={"event": "send_timeout"})  # fmt: skip
    except (ConnectionResetError, OSError):
        pass  # the customer went away: not the call center's fault
    finally:
        # A connection with unread body cannot go back to the pool.
        if upstream.content.at_eof():
            upstream.release()
        else:
            upstream.close()
    return response, Outcome.SUCCESS


async def read_up_to(upstream: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body if it ends within `limit` bytes (True), else its first `limit + 1`."""
    answer = await read_at_most(upstream.content, limit + 1)
    return answer, len(answer) <= limit
