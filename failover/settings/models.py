"""The configuration as frozen pydantic models: one per TOML section, and Settings."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from failover.settings.callbacks import CallbackSettings
from failover.settings.callcenters import CallCenterSettings
from failover.settings.dataplane import DataPlaneSettings
from failover.settings.limits import LimitSettings
from failover.settings.overload import OverloadSettings
from failover.settings.validators import (
    AtLeastOne,
    HttpUrl,
    Millis,
    Network,
    NonNegativeMillis,
    NonNegativeSeconds,
    PositiveSeconds,
    SentinelTarget,
    _invalid,
    _parse_sentinel,
    _redis_url,
    _Section,
)

_NO_CALLCENTERS = "at least one [[callcenters]] entry (with name and url) is required"


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


class RedisSettings(_Section):
    url: StrictStr | None = Field(
        default=None,
        description="absent = embedded mode; also rediss://, unix://, redis+sentinel://",
        examples=["redis://127.0.0.1:6379/0", "redis+sentinel://h1:26379,h2:26379/mymaster/0"],
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        return None if value is None else _redis_url(value)

    @property
    def sentinel(self) -> SentinelTarget | None:
        """The parsed address if ``url`` is ``redis+sentinel://``, else None."""
        if self.url is None or not self.url.lower().startswith("redis+sentinel://"):
            return None
        return _parse_sentinel(self.url)


class HealthSettings(_Section):
    interval_ms: Millis = Field(default=250, description="time between probes of one call center")
    timeout_ms: Millis = Field(default=200, description="a probe slower than this counts as failed")
    jitter: Annotated[StrictFloat, Field(ge=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.1, description="random spread of the interval, as a fraction (0 <= jitter < 1)"
    )
    healthy_threshold: AtLeastOne = Field(
        default=2, description="consecutive passing probes to become healthy (rise)"
    )
    unhealthy_threshold: AtLeastOne = Field(
        default=2, description="consecutive failing probes to become unhealthy (fall)"
    )
    max_queue_wait_seconds: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        default=None,
        description="reported queue wait above this counts as degraded; absent = ignore it",
        examples=[120.0],
    )

    @property
    def interval(self) -> float:
        return self.interval_ms / 1000

    @property
    def timeout(self) -> float:
        return self.timeout_ms / 1000


class OutlierSettings(_Section):
    """Passive outlier detection, after Envoy's outlier_detection."""

    consecutive_5xx: AtLeastOne = Field(
        default=5, description="proxied 5xx answers in a row that eject a call center"
    )
    consecutive_local_failures: AtLeastOne = Field(
        default=3, description="connect failures/timeouts in a row that eject a call center"
    )
    base_ejection_time_ms: Millis = Field(
        default=10000, description="first ejection length; grows with each repeat ejection"
    )
    max_ejection_time_ms: Millis = Field(default=300000, description="upper bound of an ejection")

    @model_validator(mode="after")
    def _max_not_below_base(self) -> Self:
        if self.max_ejection_time_ms < self.base_ejection_time_ms:
            raise _invalid(
                ("max_ejection_time_ms",),
                f"must be >= base_ejection_time_ms ({self.base_ejection_time_ms}), "
                f"got {self.max_ejection_time_ms}",
            )
        return self

    @property
    def base_ejection_time(self) -> float:
        return self.base_ejection_time_ms / 1000

    @property
    def max_ejection_time(self) -> float:
        return self.max_ejection_time_ms / 1000


class RoutingSettings(_Section):
    hold_down_ms: NonNegativeMillis = Field(
        default=5000,
        description="a recovered call center must stay healthy this long to get traffic back",
    )

    @property
    def hold_down(self) -> float:
        return self.hold_down_ms / 1000


class ProxySettings(_Section):
    connect_timeout_ms: Millis = Field(default=500, description="TCP connect to a call center")
    read_timeout_ms: Millis = Field(
        default=2500, description="wait for each read from a call center"
    )
    request_budget_ms: Millis = Field(
        default=4000, description="whole proxied request; after it the customer goes to self-help"
    )
    max_connections: AtLeastOne = Field(
        default=256, description="connection pool size, all call centers"
    )
    buffer_bytes: Annotated[StrictInt, Field(ge=0)] = Field(
        default=262144, description="response bytes buffered before streaming (0 = stream at once)"
    )
    max_body_bytes: AtLeastOne = Field(
        default=1048576,
        description="largest request body passed on (413 beyond); bodies are read whole "
        "before a call center is chosen, so a slow upload holds no call-center connection",
    )
    body_timeout_ms: Millis = Field(
        default=10000, description="a request body must arrive within this (408 beyond)"
    )
    max_in_flight_per_client: AtLeastOne = Field(
        default=32, description="proxied requests in progress per client address (429 beyond)"
    )
    max_uploads: AtLeastOne = Field(
        default=128,
        description="request bodies being received at once, all clients (503 beyond); "
        "bounds the memory bodies take to max_uploads x max_body_bytes",
    )

    @model_validator(mode="after")
    def _budget_covers_connect(self) -> Self:
        if self.request_budget_ms < self.connect_timeout_ms:
            raise _invalid(
                ("request_budget_ms",),
                f"must be >= connect_timeout_ms ({self.connect_timeout_ms}), "
                f"got {self.request_budget_ms}",
            )
        return self

    @property
    def connect_timeout(self) -> float:
        return self.connect_timeout_ms / 1000

    @property
    def read_timeout(self) -> float:
        return self.read_timeout_ms / 1000

    @property
    def request_budget(self) -> float:
        return self.request_budget_ms / 1000


