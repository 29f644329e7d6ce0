"""What a configuration reload may change, and what changed (issue 17). Pure: settings in,
a `ConfigDiff` out; no I/O.

Reloadable (applied live, without dropping a customer request, by `failover.configstate`):

- `[[callcenters]]`: added, removed, or changed in any key (url, health_path, priority,
  callbacks_path, timezone, hours, emergency);
- `[health]`, `[outlier]`, `[routing]`: every key;
- `[proxy]`: `connect_timeout_ms`, `read_timeout_ms`, `request_budget_ms`, `buffer_bytes`,
  `send_timeout_ms`.

In the HAProxy data plane (`[dataplane] mode = "haproxy"`), call centers added, removed
or given another address need a new HAProxy configuration too: such a reload is refused
(their other keys, priorities included, stay live).

Everything else needs a restart: sockets, worker processes, Redis connections, the
self-help layer, the callback machinery, limits and the admin token are built once at
start. A reload that changes any of those keys is refused as a whole (nothing applied),
and the answer and the log line name every such key: the configuration in force is then
always one file's content, and its version (`fingerprint`) means what it says. The list
is an allow-list: a key added to the settings later is restart-only until someone makes
it live here and in `configstate`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from failover.settings import Settings

RELOADABLE_SECTIONS: Final = frozenset({"health", "outlier", "routing"})
RELOADABLE_PROXY_KEYS: Final = frozenset(
    {
        "connect_timeout_ms",
        "read_timeout_ms",
        "request_budget_ms",
        "buffer_bytes",
        "send_timeout_ms",
    }
)
# Not part of the version: secrets (a hash of them is still a hint), and where it was read.
_NOT_HASHED: Final[dict[str, Any]] = {
    "source": True,
    "admin": {"token"},
    "redis": {"url"},  # may carry a password
    "callbacks": {"form_secret"},
}
# A call center whose probes and customers must start afresh when one of these changes:
# what was learnt about it was learnt about another address.
ADDRESS_KEYS: Final = frozenset({"url", "health_path"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # call centers kept by name with some key changed
    readdressed: tuple[str, ...] = ()  # of `changed`: url or health_path changed
    keys: tuple[str, ...] = ()  # reloadable keys changed, "health.interval_ms", ...
    restart_only: tuple[str, ...] = ()  # keys changed that need a restart

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.keys or self.restart_only)

    def as_json(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "keys": list(self.keys),
        }


def fingerprint(settings: Settings) -> str:
    """The version of a configuration: 12 hex digits of SHA-256 over its values (not the
    file's bytes: comments and key order do not matter; environment overrides do)."""
    data = settings.model_dump(mode="json", exclude=_NOT_HASHED)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def diff(old: Settings, new: Settings) -> ConfigDiff:
    keys: list[str] = []
    restart: list[str] = []
    for section in Settings.model_fields:
        if section in ("callcenters", "source"):
            continue
        before = getattr(old, section).model_dump(mode="json")
        after = getattr(new, section).model_dump(mode="json")
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) == after.get(key):
                continue
            live = section in RELOADABLE_SECTIONS or (
                section == "proxy" and key in RELOADABLE_PROXY_KEYS
            )
            (keys if live else restart).append(f"{section}.{key}")
    was = {c.name: c.model_dump(mode="json") for c in old.callcenters}
    now = {c.name: c.model_dump(mode="json") for c in new.callcenters}
    kept = [n for n in now if n in was]
    changed = [n for n in kept if was[n] != now[n]]
    readdressed = [n for n in changed if any(was[n][k] != now[n][k] for k in ADDRESS_KEYS)]
    if [n for n in was if n in now] != kept:  # ties in priority go by file order
        keys.append("callcenters.order")
    added = tuple(n for n in now if n not in was)
    removed = tuple(n for n in was if n not in now)
    if new.dataplane.mode == "haproxy" and (added or removed or readdressed):
        # HAProxy's server list and addresses come from the config it was started with
        # (`switchboard haproxy-config`): they change with a new HAProxy config and a
        # restart of both, not with a reload here.
        restart.append("callcenters (haproxy data plane: servers and addresses)")
    return ConfigDiff(
        added=added,
        removed=removed,
        changed=tuple(changed),
        readdressed=tuple(readdressed),
        keys=tuple(keys),
        restart_only=tuple(restart),
    )
