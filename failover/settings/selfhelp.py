"""The `[selfhelp]` section: the community site behind the self-help pages, and how long
its bulletins are cached."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from failover.settings.validators import (
    AtLeastOne,
    HttpUrl,
    Millis,
    NonNegativeSeconds,
    PositiveSeconds,
    _Section,
)


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
    trending_min_views: AtLeastOne = Field(
        default=5,
        description='views a bulletin needs before "Trending now" may show it: each one a '
        "distinct customer's (counted once per customer per [limits] view_window_s), fading "
        "by half every hour",
    )
    trending_min_chars: Annotated[StrictInt, Field(ge=0, le=100_000)] = Field(
        default=100,
        description='characters of text a bulletin needs before "Trending now" may show it '
        '(a one-line post such as "ok click" never leads the page)',
    )
