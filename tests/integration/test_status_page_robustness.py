"""`/status` and `/api/v1/status` against real servers when things go wrong: neither may
break when a part cannot be read (Redis killed, a part that fails shows as unknown), hostile
text is escaped, and the timeline and audit lists are capped, newest first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from failover.admin import SWITCHBOARD
from failover.status import LIMIT
from tests.integration.test_status_page_state import (
    TOKEN,
    admin,
    card,
    events,
    extra,
    facts,
    page,
    section,
    text,
)
from tests.support.redis import RedisServer
from tests.support.stack import running_stack


async def test_with_redis_killed_the_page_is_still_200_and_says_redis_is_unreachable(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await admin(s, stack, "/admin/callcenters/primary/drain", {"on": True})
        await redis.kill()

        started = time.monotonic()
        resp, body = await page(s, stack)
        took = time.monotonic() - started

        assert resp.status == 200
        assert took < 3, f"the page took {took:.1f} s with Redis dead"
        assert "Redis UNREACHABLE" in section(body, "cache")
        # The audit log falls back to this replica's own copy.
        assert events(body, "admin")[0].startswith("alice: drain primary")
        assert card(body, "backup").startswith("backup SERVING")
        data = await facts(s, stack)
        assert data["redis"] == {"configured": True, "reachable": False}


async def test_a_part_that_fails_shows_as_unknown_and_the_rest_still_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(None), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):

        async def broken(limit: int = 50) -> list[Any]:
            raise RuntimeError("audit log on fire")

        monkeypatch.setattr(stack.app[SWITCHBOARD], "recent", broken)
        resp, body = await page(s, stack)
        assert resp.status == 200
        assert "UNKNOWN The audit log could not be read" in section(body, "admin")
        assert "Could not read: admin_log" in text(body)
        assert "NORMAL Call center primary" in section(body, "outcome")
        data = await facts(s, stack)
        assert (data["unknown"], data["admin_log"], data["destination"]) == (
            ["admin_log"], None, "primary",
        )  # fmt: skip


async def test_hostile_text_is_escaped_on_the_page(tmp_path: Path, redis: RedisServer) -> None:
    hostile = '<script>alert("reason")</script><img src=x onerror=alert(1)>'
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await admin(s, stack, "/admin/override", {"mode": "self-help", "reason": hostile},
                    actor="<b>mallory</b>")  # fmt: skip
        _, body = await page(s, stack)
        assert "<script" not in body
        assert "<img" not in body
        assert "<b>mallory" not in body
        assert "&lt;script&gt;alert(&#34;reason&#34;)&lt;/script&gt;" in body
        assert f"Reason {hostile}" in section(body, "switches")  # shown as text, intact
        assert events(body, "admin")[0].startswith("<b>mallory</b>: override self-help")


async def test_the_timeline_and_audit_lists_are_capped_newest_first(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        rounds = LIMIT + 5
        for i in range(rounds):
            await admin(s, stack, "/admin/callcenters/backup/drain", {"on": i % 2 == 0})
        data = await facts(s, stack)
        _, body = await page(s, stack)
        assert len(data["admin_log"]) == LIMIT
        assert len(data["timeline"]) == LIMIT
        assert len(events(body, "admin")) == LIMIT
        assert len(events(body, "timeline")) == LIMIT
        last_on = (rounds - 1) % 2 == 0
        assert data["admin_log"][0]["detail"] == f"on={str(last_on).lower()}"
        newest = data["timeline"][0]
        assert (newest["switch"], newest["value"]) == ("drained", str(last_on).lower())
