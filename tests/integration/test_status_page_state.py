"""`/status` (HTML for SREs) and `/api/v1/status` (JSON) against real servers, on what they
show: a call center going down and the failover with its reason, an override and the
switches in force, and the two answers agreeing (both come from one gather). The call
centers are simulators behind fault proxies, Redis is a real redis-server.

Most tests read the operator view (the admin token): who did what, and the probes' error
texts, are only there since issue 14; what the public view leaves out is checked here
too, and in tests/attacks/test_pages_status_leaks.py."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import aiohttp

from failover.routing import SELF_HELP
from failover.status_page import when
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

TOKEN = "admin-token-" + "s" * 20
ADMIN = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "alice"}
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
ROUTING = "[routing]\nhold_down_ms = 0\n"


def extra(redis: RedisServer | None) -> str:
    return FAST_HEALTH + ROUTING + (f'[redis]\nurl = "{redis.url}"\n' if redis else "")


async def page(
    s: aiohttp.ClientSession, stack: Stack, headers: dict[str, str] = OPERATOR
) -> tuple[aiohttp.ClientResponse, str]:
    async with s.get(f"{stack.ops_url}/status", headers=headers) as resp:
        return resp, await resp.text()


async def facts(
    s: aiohttp.ClientSession, stack: Stack, headers: dict[str, str] = OPERATOR
) -> dict[str, Any]:
    async with s.get(f"{stack.ops_url}/api/v1/status", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body: dict[str, Any] = await resp.json()
        return body


async def admin(
    s: aiohttp.ClientSession, stack: Stack, path: str, body: dict[str, Any],
    actor: str = "alice",
) -> None:  # fmt: skip
    headers = {**ADMIN, "X-Actor": actor}
    async with s.post(f"{stack.ops_url}{path}", json=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


def text(fragment: str) -> str:
    """What a reader sees: tags dropped (block ones as a space), entities decoded,
    whitespace collapsed."""
    inline = re.sub(r"</?(?:a|b|em|span|strong)\b[^>]*>", "", fragment)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def section(page_html: str, name: str) -> str:
    found = re.search(
        rf'<section[^>]*aria-labelledby="{name}"[^>]*>(.*?)</section>', page_html, re.DOTALL
    )
    assert found is not None, f"no section {name!r}"
    return text(found.group(1))


def card(page_html: str, callcenter: str) -> str:
    for found in re.finditer(r"<article[^>]*>(.*?)</article>", page_html, re.DOTALL):
        shown = text(found.group(1))
        if shown.startswith(f"{callcenter} "):
            return shown
    raise AssertionError(f"no card for {callcenter}")


def events(page_html: str, name: str) -> list[str]:
    found = re.search(
        rf'aria-labelledby="{name}".*?<ol class="events">(.*?)</ol>', page_html, re.DOTALL
    )
    assert found is not None, f"no list in {name!r}"
    return [text(li) for li in re.findall(r"<li>(.*?)</li>", found.group(1), re.DOTALL)]


def routed_to(stack: Stack, where: str) -> bool:
    return stack.pool.snapshot().router.current == where


async def test_the_page_shows_a_call_center_going_down_then_the_failover_and_why(
    tmp_path: Path,
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(None), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        resp, body = await page(s, stack)
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert resp.headers["Cache-Control"] == "no-store"
        assert '<meta http-equiv="refresh" content="5">' in body
        assert "NORMAL Call center primary" in section(body, "outcome")
        assert card(body, "primary").startswith("primary SERVING")

        await stack.centers["primary"].sim.set_mode("error")  # 503 to everything
        await wait_for(lambda: routed_to(stack, "backup"), within=5, what="primary down")
        _, body = await page(s, stack)
        assert "NORMAL Call center backup" in section(body, "outcome")
        primary = card(body, "primary")
        assert primary.startswith("primary DOWN")
        assert re.search(r"Latency [\d.]+ ms HTTP status 503 Detail HTTP 503", primary), primary
        assert card(body, "backup").startswith("backup SERVING")
        newest = events(body, "timeline")[0]
        assert newest.startswith("ROUTE customers: primary → backup"), newest

        await stack.centers["backup"].fault.set_mode("refuse")
        await wait_for(lambda: routed_to(stack, SELF_HELP), within=5, what="failover")
        resp, body = await page(s, stack)
        assert resp.status == 200
        outcome = section(body, "outcome")
        reason = stack.pool.snapshot().router.reason
        assert "FAILOVER Self-help" in outcome
        assert re.search(r"Failover since \S+ \S+ UTC \(\d+ s ago\)", outcome), outcome
        assert f"Why: {reason}" in outcome
        assert "backup down" in reason
        assert "<title>FAILOVER · Status" in body
        backup = card(body, "backup")
        assert backup.startswith("backup DOWN")
        assert "HTTP status no answer" in backup
        assert "Detail ClientConnectorError" in backup, backup
        assert events(body, "timeline")[0].startswith("ROUTE customers: backup → self-help")

        # The public view says what kind of failure it was, not the error's text.
        _, body = await page(s, stack, headers={})
        backup = card(body, "backup")
        assert "Detail could not connect" in backup, backup
        assert "ClientConnectorError" not in body
        assert f"Why: {reason}" in section(body, "outcome")


async def test_an_override_shows_who_set_it_what_and_why_and_the_switches_in_force(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await admin(s, stack, "/admin/callcenters/backup/drain", {"on": True}, actor="bob")
        await admin(s, stack, "/admin/override", {"mode": "self-help", "reason": "quake drill"})

        _, body = await page(s, stack)
        assert "FAILOVER Self-help" in section(body, "outcome")
        assert "Why: override force_self_help: quake drill" in section(body, "outcome")
        switches = section(body, "switches")
        assert "OVERRIDE Override in force" in switches
        assert "Kind force_self_help" in switches
        assert "Reason quake drill" in switches
        assert "Set by alice from 127.0.0.1" in switches
        assert "Drained DRAINED backup" in switches
        assert "Emergency none" in switches
        assert "SHARED stored in Redis" in switches
        assert card(body, "backup").startswith("backup DRAINED")
        actions = events(body, "admin")
        assert actions[0].startswith("alice: override self-help (quake drill)"), actions
        assert "from 127.0.0.1" in actions[0]
        assert actions[1].startswith("bob: drain backup (on=true)"), actions

        # Without the token: the override and its kind, not who, from where, or why.
        _, public = await page(s, stack, headers={})
        switches = section(public, "switches")
        assert "Kind force_self_help" in switches
        assert "quake drill" not in public
        assert "alice" not in public
        assert "Why: override force_self_help" in section(public, "outcome")
        assert section(public, "admin") == "Recent admin actions Shown with the admin token only."

        await admin(s, stack, "/admin/override", {"mode": "automatic"})
        _, body = await page(s, stack)
        assert "Override: none, routing is automatic." in section(body, "switches")


async def test_the_json_and_the_page_agree_on_the_key_facts(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await stack.centers["primary"].sim.set_mode("down")
        await wait_for(lambda: routed_to(stack, "backup"), within=5, what="primary down")
        await admin(s, stack, "/admin/callcenters/backup/emergency", {"on": True})
        await admin(s, stack, "/admin/override", {"mode": "self-help", "reason": "storm"})

        data = await facts(s, stack)
        _, body = await page(s, stack)

        assert data["unknown"] == []
        assert (data["destination"], data["failover_active"]) == (SELF_HELP, True)
        outcome = section(body, "outcome")
        assert f"Failover since {when(data['since'])}" in outcome
        assert f"Why: {data['reason']}" in outcome
        override = data["override"]
        assert (override["kind"], override["reason"]) == ("force_self_help", "storm")
        assert override["set_by"]["actor"] == "alice"
        assert f"Kind {override['kind']}" in section(body, "switches")
        assert data["switches"]["emergency"] == ["backup"]
        assert "Emergency EMERGENCY backup" in section(body, "switches")
        for c in data["callcenters"]:
            shown = card(body, c["name"])
            assert shown.startswith(f"{c['name']} {c['availability'].upper()}"), shown
            assert f"Health {c['health']}" in shown
        assert data["redis"] == {"configured": True, "reachable": True}
        cache = section(body, "cache")
        assert "Redis REACHABLE" in cache
        assert f"Bulletins known {data['cache']['bulletins_known']}" in cache
        assert data["cache"]["redis_breaker_open"] is False
        assert "Redis breaker CLOSED" in cache
        shown_actions = events(body, "admin")
        assert [a.split(":")[0] for a in shown_actions] == [e["actor"] for e in data["admin_log"]]
        assert [e["action"] for e in data["admin_log"]] == ["override", "emergency"]
        timeline = events(body, "timeline")
        assert len(timeline) == len(data["timeline"])
        newest = data["timeline"][0]  # newest first: the override (already in self-help)
        assert (newest["kind"], newest["value"]) == ("switch", "force_self_help")
        assert timeline[0].startswith("SWITCH all: override = force_self_help")
        i, route = next((i, e) for i, e in enumerate(data["timeline"]) if e["kind"] == "route")
        assert (route["from"], route["to"]) == ("backup", SELF_HELP)  # the emergency's doing
        assert timeline[i].startswith(f"ROUTE customers: backup → self-help ({route['reason']})")
