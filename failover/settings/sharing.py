"""The `[sharing]` section: replicas share what their probes see through Redis (issue 15).

With `[redis] url` set and `enabled` (the default), each replica publishes its own health
verdicts and outlier ejections and applies its peers' (rules: failover/peers.py; the
Redis side: failover/shared_health.py; docs/replicas.md). Without Redis there is nothing
to share through, and each replica (each worker process) decides on its own probes.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictBool, StrictStr, model_validator

from failover.settings.validators import Millis, _not_below, _Section

ReplicaId = Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=r"^[\w.:@/-]+$")]


class SharingSettings(_Section):
    enabled: StrictBool = Field(
        default=True,
        description="share health verdicts and ejections with the other replicas through "
        "[redis] (no effect without it); false: each replica decides on its own probes",
    )
    replica_id: ReplicaId | None = Field(
        default=None,
        description="this replica's name among its peers (letters, digits, . : @ / - _); "
        "absent = host name and process id; with server.workers > 1 each worker adds /w<i>",
        examples=["frontdoor-a"],
    )
    refresh_ms: Millis = Field(
        default=1000,
        description="how often a replica publishes its verdicts again when nothing changed "
        "(a change is published at once)",
    )
    peer_ttl_ms: Millis = Field(
        default=3000,
        description="a peer's verdicts are forgotten this long after it was last heard "
        "(it died, or Redis is gone); at least 2 x refresh_ms",
    )

    @model_validator(mode="after")
    def _ttl_covers_refreshes(self) -> Self:
        _not_below("peer_ttl_ms", self.peer_ttl_ms, 2 * self.refresh_ms, "2 x refresh_ms",
                   why=": one lost refresh would make a live peer look gone")  # fmt: skip
        return self

    @property
    def refresh(self) -> float:
        return self.refresh_ms / 1000

    @property
    def peer_ttl(self) -> float:
        return self.peer_ttl_ms / 1000
