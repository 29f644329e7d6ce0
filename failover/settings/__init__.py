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

SECTION is one of server, ops, redis, sharing, health, outlier, routing, proxy, selfhelp,
callbacks, limits, overload, dataplane, branding, languages. The separator is a double
underscore. <NAME> is the call-center name upper-cased with '-' written as '_'
(``eu-west`` -> ``EU_WEST``); it
overrides a call center that is in the file (the environment cannot add one, nor rename
one); a NAME matching two call centers (``eu-west`` and ``eu_west``) is an error. A value
is read as a TOML value if it parses as one (``500`` -> integer, ``true`` -> boolean, ``"x"`` or
``["mon 09:00-17:00"]`` as written), else taken as a bare string
(``redis://h:6379/0``). The admin token is always taken as a bare string. Any other
``SWITCHBOARD_*`` variable is an error naming it.

Error tree::

    Exception
     └── ConfigError   every problem found, one per line: "<file>: <key>: <what is wrong>"

Modules: ``models`` (:class:`Settings`, the whole file), ``server`` (the listeners and
the admin token), ``redis``, ``health`` (health checks, outlier detection, hold-down),
``proxy``, ``selfhelp``, ``callcenters`` (one call center), ``callbacks`` (the callback
section), ``limits`` (per-client limits), ``overload`` (load shedding), ``sharing``
(health shared among replicas), ``branding`` (the customer pages' company look),
``languages``, ``dataplane``, ``validators`` (field types, URL and network checks,
cross-field checks), ``loader`` (file, environment, :func:`load_settings`), ``errors``
(:class:`ConfigError` and its messages), ``example`` (:func:`dump_example`), ``render``
(values written as TOML).
"""

from __future__ import annotations

from failover.settings.branding import BrandingSettings
from failover.settings.callbacks import CallbackSettings
from failover.settings.callcenters import CallCenterSettings
from failover.settings.errors import ConfigError
from failover.settings.example import dump_example
from failover.settings.health import HealthSettings, OutlierSettings, RoutingSettings
from failover.settings.limits import LimitSettings
from failover.settings.loader import load_settings
from failover.settings.models import Settings
from failover.settings.overload import OverloadSettings
from failover.settings.proxy import ProxySettings
from failover.settings.redis import RedisSettings
from failover.settings.selfhelp import SelfHelpSettings
from failover.settings.server import AdminSettings, OpsSettings, ServerSettings
from failover.settings.sharing import SharingSettings
from failover.settings.validators import SentinelTarget

__all__ = [
    "AdminSettings",
    "BrandingSettings",
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
    "SharingSettings",
    "dump_example",
    "load_settings",
]
