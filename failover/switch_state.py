"""The operator switches as values (pure): what is stored in Redis and read back
(failover/switches.py), and the audit log's entries.

Redis is shared and outlives a version of this code, so what is read back is checked as
what an operator sends is (failover/admin.py): an operator's text (an override's reason,
the banner message, an audit entry's fields) is cleaned by `one_line`, and a stored value
of the wrong shape is ignored (`desired_of` tells `warn`), never raised.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from failover.jsonbody import depth_of
from failover.routing import Override, OverrideKind

MAX_TEXT: Final = 200  # an override's reason, the banner message (as [branding] message)


def one_line(text: str) -> str:
    """Plain text on one line: what is not printable (control characters, line breaks, a
    lone surrogate such as "\\ud800", which no encoder takes) becomes a space, and runs
    of spaces become one."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


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
    """The stored override. ValueError or TypeError if it is not as `_override_json`
    writes it."""
    if not text:
        return None
    if depth_of(text.encode("utf-8", "surrogatepass"), stop_above=1) > 1:
        raise ValueError("nested")  # before json.loads, which recurses once per level
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TypeError("not an object")
    kind, callcenter, reason = (
        OverrideKind(str(data.get("kind"))),
        data.get("callcenter"),
        data.get("reason", ""),
    )
    pinned = kind is OverrideKind.FORCE_CALLCENTER
    if not isinstance(reason, str) or not (
        isinstance(callcenter, str) if pinned else callcenter is None
    ):
        raise TypeError("callcenter or reason of the wrong type")
    return Override(kind=kind, callcenter=callcenter, reason=one_line(reason)[:MAX_TEXT])


def desired_of(
    raw: dict[str, str], names: Sequence[str], *, warn: Callable[[str], None] = lambda _: None
) -> Desired:
    """Read the stored hash; names not configured here are ignored (another version's), a
    malformed override is ignored and `warn` is told why."""
    known = set(names)
    override = None
    try:
        override = _override_of(raw.get("override"))
    except (ValueError, TypeError) as exc:  # a JSONDecodeError is a ValueError
        warn(f"stored override ignored ({exc}): {raw.get('override', '')[:80]!r}")
    if (
        override is not None
        and override.callcenter is not None
        and override.callcenter not in known
    ):
        override = None
    message = raw.get("message")
    return Desired(
        override=override,
        emergency=frozenset(n for n in known if raw.get(f"emergency:{n}") == "1"),
        drained=frozenset(n for n in known if raw.get(f"drained:{n}") == "1"),
        message=None if message is None else one_line(message)[:MAX_TEXT],
    )


def audit_entry_of(data: Any) -> AuditEntry | None:
    """A stored audit entry (decoded JSON), its text cleaned; None if it is not one."""
    fields = [f.name for f in dataclasses.fields(AuditEntry)]
    if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
        return None
    return AuditEntry(**{f: one_line(data[f])[: 4 * MAX_TEXT] for f in fields})


def raw_of(desired: Desired) -> dict[str, str]:
    raw = {f"emergency:{n}": "1" for n in desired.emergency}
    raw |= {f"drained:{n}": "1" for n in desired.drained}
    if (o := _override_json(desired.override)) is not None:
        raw["override"] = o
    if desired.message is not None:
        raw["message"] = desired.message
    return raw
