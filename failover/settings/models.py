"""Settings: the whole configuration file, each TOML section a frozen model of its own module."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from failover.settings.branding import BrandingSettings, check_files
from failover.settings.callbacks import CallbackSettings
from failover.settings.callcenters import CallCenterSettings
from failover.settings.dataplane import DataPlaneSettings
from failover.settings.health import HealthSettings, OutlierSettings, RoutingSettings
from failover.settings.languages import LanguageSettings
from failover.settings.limits import LimitSettings
from failover.settings.overload import OverloadSettings
from failover.settings.proxy import ProxySettings
from failover.settings.redis import RedisSettings
from failover.settings.selfhelp import SelfHelpSettings
from failover.settings.server import AdminSettings, OpsSettings, ServerSettings
from failover.settings.sharing import SharingSettings
from failover.settings.validators import _invalid

_NO_CALLCENTERS = "at least one [[callcenters]] entry (with name and url) is required"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    sharing: SharingSettings = Field(default_factory=SharingSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    outlier: OutlierSettings = Field(default_factory=OutlierSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    callcenters: tuple[CallCenterSettings, ...]
    selfhelp: SelfHelpSettings = Field(default_factory=SelfHelpSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    overload: OverloadSettings = Field(default_factory=OverloadSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    dataplane: DataPlaneSettings = Field(default_factory=DataPlaneSettings)
    branding: BrandingSettings = Field(default_factory=BrandingSettings)
    languages: LanguageSettings = Field(default_factory=LanguageSettings)  # issue 19
    source: StrictStr = ""  # the file path, set by load_settings; not a TOML key

    @field_validator("callcenters", mode="before")
    @classmethod
    def _at_least_one(cls, value: object) -> object:
        # Checked before the items: pydantic's min_length counts only the valid ones.
        if isinstance(value, list | tuple) and not value:
            raise ValueError(_NO_CALLCENTERS)
        return value

    @model_validator(mode="after")
    def _ops_apart(self) -> Self:
        s, o = self.server, self.ops
        if o.port and o.port == s.port and o.host == s.host:
            raise _invalid(
                ("ops", "port"),
                f"must differ from server.port ({s.port}): the ops listener is the private one",
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        first: dict[str, int] = {}
        for index, center in enumerate(self.callcenters):
            if center.name in first:
                raise _invalid(
                    ("callcenters", index, "name"),
                    f"duplicate call-center name {center.name!r} (also callcenters"
                    f"[{first[center.name]}]); names must be unique, priorities may repeat",
                )
            first[center.name] = index
        return self

    @model_validator(mode="after")
    def _workers_share_redis(self) -> Self:
        if self.server.workers > 1 and self.redis.url is None:
            raise _invalid(
                ("server", "workers"),
                f"{self.server.workers} workers need [redis] url: without it each worker "
                "would keep its own admin switches and callback queue",
            )
        return self

    @model_validator(mode="after")
    def _branding_files(self) -> Self:
        if (problem := check_files(self.branding, self.source)) is not None:
            raise _invalid(*problem)
        return self

    @property
    def callcenters_by_priority(self) -> tuple[CallCenterSettings, ...]:
        """Preferred first; equal priorities keep their order in the file."""
        return tuple(sorted(self.callcenters, key=lambda center: center.priority))


_SECTIONS: dict[str, type[BaseModel]] = {
    "server": ServerSettings,
    "ops": OpsSettings,
    "redis": RedisSettings,
    "sharing": SharingSettings,
    "health": HealthSettings,
    "outlier": OutlierSettings,
    "routing": RoutingSettings,
    "proxy": ProxySettings,
    "selfhelp": SelfHelpSettings,
    "callbacks": CallbackSettings,
    "limits": LimitSettings,
    "overload": OverloadSettings,
    "admin": AdminSettings,
    "dataplane": DataPlaneSettings,
    "branding": BrandingSettings,
    "languages": LanguageSettings,  # issue 19
}
