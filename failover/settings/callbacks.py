"""The `[callbacks]` section: intake, the local spool and the dispatcher's pace."""

from __future__ import annotations

import math
from typing import Annotated, Final, Self

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

# One delivery (failover/callbacks/delivery.py): up to DELIVERY_TRIES POSTs of
# delivery_timeout_ms each, with random waits between them of at most
# RETRY_WAIT_BASE_MS, then twice that, and so on (capped at RETRY_WAIT_MAX_MS).
DELIVERY_TRIES: Final = 3
RETRY_WAIT_BASE_MS: Final = 50
RETRY_WAIT_MAX_MS: Final = 1000
RETRY_WAITS_MS: Final = sum(
    min(RETRY_WAIT_MAX_MS, RETRY_WAIT_BASE_MS << i) for i in range(DELIVERY_TRIES - 1)
)  # 150 ms


def delivery_worst_ms(delivery_timeout_ms: int, rate_per_s: float) -> float:
    """The longest one delivery holds an entry once the dispatcher has started on it: its
    turn at the rate (`1 / rate_per_s` at most), every try timing out, the waits."""
    return 1000 / rate_per_s + DELIVERY_TRIES * delivery_timeout_ms + RETRY_WAITS_MS


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
        "is taken over (that front door is presumed dead); at least twice the longest one "
        "delivery can take: 2 x (1000 / rate_per_s + 3 x delivery_timeout_ms + 150)",
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
    def _reclaim_after_delivery(self) -> Self:
        # A live front door must never look dead: reclaiming an entry still being
        # delivered would post it twice. A dispatcher round starts its last delivery at
        # most reclaim_idle / 4 after it read the entries (dispatcher.py); twice one
        # delivery's worst case leaves that delivery reclaim_idle / 4 to spare for its ack.
        least = math.ceil(2 * delivery_worst_ms(self.delivery_timeout_ms, self.rate_per_s))
        _not_below(
            "reclaim_idle_ms", self.reclaim_idle_ms, least,
            f"2 x (1000 / rate_per_s + {DELIVERY_TRIES} x delivery_timeout_ms + "
            f"{RETRY_WAITS_MS})",
            why=": twice the longest one delivery can hold an entry (its turn at "
            f"rate_per_s, {DELIVERY_TRIES} tries timing out, {RETRY_WAITS_MS} ms of waits "
            "between them), or another front door takes over an entry a live one is still "
            "delivering, and it is posted twice",
        )  # fmt: skip
        return self
