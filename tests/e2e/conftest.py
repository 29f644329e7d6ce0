"""Shared fixtures of the end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.support.chromium import CHROMIUM, launch_chromium


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, driven by Playwright (tests/support/chromium.py)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package; "
            "`make test` installs it (or run scripts/ensure-debian-packages chromium:chromium)"
        )
    async with launch_chromium() as b:
        yield b
