"""The `[proxy]` section: timeouts, budget and sizes of a customer's request carried to a
call center."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from failover.settings.validators import AtLeastOne, Millis, _not_below, _Section


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
    send_timeout_ms: Millis = Field(
        default=60000,
        description="each write of a streamed answer must reach the customer within this "
        "(nginx send_timeout); a customer who stops reading is cut off, its call-center "
        "connection freed, and nothing is counted against the call center",
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
        _not_below("request_budget_ms", self.request_budget_ms,
                   self.connect_timeout_ms, "connect_timeout_ms")  # fmt: skip
        return self

    @property
    def connect_timeout(self) -> float:
        return self.connect_timeout_ms / 1000

    @property
    def read_timeout(self) -> float:
        return self.read_timeout_ms / 1000

    @property
    def send_timeout(self) -> float:
        return self.send_timeout_ms / 1000

    @property
    def request_budget(self) -> float:
        return self.request_budget_ms / 1000
