"""One ``[[callcenters]]`` entry: its name (a metric label), URLs, priority and opening hours."""

from __future__ import annotations

import re
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, StrictBool, StrictStr, field_validator, model_validator

from failover.schedule import WeeklyHours, parse_hours
from failover.settings.validators import AtLeastOne, HttpUrl, UrlPath, _invalid, _Section

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class CallCenterSettings(_Section):
    name: StrictStr = Field(description="unique; a metric label, so ^[a-z0-9][a-z0-9_-]{0,31}$")
    url: HttpUrl = Field(description="base URL; /support/<path> is sent to <url>/<path>")
    health_path: UrlPath = Field(default="/health", description="GET here answers the health probe")
    priority: AtLeastOne = Field(default=1, description="lower = preferred; ties go by file order")
    callbacks_path: UrlPath = Field(default="/callbacks", description="POST callback requests here")
    timezone: StrictStr | None = Field(
        default=None, description="IANA zone of the hours", examples=["Asia/Manila"]
    )
    hours: tuple[StrictStr, ...] = Field(
        default=(),
        description='opening hours; absent = always open; "fri 22:00-02:00" runs overnight',
        examples=[("mon-fri 08:00-20:00", "sat 09:00-13:00")],
    )
    emergency: StrictBool = Field(
        default=False, description="emergency switch: true sends its customers to self-help at once"
    )

    _schedule: WeeklyHours | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _label_safe(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"bad name {value!r}: use 1-32 lower-case letters, digits, '_' or '-', starting "
                "with a letter or digit (it becomes a metric label)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        try:
            if value is not None:
                ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a tzdata folder
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')"
            ) from None
        return value

    @model_validator(mode="after")
    def _build_schedule(self) -> Self:
        if not self.hours:
            return self
        if self.timezone is None:
            raise _invalid(("hours",), 'hours need a timezone, e.g. timezone = "Europe/Berlin"')
        for index, spec in enumerate(self.hours):
            try:
                parse_hours([spec], self.timezone)
            except ValueError as exc:
                raise _invalid(("hours", index), str(exc)) from None
        self._schedule = parse_hours(self.hours, self.timezone)  # built once, here
        return self

    @property
    def schedule(self) -> WeeklyHours | None:
        """Opening hours, or None when the call center is always open.

        Built during validation; ``model_copy(update=...)`` skips validation and keeps
        the old schedule, so build a new model to change hours."""
        return self._schedule
