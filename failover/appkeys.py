"""The typed keys under which `switchboard.app.create_app` keeps shared objects on the
application."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from redis.asyncio import Redis

from failover.callbacks.runtime import CallbackRuntime
from failover.dataplane import DataPlane
from failover.pool import Pool
from failover.settings import Settings
from failover.workers import WorkerInfo
from kernel.clock import Clock
from monitoring.http import Ahead
from monitoring.metrics import Metrics

POOL: Final = web.AppKey("pool", Pool)
METRICS: Final = web.AppKey("metrics", Metrics)
SETTINGS: Final = web.AppKey("settings", Settings)
CLOCK: Final = web.AppKey("clock", Clock)
REDIS: Final = web.AppKey("redis", Redis)
CALLBACKS: Final = web.AppKey("callbacks", CallbackRuntime)
WORKER: Final = web.AppKey("worker", WorkerInfo)
DATAPLANE: Final = web.AppKey("dataplane", DataPlane)
# The answer the server tries before routing (failover/server.py `checked`): the cached
# bulletin page (cache/bulletin_route.py `hot_ahead`), set by the composition root.
AHEAD: Final[web.AppKey[Ahead]] = web.AppKey("ahead")
