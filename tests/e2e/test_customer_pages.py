"""Customer pages in a real browser: headless Chromium on a phone-sized screen, driven by
Playwright (tests/support/chromium.py). The front door and its call centers run
in-process (tests/support/stack.py); the browser is the only child process.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page

from failover.health import HealthState
from failover.routing import SELF_HELP
from tests.support.chromium import (
    PNG_SIGNATURE,
    click_and_wait_for_load,
    document_responses,
    new_page,
)
from tests.support.stack import Stack, running_stack, wait_for

# An iPhone 12-15 class screen: CSS pixels, and three device pixels per CSS pixel.
PHONE_WIDTH, PHONE_HEIGHT, PHONE_SCALE = 390, 844, 3.0
MIN_BODY_FONT_PX = 16  # below this iOS zooms into form fields and small text tires the eye


async def phone_page(
    browser: Browser,
    *,
    javascript: bool = True,
    headers: dict[str, str] | None = None,
    user_agent: str | None = None,
) -> Page:
    """A phone's page: its screen, touch, the page's own scripts on or off, and what the
    browser says of itself (its user agent, the languages it asks for)."""
    return await new_page(
        browser, width=PHONE_WIDTH, height=PHONE_HEIGHT, scale=PHONE_SCALE, mobile=True,
        javascript=javascript, headers=headers, user_agent=user_agent,
    )  # fmt: skip


def health(stack: Stack, name: str) -> HealthState:
    return next(m.machine.state for m in stack.pool.snapshot().members if m.spec.name == name)


async def test_phone_customer_lands_on_a_readable_self_help_search_when_both_call_centers_are_down(
    tmp_path: Path, browser: Browser
) -> None:
    async with running_stack(tmp_path) as stack:
        for center in stack.centers.values():
            await center.fault.set_mode("refuse")
        await wait_for(
            lambda: all(health(stack, n) is HealthState.DOWN for n in stack.centers),
            within=5,
            what="both call centers DOWN",
        )
        page = await phone_page(browser)

        await page.goto(f"{stack.url}/support/router/wifi-keeps-dropping")

        assert stack.pool.snapshot().router.current == SELF_HELP
        landed = await page.evaluate("location.href")
        assert landed == f"{stack.url}/help/search?q=router+wifi+keeps+dropping"
        redirect, final = document_responses(page)[-2:]
        assert redirect.status == 303
        assert redirect.url == f"{stack.url}/support/router/wifi-keeps-dropping"
        assert redirect.headers["location"] == "/help/search?q=router+wifi+keeps+dropping"
        assert (final.url, final.status) == (landed, 200)

        query = await page.evaluate("document.querySelector('input[name=q]').value")
        assert query == "router wifi keeps dropping"
        banner = await page.evaluate(
            "(() => { const b = document.querySelector('.banner[role=status]');"
            " return b && b.offsetHeight > 0 ? b.innerText : null; })()"
        )
        assert banner is not None, "no visible outage banner"
        assert "call centers are unavailable" in banner

        layout = await page.evaluate(
            "({scrollWidth: document.documentElement.scrollWidth,"
            "  innerWidth: window.innerWidth, dpr: window.devicePixelRatio,"
            "  fontSize: parseFloat(getComputedStyle(document.body).fontSize)})"
        )
        assert layout["innerWidth"] == PHONE_WIDTH, layout  # the viewport meta is honoured
        assert layout["dpr"] == PHONE_SCALE, layout
        assert layout["scrollWidth"] <= layout["innerWidth"], f"horizontal scroll: {layout}"
        assert layout["fontSize"] >= MIN_BODY_FONT_PX, layout

        png = await page.screenshot()
        shot = tmp_path / "selfhelp-search-phone.png"
        shot.write_bytes(png)
        assert png.startswith(PNG_SIGNATURE)
        assert len(png) > 1000


async def test_phone_customer_can_continue_from_the_offer_page_to_a_degraded_call_center(
    tmp_path: Path, browser: Browser
) -> None:
    async with running_stack(tmp_path, names=("solo",)) as stack:
        stack.centers["solo"].sim.set_health(status="degraded")
        await wait_for(
            lambda: health(stack, "solo") is HealthState.DEGRADED, within=5, what="DEGRADED"
        )
        page = await phone_page(browser)

        await page.goto(f"{stack.url}/support/router/setup")

        offer = await page.evaluate("location.pathname + location.search")
        assert offer.startswith("/help/search?q=router+setup&continue=")
        link = await page.evaluate(
            "(() => { const a = [...document.querySelectorAll('a')]"
            ".find(a => a.innerText.trim() === 'Continue to the call center');"
            " return a ? a.getAttribute('href') : null; })()"
        )
        assert link == "/support/router/setup?sb_continue=1"

        await click_and_wait_for_load(page, 'a[href="/support/router/setup?sb_continue=1"]')

        assert await page.evaluate("location.href") == f"{stack.url}{link}"
        final = document_responses(page)[-1]
        assert (final.status, final.headers.get("x-served-by")) == (200, "solo")
        text = await page.evaluate("document.body.innerText")
        assert "Setting up your router" in text
        assert "Call center solo serving /router/setup" in text

        # The choice is remembered (an HttpOnly cookie): the next support page goes straight
        # to the call center instead of offering self-help again.
        await page.goto(f"{stack.url}/support/billing")
        assert await page.evaluate("location.href") == f"{stack.url}/support/billing"
        final = document_responses(page)[-1]
        assert (final.status, final.headers.get("x-served-by")) == (200, "solo")
        assert "sb_continue" not in await page.evaluate("document.cookie")
