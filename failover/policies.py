"""The front door's policies from the settings: the pool (health, outlier detection,
hold-down), the proxy and the probes. At start (switchboard/app.py) and at each reload
(`policies_of`, failover/configstate.py).
"""

from __future__ import annotations

from failover.configstate import Policies
from failover.health import HealthPolicy
from failover.monitor import ProbeSchedule
from failover.pool import CallCenterSpec, Pool
from failover.proxy import ProxyPolicy
from failover.settings import Settings
from kernel.breaker import OutlierPolicy


def health_policy(settings: Settings) -> HealthPolicy:
    h = settings.health
    return HealthPolicy(
        healthy_threshold=h.healthy_threshold,
        unhealthy_threshold=h.unhealthy_threshold,
        max_queue_wait_seconds=h.max_queue_wait_seconds,
    )


def outlier_policy(settings: Settings) -> OutlierPolicy:
    o = settings.outlier
    return OutlierPolicy(
        consecutive_5xx=o.consecutive_5xx,
        consecutive_local_failures=o.consecutive_local_failures,
        base_ejection_time=o.base_ejection_time_ms / 1000,
        max_ejection_time=o.max_ejection_time_ms / 1000,
    )


def specs_of(settings: Settings) -> tuple[CallCenterSpec, ...]:
    return tuple(
        CallCenterSpec(name=c.name, priority=c.priority, hours=c.schedule, emergency=c.emergency)
        for c in settings.callcenters
    )


def build_pool(settings: Settings) -> Pool:
    return Pool(
        specs_of(settings),
        health=health_policy(settings),
        outlier=outlier_policy(settings),
        hold_down=settings.routing.hold_down_ms / 1000,
    )


def policies_of(settings: Settings) -> Policies:
    """Everything a reload applies, from one configuration (failover/configstate.py)."""
    cc = settings.callcenters
    return Policies(
        specs=specs_of(settings), health=health_policy(settings),
        outlier=outlier_policy(settings), hold_down=settings.routing.hold_down_ms / 1000,
        proxy=proxy_policy(settings), schedule=probe_schedule(settings),
        proxy_bases={c.name: c.url for c in cc},
        health_urls={c.name: c.url.rstrip("/") + c.health_path for c in cc},
        callback_urls={c.name: c.url.rstrip("/") + c.callbacks_path for c in cc},
    )  # fmt: skip


def proxy_policy(settings: Settings) -> ProxyPolicy:
    p = settings.proxy
    return ProxyPolicy(
        connect_timeout=p.connect_timeout_ms / 1000,
        read_timeout=p.read_timeout_ms / 1000,
        budget=p.request_budget_ms / 1000,
        buffer_bytes=p.buffer_bytes,
        send_timeout=p.send_timeout,
        trusted_proxies=tuple(settings.server.trusted_proxies),
        max_connections=p.max_connections,
    )


def probe_schedule(settings: Settings) -> ProbeSchedule:
    h = settings.health
    return ProbeSchedule(interval=h.interval_ms / 1000, timeout=h.timeout_ms / 1000,
                         jitter=h.jitter)  # fmt: skip
