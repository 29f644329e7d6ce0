"""A branded front door on a phone (issue 19): headless Chromium, scripts off. The logo
file loads under the pages' CSP, the header and footer links are tap targets, and the
company's accent colours reach AA in light and dark mode as the browser computes them."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser

from sims.community import CommunitySim
from tests.e2e.test_help_pages_in_outage import AA, CONTRAST_JS
from tests.support.phone_audit import assert_no_problems, phone_page, visit
from tests.support.selfhelp_stack import HelpStack, help_stack


def png(width: int, height: int) -> bytes:
    """A valid one-colour PNG (so that the browser decodes it: naturalWidth > 0)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x1a\x4d\x2e" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )  # fmt: skip


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "logo.png").write_bytes(png(360, 96))  # 3x its 120 x 32
    branding = (
        '[branding]\ncompany_name = "Acme Telecom"\nlogo_file = "logo.png"\n'
        'accent = "#1a4d2e"\naccent_dark = "#9fd8b0"\n'
        'status_url = "https://status.example.com"\nprivacy_url = "/privacy"\n'
    )
    async with (
        CommunitySim() as community,
        help_stack(tmp_path / "stack", redis=None, community=community, extra=branding) as s,
    ):
        yield s


async def test_a_branded_page_shows_its_logo_and_reads_well_in_both_modes(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page = await phone_page(browser, javascript=False)
    some = stack.community.seed.topics[0].id
    seen = []
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for name, path in (("help", "/help"), ("bulletin", f"/help/bulletins/{some}")):
            seen.append(await visit(page, stack.url, f"{name}-{scheme}", path, tmp_path))
            logo = await page.evaluate(
                "(() => { const i = document.querySelector('header.brand img');"
                " return i && [i.naturalWidth, i.alt, i.getBoundingClientRect().height]; })()"
            )
            assert logo == [360, "Acme Telecom", 32], logo
            colours = await page.evaluate(CONTRAST_JS)
            low = [t for t in colours["texts"] if t["ratio"] < AA]
            assert not low, f"{scheme} {path}: under {AA}:1: {low[:5]}"
            accent = await page.evaluate(
                "getComputedStyle(document.querySelector('form.search button')).backgroundColor"
            )
            assert accent == ("rgb(26, 77, 46)" if scheme == "light" else "rgb(159, 216, 176)")
    assert_no_problems(seen)
