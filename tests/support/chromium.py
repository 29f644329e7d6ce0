"""Headless Chromium for the end-to-end tests: Debian's /usr/bin/chromium (`make debian`),
driven by Playwright's async API (playwright.async_api). Playwright's wheel carries its
own Node driver; it is given Debian's browser by ``executable_path``, so no browser of
Playwright's own is downloaded (`playwright install` is never run) and none is used.

Each Playwright release is built for one Chromium release (1.65: 159; Debian's was 156
when this was written) and drives others over the same protocol, with no warning (nor
with DEBUG=pw:browser). The tests use only what Chromium has had for years: emulation of
a phone (viewport, device pixels, touch), of media and of JavaScript off, navigation,
evaluation, taps, screenshots. Should a newer Playwright need a protocol method Debian's
Chromium lacks, the tests fail at once with Playwright's error naming it: pin Playwright
below that release in pyproject.toml.

What the tests read that Playwright gives as events, not lists, is recorded for each page
opened here (`new_page`): the document responses it saw (`document_responses`: status,
headers, redirects) and what it reported as errors (`console_errors`: console calls,
uncaught exceptions, the browser's own log).

The flags keep Chromium off the network: on a machine without internet access it
otherwise retries refused connections all the time.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Final

from playwright.async_api import Browser, ConsoleMessage, Error, Page, Response, async_playwright

CHROMIUM: Final = "/usr/bin/chromium"  # Debian's package `chromium`; `make test` installs it
# Playwright adds its own (headless, the DevTools pipe, a throw-away profile, and most of
# these too); these are named so that they do not depend on its release.
CHROMIUM_FLAGS: Final = (
    "--no-sandbox",  # tests may run as root (containers), where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # loopback only, whatever the environment says about proxies
)
START_TIMEOUT_MS: Final = 20_000
ACTION_TIMEOUT_MS: Final = 10_000  # every navigation, tap and wait of a page
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


@dataclass(slots=True)
class _Seen:
    responses: list[Response] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_SEEN: weakref.WeakKeyDictionary[Page, _Seen] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def launch_chromium(*, executable: str = CHROMIUM) -> AsyncIterator[Browser]:
    """Debian's headless Chromium under Playwright; closed, with Playwright's driver, on
    the way out."""
    if not os.access(executable, os.X_OK):
        raise FileNotFoundError(f"{executable} is not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_FLAGS),
            timeout=START_TIMEOUT_MS,
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser,
    *,
    width: int = 1280,
    height: int = 720,
    scale: float = 1.0,
    mobile: bool = False,
    javascript: bool = True,
    headers: dict[str, str] | None = None,
    user_agent: str | None = None,
) -> Page:
    """A fresh page in a context of its own: the screen (a phone's has touch), the page's
    own scripts on or off (as a customer's browser may have them; ``evaluate`` works
    either way), extra request headers. Its responses and errors are recorded."""
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        is_mobile=mobile,
        has_touch=mobile,
        java_script_enabled=javascript,
        extra_http_headers=headers,
        user_agent=user_agent,
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = await context.new_page()
    seen = _SEEN[page] = _Seen()

    def response(r: Response) -> None:
        if r.request.resource_type == "document":
            seen.responses.append(r)

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            seen.errors.append(f"{message.type}: {message.text} {message.location['url']}")

    def uncaught(error: Error) -> None:
        seen.errors.append(f"uncaught: {error}")

    page.on("response", response)
    page.on("console", console)
    page.on("pageerror", uncaught)
    return page


def document_responses(page: Page) -> list[Response]:
    """Every document response of ``page`` so far, in order, frames' too; a redirect is
    one of them (its status 3xx, its Location header)."""
    return list(_SEEN[page].responses)


def console_errors(page: Page) -> list[str]:
    """Every error ``page`` reported so far, in order: ``console.error`` and failed
    ``console.assert`` calls, uncaught exceptions, and the browser's own error log (a
    resource that failed to load, a blocked request, a security violation)."""
    return list(_SEEN[page].errors)


async def tap_and_wait_for_load(page: Page, selector: str) -> None:
    """Tap the middle of ``selector`` with a finger, as a phone user would (touch events
    from the browser's input pipeline: it works with scripts off), and wait for the page
    it leads to. It is scrolled into view first."""
    async with page.expect_navigation(wait_until="load"):
        await page.tap(selector)


async def click_and_wait_for_load(page: Page, selector: str) -> None:
    """Click ``selector`` (with the mouse) and wait for the page it leads to."""
    async with page.expect_navigation(wait_until="load"):
        await page.click(selector)
