"""Haproxy mode's two adapters, started and stopped together by `switchboard.app.create_app`:
the agent-check responder (failover/agentcheck.py) and the stats feed
(failover/haproxy_stats.py). docs/dataplane.md tells the whole story."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from failover.agentcheck import AgentResponder
from failover.haproxy_stats import StatsFeed
from failover.pool import Event, Pool
from failover.settings import Settings
from kernel.breaker import OutlierPolicy
from kernel.clock import Clock


class DataPlane:
    def __init__(
        self,
        settings: Settings,
        pool: Pool,
        clock: Clock,
        observe: Callable[[Sequence[Event]], None],
        *,
        outlier: OutlierPolicy,
    ) -> None:
        d = settings.dataplane
        self._host, self._port = d.agent_host, d.agent_port
        self.agent = AgentResponder(pool, clock, observe)
        self.stats = StatsFeed(
            pool, clock, observe, socket_path=d.stats_socket,
            interval=d.stats_poll_ms / 1000, policy=outlier,
        )  # fmt: skip

    async def start(self) -> None:
        await self.agent.start(self._host, self._port)
        self.stats.start()

    async def stop(self) -> None:
        await self.stats.stop()
        await self.agent.stop()
