"""The operator switches as values (pure): what is stored in Redis and read back
(failover/switches.py), and the audit log's entries."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from failover.routing import Override, OverrideKind


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    at: str  # RFC 3339, UTC
    actor: str
    remote: str
    action: str  # override | emergency | drain | rewarm | message
    target: str  # a call-center name, "all", or the override mode
    detail: str
    replica: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Desired:
    """The switches as stored: what every replica should apply."""

    override: Override | None = None
    emergency: frozenset[str] = frozenset()
    drained: frozenset[str] = frozenset()
    message: str | None = None  # the outage banner's operator message; None = the configured


def _override_json(o: Override | None) -> str | None:
    if o is None:
        return None
    return json.dumps({"kind": o.kind.value, "callcenter": o.callcenter, "reason": o.reason})


def _override_of(text: str | None) -> Override | None:
    if not text:
        return None
    data = json.loads(text)
    return Override(
        kind=OverrideKind(data["kind"]), callcenter=data.get("callcenter"),
        reason=str(data.get("reason", "")),
    )  # fmt: skip


def desired_of(raw: dict[str, str], names: Sequence[str]) -> Desired:
    """Read the stored hash; names not configured here are ignored (another version's)."""
    known = set(names)
    override = None
    with contextlib.suppress(ValueError, KeyError, TypeError):
        override = _override_of(raw.get("override"))
    if (
        override is not None
        and override.callcenter is not None
        and override.callcenter not in known
    ):
        override = None
    return Desired(
        override=override,
        emergency=frozenset(n for n in known if raw.get(f"emergency:{n}") == "1"),
        drained=frozenset(n for n in known if raw.get(f"drained:{n}") == "1"),
        message=raw.get("message"),
    )


def raw_of(desired: Desired) -> dict[str, str]:
    raw = {f"emergency:{n}": "1" for n in desired.emergency}
    raw |= {f"drained:{n}": "1" for n in desired.drained}
    if (o := _override_json(desired.override)) is not None:
        raw["override"] = o
    if desired.message is not None:
        raw["message"] = desired.message
    return raw
