"""The `[callbacks]` section: intake, the local spool and the dispatcher's pace."""

from __future__ import annotations

from typing import Annotated, Self

import phonenumbers
from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from failover.settings.validators import AtLeastOne, Millis, PositiveSeconds, _not_below, _Section


class CallbackSettings(_Section):
    enabled: StrictBool = Field(
        default=True, description="take callback requests (needs [redis] url; see the README)"
    )
    spool_path: StrictStr = Field(
        default="callbacks.spool",
        min_length=1,
        description="local SQLite spool for callbacks taken while Redis is unreachable "
        "(or its replicas do not confirm them); one per front door; a relative path is "
        "read from [server] data_dir",
        examples=["/var/lib/switchboard/callbacks.spool"],
    )
    replicas_to_ack: Annotated[StrictInt, Field(ge=0, le=16)] | None = Field(
        default=None,
        description="a callback is acknowledged (202) only once this many Redis replicas "
        "confirm it (WAIT); fewer in time and it is spooled locally instead (absent = 1 "
        "with redis+sentinel://, else 0)",
    )
    replica_ack_timeout_ms: Millis = Field(
        default=500, description="how long WAIT may take for replicas_to_ack replicas"
    )
    rate_per_s: Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)] = Field(
        default=20.0, description="deliveries per second at most, per front door"
    )
    burst: AtLeastOne = Field(default=5, description="deliveries allowed back to back")
    max_attempts: AtLeastOne = Field(
        default=5,
        description="a callback the call center fails on this many times goes to the "
        "dead-letter stream",
    )
    delivery_timeout_ms: Millis = Field(
        default=2000, description="one POST to a call center's callbacks_path, connect and read"
    )
    reclaim_idle_ms: Millis = Field(
        default=30000,
        description="a callback another front door took but did not finish for this long "
        "is taken over (that front door is presumed dead)",
    )
    consumer: StrictStr | None = Field(
        default=None,
        description="this front door's name in the Redis consumer group; keep it stable "
        "across restarts (absent = host name and port)",
        examples=["frontdoor-1"],
    )
    phone_region: StrictStr = Field(
        default="US", description="how phone numbers without +country code are read"
    )
    form_secret: Annotated[StrictStr, Field(min_length=16)] | None = Field(
        default=None,
        repr=False,
        description="signs the callback form's anti-forgery tokens; from env "
        "SWITCHBOARD_CALLBACKS__FORM_SECRET (absent = the replicas agree on a random one "
        "through Redis, key sb:callbacks:form_secret, so a form served by one replica is "
        "accepted by any)",
    )
    form_max_age_s: PositiveSeconds = Field(
        default=7200, description="how long a callback form may stay open before submitting"
    )

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}; use an ISO 3166 code such as US or DE")
        return value.upper()

    @model_validator(mode="after")
    def _reclaim_after_timeout(self) -> Self:
        # A live front door must never look dead: reclaiming an entry still being
        # delivered would post it twice.
        _not_below("reclaim_idle_ms", self.reclaim_idle_ms,
                   3 * self.delivery_timeout_ms, "3 x delivery_timeout_ms")  # fmt: skip
        return self
