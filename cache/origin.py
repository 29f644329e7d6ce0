"""The community origin: a client for the Discourse JSON API the self-help layer caches.

Reads ``GET /latest.json?page=N`` (topic lists), ``GET /t/{id}.json`` (a topic: its first
post is the bulletin) and ``GET /categories.json`` (category names, loaded once and cached).
Parsing is pure and lives in ``cache.discourse`` (re-exported here: ``parse_latest``,
``parse_topic``, ``parse_categories``, ``html_to_text``, ``LatestPage``, ``TopicSummary``).

Errors::

    OriginError                  anything wrong with the origin, as this module sees it
    ├── OriginUnavailable        connect error, timeout, HTTP 5xx or 429, after `attempts` tries
    │                            (``status`` is the HTTP status, None for local failures)
    ├── OriginNotFound           HTTP 404 or 410: no such topic, or one an anonymous visitor
    │                            would not see (a private message...: issue 19); never retried
    └── OriginBadResponse        not JSON, not the expected shape, other status; never retried
                                 (``reason``: status, too_large, not_json, too_deep, shape,
                                 wrong_topic: a bounded metric label)

Every request is bounded by the caller's ``ClientTimeout``, which must set ``sock_connect``
and ``sock_read`` (``total`` alone can hang: aiohttp #11740). Retries use tenacity: a bounded
``stop_after_attempt``, jittered ``wait_random_exponential``, only for ``OriginUnavailable``
(``CancelledError`` and 404s pass straight through).

Hostile answers are refused in bounded time and memory (issue 14): a body is read up to
`MAX_BODY_BYTES`, JSON nested past the parser's stack is `too_deep` (Python's json raises
RecursionError there, not ValueError), a topic answer for another topic than the one asked
is `wrong_topic`, and a topic list is walked for at most `MAX_TOPIC_IDS` ids. Parsing a
body holds the event loop (about 11 ms a MiB of JSON objects here), which the cap bounds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from cache.discourse import (
    EXCERPT_CHARS,
    UNCATEGORIZED,
    LatestPage,
    ShapeError,
    TopicSummary,
    excerpt_of,
    html_to_text,
    parse_categories,
    parse_latest,
    parse_topic,
    topic_category_id,
)
from cache.model import Bulletin
from cache.visibility import NotPublicError, restricted_categories

__all__ = [
    "EXCERPT_CHARS",
    "UNCATEGORIZED",
    "DiscourseClient",
    "LatestPage",
    "OriginBadResponse",
    "OriginError",
    "OriginNotFound",
    "OriginUnavailable",
    "ShapeError",
    "TopicSummary",
    "excerpt_of",
    "html_to_text",
    "parse_categories",
    "parse_latest",
    "parse_topic",
]

# A topic answer carries its first 20 posts: a few hundred KiB at most for long ones.
MAX_BODY_BYTES: Final = 2 * 1024 * 1024
MAX_TOPIC_IDS: Final = 5_000  # 50 latest pages of 30 is 1,500; a hostile list stops here
_BACKOFF_S: Final = 0.1  # first retry waits up to 0.1 s, then 0.2 s, ... (full jitter)
_BACKOFF_MAX_S: Final = 2.0
_HEADERS: Final = {"Accept": "application/json", "User-Agent": "switchboard-selfhelp/0.1"}


class OriginError(Exception):
    """Root of this module's errors."""


# N818 (Error suffix) waived, as in cache/store.py: the names read as the origin's state.
class OriginUnavailable(OriginError):  # noqa: N818
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # HTTP status for origin-side failures, None for local ones


class OriginNotFound(OriginError):  # noqa: N818
    pass


class OriginBadResponse(OriginError):  # noqa: N818
    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # a metric label (monitoring/degraded.py BAD_RESPONSE_REASONS)


@contextmanager
def _reading(path: str) -> Iterator[None]:
    try:
        yield
    except ShapeError as exc:
        raise OriginBadResponse(f"GET {path}: {exc}", reason=exc.reason) from exc


# --- the client ------------------------------------------------------------------------------


