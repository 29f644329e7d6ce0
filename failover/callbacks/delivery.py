"""One callback to one call center: `POST callbacks_path`, JSON, `Idempotency-Key`.

The call center's answer decides what happens to the entry, and who is to blame:

- 2xx: `Delivered` (a duplicate key answered 200 is delivered too: the call center
  already has it). Only a 2xx to the POST itself: redirects are not followed.
- 400, 404, 405, 410, 413, 415, 422: `Rejected`. The call center says this request can
  never succeed; it goes to the dead-letter stream at once, with the reason.
- any other 4xx or 5xx, except those below: `EntryFailed`. Something about this entry
  fails; it is counted against the entry (dead-lettered after N) and the others go on.
- connection refused or reset, timeout, 408, 429, 502, 503, 504, any 3xx (a redirect,
  to a maintenance page say: following it would take that page's 200 for a delivery,
  and a 307 would post the customer's data wherever it points) and any status outside
  200-599: `Unreachable`, after bounded, jittered tenacity retries. The call center,
  not the entry, is in trouble: nothing is counted against the entry and the
  dispatcher backs off.

Of an answer that is not a 2xx, at most `EXCERPT_BYTES` are read, for the reason: an
error page of any size costs no more memory than that.

Each retry is reported (`on_retry`): a POST that timed out may have reached the call
center, so the one sent after it can arrive twice. That is the at-least-once window the
`Idempotency-Key` closes at the call center, and the count tells an operator how often
it is used.

Cancellation is never retried: tenacity retries only `_Transient`, and
`asyncio.CancelledError` is not one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from failover.callbacks.stream import Entry
from failover.settings.callbacks import DELIVERY_TRIES, RETRY_WAIT_BASE_MS, RETRY_WAIT_MAX_MS
from kernel.body import read_at_most

PERMANENT: Final = frozenset({400, 404, 405, 410, 413, 415, 422})
CALL_CENTER_TROUBLE: Final = frozenset({408, 429, 502, 503, 504})
# Per delivery attempt, for call-center trouble only. With the waits, they bound how long
# one delivery can take, which [callbacks] reclaim_idle_ms must exceed (settings).
TRIES: Final = DELIVERY_TRIES
EXCERPT_BYTES: Final = 4096  # of an answer's body, read for the reason (200 characters)


@dataclass(frozen=True, slots=True)
class Delivered:
    status: int


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


@dataclass(frozen=True, slots=True)
class EntryFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    reason: str


Outcome = Delivered | Rejected | EntryFailed | Unreachable


class _Transient(Exception):  # noqa: N818 - internal signal for tenacity
    pass


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:200]


class CallbackClient:
    """Posts callbacks on the app's one client session, bounded by `timeout`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Mapping[str, str],
        *,
        timeout: float,
        tries: int = TRIES,
        wait_max: float = RETRY_WAIT_MAX_MS / 1000,
        on_retry: Callable[[], None] = lambda: None,
    ) -> None:
        self._session = session
        self._urls = dict(urls)  # call-center name -> full callbacks URL
        # total and the per-phase limits: total alone can hang (aiohttp #11740).
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._tries = tries
        self._wait_max = wait_max
        self._on_retry = on_retry

    def set_urls(self, urls: Mapping[str, str]) -> None:
        """A configuration reload (issue 17): the callbacks URL of each call center now.
        A delivery under way keeps the URL it started with."""
        self._urls = dict(urls)

    async def deliver(self, callcenter: str, entry: Entry) -> Outcome:
        url = self._urls.get(callcenter)
        if url is None:
            return Unreachable(f"no callbacks URL for {callcenter!r}")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._tries),
            wait=wait_random_exponential(multiplier=RETRY_WAIT_BASE_MS / 1000, max=self._wait_max),
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda _: self._on_retry(),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post(url, entry)
        except _Transient as exc:
            return Unreachable(f"{callcenter}: {exc}")
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _post(self, url: str, entry: Entry) -> Outcome:
        headers = {"Content-Type": "application/json", "Idempotency-Key": entry.key}
        try:
            # Not following redirects: only the POST's own answer says it was delivered.
            async with self._session.post(
                url, data=entry.payload.encode(), headers=headers, timeout=self._timeout,
                allow_redirects=False,
            ) as resp:  # fmt: skip
                status = resp.status
                if 200 <= status < 300:
                    return Delivered(status)  # the body says nothing more
                text = await _excerpt_of(resp)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Transient(type(exc).__name__ + (f": {exc}" if str(exc) else "")) from exc
        reason = f"HTTP {status}: {text}"
        if status in CALL_CENTER_TROUBLE or not 400 <= status < 600:
            raise _Transient(reason)  # 3xx, 1xx, 600 and beyond: not about this entry
        if status in PERMANENT:
            return Rejected(reason)
        return EntryFailed(reason)


async def _excerpt_of(resp: aiohttp.ClientResponse) -> str:
    """The start of the answer's body, one line of at most 200 characters; at most
    `EXCERPT_BYTES` are read (the rest is not: the connection is closed, not reused)."""
    body = await read_at_most(resp.content, EXCERPT_BYTES)
    try:
        return _excerpt(body.decode(resp.charset or "utf-8", errors="replace"))
    except (LookupError, ValueError):  # charset unknown, not text (base64), or strict (idna)
        return _excerpt(body.decode("utf-8", errors="replace"))
