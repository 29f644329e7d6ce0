"""Shared fixtures of the end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.cdp import CHROMIUM, Browser, launch_chromium


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """Debian's headless Chromium, driven over the DevTools protocol."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package; "
            "`make test` installs it (or run scripts/ensure-debian-packages chromium:chromium)"
        )
    async with launch_chromium(tmp_path / "browser") as b:
        yield b
