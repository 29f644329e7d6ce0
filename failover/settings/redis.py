"""The `[redis]` section: where the shared state lives (absent: embedded mode)."""

from __future__ import annotations

from pydantic import Field, StrictStr, field_validator

from failover.settings.validators import SentinelTarget, _parse_sentinel, _redis_url, _Section


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
