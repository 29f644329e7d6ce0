"""Rendered pages as values (pure): the bytes with their ETag, and the outage banner
every page shows, with the key cached pages are kept under."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    active: bool
    since: datetime | None = None
    reason: str = ""


OutageInfo = Callable[[], Outage]


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str


def outage_key(outage: Outage) -> tuple[bool, str]:
    return (outage.active, outage.since.isoformat() if outage.since else "")