class SelfHelpSettings(_Section):
    origin: HttpUrl | None = Field(
        default=None,
        description="community site speaking the Discourse JSON API",
        examples=["http://127.0.0.1:9100"],
    )
    origin_timeout_ms: Millis = Field(
        default=1500, description="one request to the community site, connect and read"
    )
    max_age_s: NonNegativeSeconds = Field(
        default=60, description="a cached bulletin is fresh this long (RFC 5861 max-age)"
    )
    stale_while_revalidate_s: NonNegativeSeconds = Field(
        default=300, description="then served while refreshed in the background"
    )
    stale_if_error_s: NonNegativeSeconds = Field(
        default=86400, description="then served while the community site fails"
    )
    snapshot_path: StrictStr | None = Field(
        default=None,
        description="last-known-good copy on disk for a cold start with Redis and the "
        "community site down; absent = none",
        examples=["/var/lib/switchboard/selfhelp.snapshot"],
    )
    snapshot_every_s: PositiveSeconds = Field(
        default=60, description="how often the snapshot is rewritten"
    )
    warm_top: AtLeastOne = Field(
        default=100, description="bulletins fetched again the moment the front door fails over"
    )


class AdminSettings(_Section):
    token: Annotated[StrictStr, Field(min_length=16)] | None = Field(default=None, repr=False)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    outlier: OutlierSettings = Field(default_factory=OutlierSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    callcenters: tuple[CallCenterSettings, ...]
    selfhelp: SelfHelpSettings = Field(default_factory=SelfHelpSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    overload: OverloadSettings = Field(default_factory=OverloadSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    dataplane: DataPlaneSettings = Field(default_factory=DataPlaneSettings)
    source: StrictStr = ""  # the file path, set by load_settings; not a TOML key

    @field_validator("callcenters", mode="before")
    @classmethod
    def _at_least_one(cls, value: object) -> object:
        # Checked before the items: pydantic's min_length counts only the valid ones.
        if isinstance(value, list | tuple) and not value:
            raise ValueError(_NO_CALLCENTERS)
        return value

    @model_validator(mode="after")
    def _ops_apart(self) -> Self:
        s, o = self.server, self.ops
        if o.port and o.port == s.port and o.host == s.host:
            raise _invalid(
                ("ops", "port"),
                f"must differ from server.port ({s.port}): the ops listener is the private one",
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        first: dict[str, int] = {}
        for index, center in enumerate(self.callcenters):
            if center.name in first:
                raise _invalid(
                    ("callcenters", index, "name"),
                    f"duplicate call-center name {center.name!r} (also callcenters"
                    f"[{first[center.name]}]); names must be unique, priorities may repeat",
                )
            first[center.name] = index
        return self

    @model_validator(mode="after")
    def _workers_share_redis(self) -> Self:
        if self.server.workers > 1 and self.redis.url is None:
            raise _invalid(
                ("server", "workers"),
                f"{self.server.workers} workers need [redis] url: without it each worker "
                "would keep its own admin switches and callback queue",
            )
        return self

    @property
    def callcenters_by_priority(self) -> tuple[CallCenterSettings, ...]:
        """Preferred first; equal priorities keep their order in the file."""
        return tuple(sorted(self.callcenters, key=lambda center: center.priority))


_SECTIONS: dict[str, type[BaseModel]] = {
    "server": ServerSettings,
    "ops": OpsSettings,
    "redis": RedisSettings,
    "health": HealthSettings,
    "outlier": OutlierSettings,
    "routing": RoutingSettings,
    "proxy": ProxySettings,
    "selfhelp": SelfHelpSettings,
    "callbacks": CallbackSettings,
    "limits": LimitSettings,
    "overload": OverloadSettings,
    "admin": AdminSettings,
    "dataplane": DataPlaneSettings,
}
