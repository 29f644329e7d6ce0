"""Customer pages in another language on a phone (issue 19): headless Chromium with its
scripts off and German as the browser's language, driven by Playwright
(tests/support/chromium.py); the front door and the community simulator run in-process
(tests/support/selfhelp_stack.py).
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from sims.community import CommunitySim
from tests.e2e.test_customer_pages import MIN_BODY_FONT_PX, PHONE_WIDTH, phone_page
from tests.support.chromium import (
    PNG_SIGNATURE,
    console_errors,
    document_responses,
    tap_and_wait_for_load,
)
from tests.support.selfhelp_stack import help_stack

MIN_TAP_PX = 44  # WCAG 2.5.5 / Apple HIG


async def test_phone_customer_reads_help_in_their_language_and_switches_without_javascript(
    tmp_path: Path, browser: Browser
) -> None:
    async with (
        CommunitySim() as community,
        help_stack(tmp_path, redis=None, community=community) as stack,
    ):
        page = await phone_page(
            browser,
            javascript=False,
            user_agent="Mozilla/5.0 (phone)",
            headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"},
        )

        await page.goto(f"{stack.url}/help")

        html = "[document.documentElement.lang, document.documentElement.dir]"
        assert await page.evaluate(html) == ["de", "ltr"]
        assert await page.evaluate("document.querySelector('h1').innerText") == (
            "Wie können wir helfen?"
        )
        assert document_responses(page)[-1].headers.get("content-language") == "de"
        switcher = await page.evaluate(
            "[...document.querySelectorAll('footer nav > a, footer nav > [aria-current]')]"
            ".map(a => {"
            " const r = a.getBoundingClientRect();"
            " return [a.innerText, a.getAttribute('lang'), a.getAttribute('aria-current'),"
            "  a.hasAttribute('href'), r.height, r.right]; })"
        )
        assert [(name, lang, cur, href) for name, lang, cur, href, _, _ in switcher] == [
            ("English", "en", None, True),
            ("Deutsch", None, "page", False),  # the page's own language: current, not a link
            ("Español", "es", None, True),
            ("Français", "fr", None, True),
        ]
        for name, _, _, link, height, right in switcher:
            assert not link or height >= MIN_TAP_PX, f"{name}: {height} px tall, too small to tap"
            assert right <= PHONE_WIDTH, f"{name} is off screen"
        assert await page.evaluate("document.scripts.length") == 0

        await tap_and_wait_for_load(page, "footer nav a[lang=es]")

        assert await page.evaluate("location.pathname + location.search") == "/help?lang=es"
        assert await page.evaluate(html) == ["es", "ltr"]
        assert await page.evaluate("document.querySelector('h1').innerText") == (
            "¿En qué podemos ayudarle?"
        )

        # The choice is remembered: the next page is Spanish whatever the browser asks for.
        await tap_and_wait_for_load(page, "main .list a.title")
        assert (await page.evaluate("location.pathname")).startswith("/help/bulletins/")
        assert await page.evaluate("location.search") == ""
        assert await page.evaluate(html) == ["es", "ltr"]
        text = await page.evaluate("document.body.innerText")
        assert "¿Le ha sido útil?" in text
        assert "Inicio de la ayuda" in text

        layout = await page.evaluate(
            "({scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,"
            "  fontSize: parseFloat(getComputedStyle(document.body).fontSize)})"
        )
        assert layout["scrollWidth"] <= layout["innerWidth"], f"horizontal scroll: {layout}"
        assert layout["fontSize"] >= MIN_BODY_FONT_PX, layout
        png = await page.screenshot(full_page=True, scale="css")
        (tmp_path / "bulletin-es-phone.png").write_bytes(png)
        assert png.startswith(PNG_SIGNATURE)
        assert not console_errors(page)
