"""Active probe of one call center: `GET health_path`, classified by the core.

Every probe opens a fresh connection (the probe session is built with
`force_close=True`), as HAProxy's checks do: a pooled keep-alive connection would
keep answering after the call center stopped accepting new ones. The timeout is hard:
`ClientTimeout` with `sock_connect` and `sock_read` (a `total` alone can hang,
aiohttp #11740) inside an `asyncio.timeout` that bounds the whole probe.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

import aiohttp

from failover.health import FailureKind, ProbeResult
from kernel.body import read_at_most
from kernel.clock import Clock

# Health answers are small JSON documents; a huge body is a broken endpoint.
MAX_HEALTH_BODY: Final = 64 * 1024


def new_probe_session(*, limit: int = 32) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, force_close=True, ttl_dns_cache=60)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": "switchboard-probe/1", "Accept": "application/json"},
    )


async def probe(
    session: aiohttp.ClientSession, url: str, *, budget: float, clock: Clock
) -> ProbeResult:
    started = clock.monotonic()
    client_timeout = aiohttp.ClientTimeout(total=budget, sock_connect=budget, sock_read=budget)
    try:
        async with asyncio.timeout(budget):
            async with session.get(url, timeout=client_timeout, allow_redirects=False) as resp:
                # The whole body up to 64 KiB, waited for within the timeout (a body in two
                # chunks was cut after the first, failed to parse: "down" counted healthy).
                body = await read_at_most(resp.content, MAX_HEALTH_BODY)
                status = resp.status
    except TimeoutError:
        return ProbeResult(
            latency=clock.monotonic() - started,
            failure=FailureKind.TIMEOUT,
            detail=f"no answer within {budget * 1000:.0f} ms",
        )
    except (aiohttp.ClientError, OSError) as exc:
        return ProbeResult(
            latency=clock.monotonic() - started,
            failure=FailureKind.CONNECT,
            detail=f"{type(exc).__name__}: {exc}"[:200],
        )
    latency = clock.monotonic() - started
    if not 200 <= status < 300:
        return ProbeResult(
            latency=latency,
            http_status=status,
            failure=FailureKind.HTTP_STATUS,
            detail=f"HTTP {status}",
        )
    return _with_semantics(ProbeResult(latency=latency, http_status=status), body)


def _with_semantics(result: ProbeResult, body: bytes) -> ProbeResult:
    """Read the optional JSON fields of the contract; a plain 2xx is simply healthy."""
    try:
        doc = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        # Not the contract's JSON (or nested deeper than the parser goes: a 64 KiB body
        # of brackets): only the status code speaks. RecursionError escaped here before,
        # so the probe loop logged a traceback and the call center's state froze.
        return result
    if not isinstance(doc, dict):
        return result
    status = doc.get("status")
    agents = doc.get("agents_available")
    wait = doc.get("queue_wait_seconds")
    reported = status if isinstance(status, str) else None
    return ProbeResult(
        latency=result.latency,
        http_status=result.http_status,
        reported_status=reported,
        agents_available=agents if _is_number(agents) and isinstance(agents, int) else None,
        queue_wait_seconds=float(wait)
        if isinstance(wait, int | float) and _is_number(wait)
        else None,
        detail=f"status {reported}" if reported and reported != "ok" else "",
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
