"""An operator's text that is not text, against real servers and a real redis-server: an
override's `reason` is cleaned as the banner message is (docs/operations.md, "Act"), and
what is read back from Redis (the stored override, the audit log: shared, outliving
restarts and versions) is cleaned too, so `/status` keeps its promise, never a 5xx
(failover/status_page.py). Before the fix, `{"reason": "maint \\ud800"}` (a lone
surrogate: valid JSON, no text) was accepted and stored, and the operator `/status`
answered 500 while the entry stayed in the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from failover.admin import SWITCHBOARD
from failover.switch_state import AuditEntry
from failover.switches import LOG, SWITCHES, VERSION
from tests.integration.test_status_page_state import (
    ADMIN,
    TOKEN,
    events,
    extra,
    page,
    section,
)
from tests.support.redis import RedisServer
from tests.support.stack import Stack, running_stack, wait_for


def entry(**fields: str) -> str:
    """An audit entry as the log stores it (JSON: a lone surrogate as its \\u escape)."""
    base = {"at": "2026-12-06T01:00:00+00:00", "actor": "bob", "remote": "10.0.0.9",
            "action": "drain", "target": "primary", "detail": "on=true",
            "replica": "r9"}  # fmt: skip
    return json.dumps(base | fields)


async def override(s: aiohttp.ClientSession, stack: Stack, body: bytes) -> tuple[int, str]:
    async with s.post(f"{stack.ops_url}/admin/override", headers=ADMIN, data=body) as resp:
        return resp.status, await resp.text()


async def test_a_reason_that_is_not_plain_text_is_cleaned_as_the_banner_message_is(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis_server), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        status, answer = await override(
            s, stack, b'{"mode": "self-help", "reason": "maint \\ud800\\nuntil\\t18:00 "}'
        )
        assert status == 200, answer
        assert json.loads(answer)["reason"] == "maint until 18:00"
        o = stack.pool.snapshot().override
        assert o is not None
        assert o.reason == "maint until 18:00"
        async with s.get(f"{stack.ops_url}/admin/log", headers=ADMIN) as resp:
            assert (await resp.json())["entries"][0]["detail"] == "maint until 18:00"
        resp, body = await page(s, stack)
        assert resp.status == 200
        assert "Reason maint until 18:00" in section(body, "switches")
        # The length rule is the message's too: more than 200 characters is a 400.
        too_long = {"mode": "self-help", "reason": "x" * 201}
        status, _ = await override(s, stack, json.dumps(too_long).encode())
        assert status == 400


async def test_text_that_is_not_text_stored_in_redis_does_not_make_status_a_5xx(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis_server), token=TOKEN) as stack,
        Redis.from_url(redis_server.url) as redis,
        aiohttp.ClientSession() as s,
    ):
        # Written straight into Redis, as another replica (or an older version) might.
        await redis.lpush(LOG, entry(actor="mallory \ud800", detail="maint \udfff\x07"))
        stored = {"kind": "force_self_help", "callcenter": None, "reason": "forced \ud800"}
        await redis.hset(SWITCHES, "override", json.dumps(stored))
        await redis.incr(VERSION)
        await wait_for(lambda: stack.pool.snapshot().override is not None, within=3,
                       what="the stored override applied")  # fmt: skip
        resp, body = await page(s, stack)
        assert resp.status == 200, body[:500]
        assert "Reason forced" in section(body, "switches")
        assert events(body, "admin")[0].startswith("mallory: drain primary (maint) ")
        async with s.get(f"{stack.ops_url}/api/v1/status", headers=ADMIN) as resp:
            assert resp.status == 200
            assert (await resp.json())["admin_log"][0]["detail"] == "maint"


async def test_a_stored_audit_entry_that_is_not_one_is_skipped_and_the_rest_is_shown(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis_server), token=TOKEN) as stack,
        Redis.from_url(redis_server.url) as redis,
        aiohttp.ClientSession() as s,
    ):
        await redis.lpush(LOG, entry(actor="carol"))  # another replica's, not in ours
        not_text = json.dumps(json.loads(entry()) | {"detail": 7})
        for bad in (b"\xff not UTF-8", b"[" * 20_000 + b"]" * 20_000, b"[1]", not_text,
                    b'{"at": "now"}'):  # fmt: skip
            await redis.lpush(LOG, bad)
        resp, body = await page(s, stack)
        assert resp.status == 200
        shown = events(body, "admin")
        # The good one, from the shared log (this replica's own copy has none).
        assert len(shown) == 1
        assert shown[0].startswith("carol: drain primary (on=true) ")


async def test_a_page_that_cannot_be_encoded_is_the_fallback_not_a_5xx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(None), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        poisoned = AuditEntry(at="2026-12-06T01:00:00+00:00", actor="x\ud800", remote="?",
                              action="drain", target="primary", detail="",
                              replica="r0")  # fmt: skip

        async def recent(limit: int = 50) -> list[AuditEntry]:
            return [poisoned]  # past every cleaning: the page's own guard is what is tested

        monkeypatch.setattr(stack.app[SWITCHBOARD], "recent", recent)
        resp, body = await page(s, stack)
        assert resp.status == 200
        assert "Switchboard status: unknown" in body
