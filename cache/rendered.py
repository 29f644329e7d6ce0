"""Rendered pages as values (pure): the bytes with their ETag, and the outage banner
every page shows, with the key cached pages are kept under: whether there is an outage,
since when, and the step of its duration the banner shows (cache/when.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cache.when import outage_step


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    active: bool
    since: datetime | None = None
    reason: str = ""
    message: str = ""  # the operator's line for the banner ([branding] message, /admin/message)


OutageInfo = Callable[[], Outage]


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str
    gzip: bytes | None = None  # the same page gzipped, made once (cache/encoding.py)
    gzip_etag: str = ""


def outage_key(outage: Outage, now: float) -> tuple[bool, str, int, str]:
    """What of the outage a page shows (the operator's message too): a page cached
    under another key is out of date (its banner, and so its ETag, differ)."""
    if not outage.active:
        return (False, "", 0, outage.message)
    since = outage.since
    return (True, since.isoformat() if since else "", outage_step(since, now), outage.message)
