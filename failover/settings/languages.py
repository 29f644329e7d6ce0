"""The `[languages]` section: how the customer pages write times (issue 19).

The pages' language is the customer's (docs/pages.md, "Languages"); the time zone is
the company's: the outage banner says "since 05:32 UTC on Dec 5, 2026" in UTC unless
`timezone` names an IANA zone, e.g. "Europe/Berlin" ("06:32 CET").
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictStr, field_validator

from failover.settings.validators import _Section


class LanguageSettings(_Section):
    timezone: StrictStr = Field(
        default="UTC",
        description="IANA time zone of the times on customer pages (the outage banner)",
        examples=["Europe/Berlin"],
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as "
                             '"Europe/Berlin" or "UTC"') from None  # fmt: skip
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
