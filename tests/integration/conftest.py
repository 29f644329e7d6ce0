"""Shared fixtures of the integration tests: real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from sims.callcenter import CallCenterSim


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[CallCenterSim]:
    """One simulated call center, started and stopped around the test."""
    sim = CallCenterSim(name="A")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
