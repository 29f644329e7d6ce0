"""The `[overload]` section: when the front door sheds self-help work, and how far.

Stages and rules: kernel/overload.py. Defaults: the last stage (static) is entered at
an event-loop lag of 250 ms, the self-help latency SLO's p99 (loadtests/slo.toml): past
it customers would already wait longer than the SLO allows for any answer.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictBool, StrictFloat, model_validator

from failover.settings.validators import AtLeastOne, Millis, NonNegativeMillis, _invalid, _Section
from kernel.overload import (
    OverloadPolicy,
    Stage,
    default_thresholds,
)

Share = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]


class OverloadSettings(_Section):
    enabled: StrictBool = Field(
        default=True,
        description="measure overload and shed self-help work in stages (normal, "
        "shed_background, memory_only, static); /support and callbacks are never shed",
    )
    sample_interval_ms: Millis = Field(
        default=100, description="how often event-loop lag and in-flight requests are sampled"
    )
    capacity: AtLeastOne = Field(
        default=200,
        description="self-help requests in flight (waiting on Redis or the community site) "
        "that count as a full load (1.0)",
    )
    lag_ms: tuple[Millis, Millis, Millis] = Field(
        default=(50, 100, 250),
        description="event-loop lag that calls for shed_background, memory_only, static",
    )
    load: tuple[Share, Share, Share] = Field(
        default=(0.5, 0.8, 1.0),
        description="in-flight requests / capacity that call for the same three stages",
    )
    exit_ratio: Annotated[StrictFloat, Field(gt=0, lt=1, allow_inf_nan=False)] = Field(
        default=0.4,
        description="a stage is left once both signals are below this share of its entry "
        "levels (hysteresis)",
    )
    up_after_ms: NonNegativeMillis = Field(
        default=500, description="a higher stage must be called for this long before it is entered"
    )
    cool_down_ms: NonNegativeMillis = Field(
        default=5000, description="calm needed before each step down, one stage at a time"
    )
    force_stage: Stage | None = Field(
        default=None,
        description="hold this stage whatever is measured (an operator's choice during an "
        "incident, or a test's); absent = measured",
        examples=["memory_only"],
    )
    flush_every_ms: Millis = Field(
        default=5000, description="while shedding, views and votes reach Redis this often"
    )
    prerender_top: AtLeastOne = Field(
        default=50, description="most-read bulletin pages kept rendered for the shedding stages"
    )
    static_top: AtLeastOne = Field(
        default=20, description="most-read bulletins written in full on the static page"
    )

    @model_validator(mode="after")
    def _levels_rise(self) -> Self:
        for key, levels in (("lag_ms", self.lag_ms), ("load", self.load)):
            if list(levels) != sorted(levels):
                raise _invalid(
                    (key,), f"must not decrease from one stage to the next, got {list(levels)}"
                )
        return self

    def policy(self) -> OverloadPolicy:
        return OverloadPolicy(
            thresholds=default_thresholds(self.lag_ms, self.load, self.exit_ratio),
            capacity=self.capacity,
            up_after=self.up_after_ms / 1000,
            cool_down=self.cool_down_ms / 1000,
            forced=self.force_stage,
        )
