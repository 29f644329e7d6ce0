"""A real ``redis-server`` for integration tests, on a free loopback port, never 6379: the
shared harness's `RedisServer` (sims/harness/redis.py, where its use is described)."""

from __future__ import annotations

from sims.harness.redis import (
    DEFAULT_OPTIONS,
    FORBIDDEN_PORT,
    REDIS_SERVER,
    START_TIMEOUT,
    STOP_GRACE,
    RedisServer,
)

__all__ = [
    "DEFAULT_OPTIONS",
    "FORBIDDEN_PORT",
    "REDIS_SERVER",
    "START_TIMEOUT",
    "STOP_GRACE",
    "RedisServer",
]
