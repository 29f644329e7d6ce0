"""Attack, in headless Chromium (tests/support/chromium.py): frame the front door's pages from
another site to clickjack the callback form or a vote (issue 14, item 9); and the other
side of the policy: every page still renders whole under it, with no violation.

The other site is an aiohttp app of the test's own on another port (another origin). It
frames our callback form, a bulletin, the help page and the status page, and, as the
control, a page of its own; Chromium must load the control and refuse ours.

Violations are caught twice: a `securitypolicyviolation` listener the browser injects
into every document (Playwright's init scripts are not subject to the page's policy), and
the browser's own console (`console_errors`), where Chromium reports blocked loads. Which
address a refused frame was for is Chromium's own word (its frame tree's
``unreachableUrl``, through Playwright's DevTools session: Playwright's frames show only
the error page's address).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page

from tests.support.chromium import (
    CHROMIUM,
    click_and_wait_for_load,
    console_errors,
    launch_chromium,
    new_page,
)
from tests.support.selfhelp_stack import HelpStack, help_world

pytestmark = pytest.mark.timeout(60)

RECORD_VIOLATIONS = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));"
)
PAGE_BACKGROUND = "rgb(246, 247, 249)"  # body's background in both layouts' stylesheets


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium")
    async with launch_chromium() as b:
        yield b


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    async with help_world(tmp_path) as s:
        yield s


async def watched_page(browser: Browser) -> Page:
    page = await new_page(browser)
    await page.add_init_script(RECORD_VIOLATIONS)
    return page


async def other_site(frames: list[str]) -> tuple[web.AppRunner, str]:
    """A site on another origin whose page frames each of `frames`, then one of its own."""

    async def framing(request: web.Request) -> web.Response:
        tags = "".join(f'<iframe src="{src}"></iframe>' for src in [*frames, "/own"])
        return web.Response(text=f"<!doctype html><title>win a prize</title>{tags}",
                            content_type="text/html")  # fmt: skip

    async def own(request: web.Request) -> web.Response:
        return web.Response(text="<p>our own page</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", framing)
    app.router.add_get("/own", own)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def child_frames(page: Page, expected: int) -> list[dict[str, str]]:
    """The framing page's child frames once each has committed a document (bounded)."""
    cdp = await page.context.new_cdp_session(page)
    for _ in range(100):
        tree = (await cdp.send("Page.getFrameTree"))["frameTree"]
        frames = [c["frame"] for c in tree.get("childFrames", [])]
        if len(frames) == expected and all(f.get("url") not in ("", "about:blank") for f in frames):
            return frames
        await asyncio.sleep(0.05)
    raise AssertionError(f"frames did not load: {frames}")


async def test_another_site_cannot_frame_the_callback_form_or_any_other_page(
    browser: Browser, stack: HelpStack
) -> None:
    bulletin = stack.community.seed.topics[0].id
    targets = [
        *(
            f"{stack.url}{p}"
            for p in ("/help/callbacks/new", f"/help/bulletins/{bulletin}", "/help")
        ),
        f"{stack.ops_url}/status",
    ]
    runner, site = await other_site(targets)
    try:
        page = await watched_page(browser)
        await page.goto(site + "/")
        frames = await child_frames(page, len(targets) + 1)
    finally:
        await runner.cleanup()
    *ours, control = frames
    assert control["url"] == f"{site}/own", (
        "the control frame did not load: the test proves nothing"
    )
    for target, frame in zip(targets, ours, strict=True):
        # Chromium commits an error page in place of a refused frame.
        assert frame["url"].startswith("chrome-error://"), (target, frame)
        assert frame.get("unreachableUrl") == target
    refusals = [e for e in console_errors(page) if "frame-ancestors 'none'" in e]
    assert len(refusals) == len(targets), console_errors(page)


async def visit(page: Page, url: str) -> tuple[list[str], list[str], str]:
    """Violations, console errors and body background of the page at `url`."""
    before = len(console_errors(page))
    await page.goto(url)
    return await seen(page, before)


async def seen(page: Page, before: int) -> tuple[list[str], list[str], str]:
    violations = await page.evaluate("window.__violations")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    return violations, console_errors(page)[before:], background


async def test_every_page_renders_whole_under_its_policy(
    browser: Browser, stack: HelpStack
) -> None:
    seed = stack.community.seed
    hostile = next(t for t in seed.topics if t.hostile)
    with_image = next(t for t in seed.topics if "<img" in t.posts[0].cooked)
    page = await watched_page(browser)
    problems: list[str] = []

    def check(name: str, result: tuple[list[str], list[str], str], *, html: bool = True) -> None:
        violations, console, background = result
        problems.extend(f"{name}: violation {v}" for v in violations)
        problems.extend(f"{name}: console {c}" for c in console)
        if html and background != PAGE_BACKGROUND:
            problems.append(f"{name}: unstyled (background {background})")

    for name, path in (
        ("help", "/help"),
        ("search", "/help/search?q=wifi+dropping"),
        ("bulletin", f"/help/bulletins/{seed.topics[0].id}"),
        ("bulletin again (hot path)", f"/help/bulletins/{seed.topics[0].id}"),
        ("hostile bulletin", f"/help/bulletins/{hostile.id}"),
        ("bulletin with an image", f"/help/bulletins/{with_image.id}"),
        ("authors", "/help/authors"),
        ("status", "/status"),
    ):
        base = stack.ops_url if path == "/status" else stack.url
        check(name, await visit(page, base + path))
    check("JSON", await visit(page, f"{stack.ops_url}/api/v1/status"), html=False)

    # Forms post to this site (form-action 'self'), redirects included.
    await page.goto(f"{stack.url}/help/bulletins/{seed.topics[0].id}")
    before = len(console_errors(page))
    await click_and_wait_for_load(page, "form.votes button[value=yes]")
    check("after a vote", await seen(page, before))
    assert await page.evaluate("location.search") == "?voted=1"

    await page.goto(f"{stack.url}/help/callbacks/new?topic=wifi")
    before = len(console_errors(page))
    await page.evaluate(
        "document.getElementById('cb-name').value = 'Ana';"
        "document.getElementById('cb-phone').value = '+44 20 7946 0018';"
    )
    await click_and_wait_for_load(page, "form.callback button[type=submit]")
    check("callback accepted", await seen(page, before))
    assert await page.evaluate("document.querySelector('h1').innerText") == "We will call you back"
    # (The status page's operator view: tests/e2e/test_status_page.py, same audit.)
    assert not problems, "\n".join(["", *problems])
