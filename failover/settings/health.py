"""When a call center is taken out and let back: `[health]` (active checks, rise and
fall), `[outlier]` (passive outlier detection, after Envoy's) and `[routing]` (the
hold-down before traffic returns)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictFloat, model_validator

from failover.settings.validators import AtLeastOne, Millis, NonNegativeMillis, _not_below, _Section


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
        _not_below("max_ejection_time_ms", self.max_ejection_time_ms,
                   self.base_ejection_time_ms, "base_ejection_time_ms")  # fmt: skip
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