class DiscourseClient:
    """Reads one Discourse site over the caller's session; safe to share between tasks."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout: aiohttp.ClientTimeout,
        attempts: int = 2,
    ) -> None:
        if timeout.sock_connect is None or timeout.sock_read is None:
            raise ValueError("timeout must set sock_connect and sock_read (aiohttp #11740)")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._attempts = attempts
        self._categories: dict[int, str] | None = None
        self._restricted: frozenset[int] = frozenset()  # read-restricted category ids
        self._categories_lock = asyncio.Lock()
        self._refreshed_for: set[int] = set()

    @property
    def base_url(self) -> str:
        return self._base

    async def latest(self, page: int = 0) -> LatestPage:
        if page < 0:
            raise ValueError(f"page must be >= 0, got {page}")
        doc = await self._get_json("/latest.json", {"page": str(page)})
        with _reading(f"/latest.json?page={page}"):
            return parse_latest(doc)

    async def topic(self, topic_id: int) -> Bulletin:
        path = f"/t/{int(topic_id)}.json"
        doc = await self._get_json(path)
        with _reading(path):
            category_id = topic_category_id(doc)
        categories = await self._category_map()
        # A category created after we loaded the map: reload it, once per unknown id.
        if category_id is not None and category_id not in categories.keys() | self._refreshed_for:
            self._refreshed_for.add(category_id)
            categories = await self._category_map(refresh=True)
        if category_id in self._restricted:  # a staff or members-only category (issue 19)
            raise OriginNotFound(f"GET {path}: category {category_id} is read-restricted")
        try:
            with _reading(path):
                bulletin = parse_topic(doc, categories)
        except NotPublicError as exc:
            raise OriginNotFound(f"GET {path}: {exc}") from None
        if bulletin.id != int(topic_id):
            raise OriginBadResponse(
                f"GET {path}: the answer is topic {bulletin.id}", reason="wrong_topic"
            )
        return bulletin

    async def categories(self) -> dict[int, str]:
        return dict(await self._category_map())

    async def all_topic_ids(self, max_pages: int = 50) -> list[int]:
        """Topic ids from walking the latest pages, newest bump first, without duplicates."""
        seen: dict[int, None] = {}
        for page in range(max_pages):
            listing = await self.latest(page)
            seen.update(dict.fromkeys(t.id for t in listing.topics))
            if not listing.more or not listing.topics or len(seen) >= MAX_TOPIC_IDS:
                break
        return list(seen)[:MAX_TOPIC_IDS]

    async def _category_map(self, *, refresh: bool = False) -> dict[int, str]:
        async with self._categories_lock:
            if self._categories is None or refresh:
                doc = await self._get_json("/categories.json", {"include_subcategories": "true"})
                with _reading("/categories.json"):
                    self._categories = parse_categories(doc)
                self._restricted = restricted_categories(doc)
            return self._categories

    async def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> object:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=_BACKOFF_S, max=_BACKOFF_MAX_S),
            retry=retry_if_exception_type(OriginUnavailable),
            reraise=True,
        )
        return await retrying(self._get_once, path, params)

    async def _get_once(self, path: str, params: Mapping[str, str] | None) -> object:
        try:
            async with self._session.get(
                f"{self._base}{path}",
                params=params,
                headers=_HEADERS,
                timeout=self._timeout,
                raise_for_status=False,
            ) as resp:
                if resp.status in (404, 410):
                    raise OriginNotFound(f"GET {path}: HTTP {resp.status}")
                if resp.status == 429 or resp.status >= 500:
                    raise OriginUnavailable(f"GET {path}: HTTP {resp.status}", status=resp.status)
                if resp.status != 200:
                    raise OriginBadResponse(
                        f"GET {path}: unexpected HTTP {resp.status}", reason="status"
                    )
                body = await _read_capped(resp, path)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise OriginUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        try:
            doc = json.loads(body)
            # JSON may write a lone surrogate ("\ud800"), which is no text: it would fail
            # later, in quote() or on a page's encode(). Refused whole, as invalid UTF-8 is.
            json.dumps(doc, ensure_ascii=False).encode()
        except ValueError as exc:  # includes UnicodeDecodeError and UnicodeEncodeError
            raise OriginBadResponse(
                f"GET {path}: body is not JSON ({exc})", reason="not_json"
            ) from None
        except RecursionError:
            raise OriginBadResponse(
                f"GET {path}: JSON nested too deep", reason="too_deep"
            ) from None
        return doc


async def _read_capped(resp: aiohttp.ClientResponse, path: str) -> bytes:
    if resp.content_length is not None and resp.content_length > MAX_BODY_BYTES:
        raise OriginBadResponse(
            f"GET {path}: body of {resp.content_length} bytes is too large", reason="too_large"
        )
    body = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise OriginBadResponse(
                f"GET {path}: body over {MAX_BODY_BYTES} bytes", reason="too_large"
            )
    return bytes(body)
