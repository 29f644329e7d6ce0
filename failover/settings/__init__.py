"""Configuration: one TOML file plus ``SWITCHBOARD_*`` environment overrides.

:func:`load_settings` reads the file (tomllib), applies the environment, and
validates everything into frozen pydantic models. This package is the only place
in the product that reads the environment. Types are strict: ``port = "80"`` is
an error, not a silent conversion; millisecond fields are integers.

Environment overrides (names are matched case-insensitively after the prefix)::

    SWITCHBOARD_<SECTION>__<KEY>=value           e.g. SWITCHBOARD_HEALTH__INTERVAL_MS=500
    SWITCHBOARD_CALLCENTERS__<NAME>__<KEY>=value e.g. SWITCHBOARD_CALLCENTERS__EU_WEST__PRIORITY=3
    SWITCHBOARD_ADMIN_TOKEN=secret               sets admin.token (the only way to set it)
    SWITCHBOARD_CONFIG                           ignored (reserved)

SECTION is one of server, ops, redis, health, outlier, routing, proxy, selfhelp,
callbacks, limits, overload. The separator is a double underscore. <NAME> is the
call-center name upper-cased with '-' written as '_' (``eu-west`` -> ``EU_WEST``); it
overrides a call center that is in the file (the environment cannot add one, nor rename
one); a NAME matching two call centers (``eu-west`` and ``eu_west``) is an error. A value
is read as a TOML value if it parses as one (``500`` -> integer, ``true`` -> boolean, ``"x"`` or
``["mon 09:00-17:00"]`` as written), else taken as a bare string
(``redis://h:6379/0``). The admin token is always taken as a bare string. Any other
``SWITCHBOARD_*`` variable is an error naming it.

Error tree::

    Exception
     └── ConfigError   every problem found, one per line: "<file>: <key>: <what is wrong>"

Modules: ``models`` (the sections and :class:`Settings`), ``callcenters`` (one call
center), ``callbacks`` (the callback section), ``limits`` (per-client limits),
``overload`` (load shedding),
``validators`` (field types, URL and network checks), ``loader`` (file, environment,
:func:`load_settings`), ``errors`` (:class:`ConfigError` and its messages), ``example``
(:func:`dump_example`), ``render`` (values written as TOML).
"""

from __future__ import annotations

from failover.settings.callbacks import CallbackSettings
from failover.settings.callcenters import CallCenterSettings
from failover.settings.errors import ConfigError
from failover.settings.example import dump_example
from failover.settings.limits import LimitSettings
from failover.settings.loader import load_settings
from failover.settings.models import (
    AdminSettings,
    HealthSettings,
    OpsSettings,
    OutlierSettings,
    ProxySettings,
    RedisSettings,
    RoutingSettings,
    SelfHelpSettings,
    ServerSettings,
    Settings,
)
from failover.settings.overload import OverloadSettings
from failover.settings.validators import SentinelTarget

__all__ = [
    "AdminSettings",
    "CallCenterSettings",
    "CallbackSettings",
    "ConfigError",
    "HealthSettings",
    "LimitSettings",
    "OpsSettings",
    "OutlierSettings",
    "OverloadSettings",
    "ProxySettings",
    "RedisSettings",
    "RoutingSettings",
    "SelfHelpSettings",
    "SentinelTarget",
    "ServerSettings",
    "Settings",
    "dump_example",
    "load_settings",
]
