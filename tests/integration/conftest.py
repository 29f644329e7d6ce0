"""Shared fixtures of the integration tests: real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from redis.asyncio import Redis

from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from tests.support.redis import RedisServer


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[CallCenterSim]:
    """One simulated call center, started and stopped around the test."""
    sim = CallCenterSim(name="A")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest_asyncio.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A real redis-server on a free loopback port (never 6379), no persistence."""
    server = RedisServer(tmp_path / "redis")
    try:
        await server.start()
        yield server
    finally:
        await server.aclose()


@pytest_asyncio.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """The app's own client (``failover.redisconn.connect``) to ``redis_server``."""
    client = connect(redis_server.url)
    try:
        yield client
    finally:
        # connect() hands Redis an explicit pool, which aclose() leaves open by default.
        await client.aclose(close_connection_pool=True)


@pytest_asyncio.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server as docs/callbacks.md "Callback durability" says to run one: AOF, fsync always
    (what the callback tests rely on when they kill it)."""
    server = RedisServer(tmp_path / "redis", options={"appendonly": "yes", "appendfsync": "always"})
    try:
        await server.start()
        yield server
    finally:
        await server.aclose()
