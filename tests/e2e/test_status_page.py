"""`/status` in headless Chromium (tests/support/chromium.py), on a phone and on a desktop,
during a failover with an override whose reason is hostile HTML. The operator view (the
browser sends the admin token, as an SRE's would) shows that reason; the public view
must not (issue 14).

The phone visit goes through the phone audit (`tests/support/phone_audit.py`:
no sideways scrolling, readable text, thumb-sized tap targets, an h1 and a title, no
script of any kind, no console error); screenshots are saved under the test's tmp_path
(``shots/``) for a human to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from playwright.async_api import Browser

from failover.routing import SELF_HELP
from tests.support.chromium import new_page
from tests.support.phone_audit import (
    MIN_BODY_FONT_PX,
    assert_no_problems,
    phone_page,
    visit,
)
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

TOKEN = "admin-token-" + "e" * 20
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
DESKTOP_WIDTH, DESKTOP_HEIGHT = 1280, 800
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    redis = RedisServer(tmp_path / "redis")
    (tmp_path / "stack").mkdir()
    try:
        await redis.start()
        extra = FAST_HEALTH + f'[routing]\nhold_down_ms = 0\n[redis]\nurl = "{redis.url}"\n'
        async with running_stack(tmp_path / "stack", extra=extra, token=TOKEN) as s:
            yield s
    finally:
        await redis.aclose()


async def outage_with_hostile_override(stack: Stack) -> None:
    await stack.centers["primary"].sim.set_mode("error")
    await stack.centers["backup"].fault.set_mode("refuse")
    await wait_for(lambda: stack.pool.snapshot().router.current == SELF_HELP, within=5,
                   what="failover")  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "<i>alice</i>"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{stack.ops_url}/admin/override", json={"mode": "self-help", "reason": HOSTILE},
               headers=headers) as resp,
    ):  # fmt: skip
        assert resp.status == 200


async def test_on_a_phone_the_status_page_is_readable_script_free_and_outcome_first(
    tmp_path: Path, browser: Browser, stack: Stack
) -> None:
    await outage_with_hostile_override(stack)
    page = await phone_page(browser, headers=OPERATOR)

    seen = await visit(page, stack.ops_url, "status", "/status", tmp_path / "shots")

    assert_no_problems([seen])
    assert seen.audit["h1"] == "Switchboard status"
    assert seen.audit["title"] == "FAILOVER · Status · Switchboard"  # the script did not run
    assert await page.evaluate("document.querySelector('meta[http-equiv=refresh]').content") == "5"
    # Customer outcome first, on the first screen, in words as well as colour.
    outcome = await page.evaluate(
        "(() => { const o = document.querySelector('.outcome');"
        " const box = o.getBoundingClientRect();"
        " return {text: o.innerText, bottom: box.bottom,"
        " before: [...document.querySelectorAll('main section')].indexOf(o.closest('section'))}"
        "})()"
    )
    assert "FAILOVER" in outcome["text"]
    assert "Self-help" in outcome["text"]
    assert outcome["before"] == 0, "the outcome is not the first section"
    assert outcome["bottom"] <= 844, "the outcome is not on the first screen"
    shown = await page.evaluate("document.querySelector('main').innerText")
    assert HOSTILE in shown, "the hostile reason is not shown as text"
    assert "<i>alice</i>" in shown
    assert "UNREACHABLE" not in shown  # Redis is up: no false alarm
    badges = await page.evaluate(
        "[...document.querySelectorAll('.badge')].map(b => b.innerText.trim())"
    )
    assert {"FAILOVER", "OVERRIDE", "DOWN", "REACHABLE"} <= set(badges)
    assert all(badges), "a badge with a colour but no words"


async def test_on_a_desktop_the_status_page_fits_and_keeps_readable_text(
    tmp_path: Path, browser: Browser, stack: Stack
) -> None:
    await outage_with_hostile_override(stack)
    page = await new_page(browser, width=DESKTOP_WIDTH, height=DESKTOP_HEIGHT, headers=OPERATOR)
    await page.goto(f"{stack.ops_url}/status")

    layout = await page.evaluate(
        "({scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,"
        " body: parseFloat(getComputedStyle(document.body).fontSize),"
        " scripts: document.querySelectorAll('script').length,"
        " cards: [...document.querySelectorAll('main article')]"
        "   .map(a => Math.round(a.getBoundingClientRect().top))})"
    )
    shot = await page.screenshot(full_page=True)
    (tmp_path / "status-desktop.png").write_bytes(shot)

    assert layout["scrollWidth"] <= layout["innerWidth"], layout
    assert layout["body"] >= MIN_BODY_FONT_PX
    assert layout["scripts"] == 0
    # The two call centers sit side by side on a wide screen.
    assert len(layout["cards"]) == 2
    assert layout["cards"][0] == layout["cards"][1], layout["cards"]


async def test_the_public_status_page_shows_the_outage_and_not_the_operators_words(
    tmp_path: Path, browser: Browser, stack: Stack
) -> None:
    await outage_with_hostile_override(stack)
    page = await phone_page(browser)

    seen = await visit(page, stack.ops_url, "status-public", "/status", tmp_path / "shots")

    assert_no_problems([seen])
    shown = await page.evaluate("document.querySelector('main').innerText")
    assert "FAILOVER" in shown
    assert "force_self_help" in shown
    assert HOSTILE not in shown
    assert "alice" not in shown
    assert "127.0.0.1" not in shown
    assert "Shown with the admin token only." in shown
