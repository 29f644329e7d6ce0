"""The listeners: `[server]` (customers), `[ops]` (status, metrics, admin) and `[admin]`
(who may use the admin API)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StrictStr

from failover.settings.validators import AtLeastOne, Millis, Network, NonNegativeMillis, _Section


class ServerSettings(_Section):
    host: StrictStr = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: Annotated[StrictInt, Field(ge=0, le=65535)] = Field(
        default=8080, description="TCP port to listen on (0 = any free port, for tests)"
    )
    trusted_proxies: tuple[Network, ...] = Field(
        default=(), description='proxies whose X-Forwarded-For is believed, e.g. ["10.0.0.0/8"]'
    )
    shutdown_grace_ms: NonNegativeMillis = Field(
        default=5000, description="on SIGTERM, time given to in-flight requests to finish"
    )
    workers: AtLeastOne = Field(
        default=1,
        description="worker processes sharing the port (one per core); more than 1 needs "
        "[redis] url, through which they share admin switches and callbacks",
    )

    data_dir: StrictStr = Field(
        default="/var/lib/switchboard",
        min_length=1,
        description="a writable folder for the front door's own files (the callback "
        "spool): in a container a volume or emptyDir, never the read-only config mount; "
        "a relative path is read from the config file's folder",
        examples=["/var/lib/switchboard"],
    )

    header_timeout_ms: Millis = Field(
        default=10000,
        description="a request's headers must arrive within this from its first byte (or "
        "from the connection's start); slower connections are closed",
    )
    keepalive_timeout_ms: Millis = Field(
        default=75000,
        description="an idle keep-alive connection is closed after this; keep it above the "
        "load balancer's idle timeout",
    )
    max_connections: AtLeastOne = Field(
        default=10000, description="open customer connections per process, in all"
    )
    access_log: StrictBool = Field(
        default=False,
        description="one log line per answered request (logger switchboard.access), with "
        "its request id; costs ~17 us, ~10% of a proxied request",
    )
    max_connections_per_client: AtLeastOne = Field(
        default=256,
        description="open connections per client address (IPv6: per /64); trusted proxies "
        "are exempt. A browser opens up to 6, so 256 leaves room for ~40 busy customers "
        "behind one NAT",
    )

    @property
    def shutdown_grace(self) -> float:
        return self.shutdown_grace_ms / 1000


class OpsSettings(_Section):
    host: StrictStr = Field(
        default="127.0.0.1",
        min_length=1,
        description="address of the ops listener (/status, /api/v1/status, /metrics, "
        "/admin); keep it private: loopback, or an address only Prometheus and SREs reach",
    )
    port: Annotated[StrictInt, Field(ge=0, le=65535)] = Field(
        default=9180, description="TCP port of the ops listener (0 = any free port, for tests)"
    )


class AdminSettings(_Section):
    token: Annotated[StrictStr, Field(min_length=16)] | None = Field(default=None, repr=False)
