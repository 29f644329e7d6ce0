"""Who sees what of the status (issue 14, item 7): `/status` and `/api/v1/status` are on
the customer port, so without credentials they show the public view; with the admin
bearer token (`failover.admin`, the same check as /admin) the operator view.

The operator view is everything `failover.status.gather` collects. The public view is
built from it by allow-list, field by field, so that a fact added to `gather` later
stays operator-only until someone decides otherwise here. Left out, or replaced by
what the structured facts say:

- the audit log, and who set an override, from where and on which replica: admin
  names, client addresses and host names;
- free text an operator wrote (an override's reason, also quoted in the routing
  reason): it may name anything;
- a probe's error text (`ClientConnectorError: Cannot connect to host 10.1.2.3:8443
  ...`), in the call center's card and in the timeline's health reasons: it names the
  call center's internal address; the public view says what kind of failure it was;
- the health status string a call center reported, unless it is one of the contract's;
- how Redis persists callbacks (its configuration).

Answers: no Authorization header: the public view. A valid token: the operator view. A
wrong one: 401 (admin disabled: 403), exactly as /admin answers, never a silent
downgrade that would leave an operator reading the wrong view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aiohttp import hdrs, web

from failover.admin import authorize

Json = dict[str, Any]
View = Callable[[Json], Json]

REPORTED: Final = frozenset({"ok", "degraded", "down"})  # the contract's health statuses
FAILURE_WORDS: Final = {
    "connect": "could not connect",
    "timeout": "no answer in time",
    "reported_down": "reported down",
}
# The public fields, part by part. `reason`, `override`, `callcenters`, `callbacks` and
# `timeline` are rebuilt below from their public fields.
TOP: Final = ("generated_at", "destination", "failover_active", "since", "since_age_s",
              "switches", "redis", "cache", "config", "overload", "unknown",
              "error")  # fmt: skip
PARTS: Final = {
    "switches": ("emergency", "drained", "shared", "in_sync"),
    "redis": ("configured", "reachable"),
    "cache": ("redis_breaker_open", "origin_breaker_open", "bulletins_known", "l1_entries"),
    # The reload's detail (which may quote the file's problems) is operator-only.
    "config": ("version", "generation", "loaded_at"),
    # The load-shedding stage and its two signals; the transitions' reasons stay inside.
    "overload": (
        "stage",
        "level",
        "since",
        "forced",
        "measured",
        "lag_ms",
        "in_flight",
        "capacity",
        "recent",
    ),
}
CALLCENTER: Final = ("name", "priority", "health", "availability", "health_since", "ejected",
                     "ejected_until", "ejections", "emergency", "drained")  # fmt: skip
PROBE: Final = ("at", "latency_ms", "http_status", "agents_available", "queue_wait_seconds",
                "failure")  # fmt: skip
CALLBACKS: Final = ("enabled", "pending", "spooled", "dead_lettered", "oldest_pending_age_s",
                    "redis_ok")  # fmt: skip
EVENT: Final = ("at", "kind", "callcenter", "from", "to", "until", "switch", "value")


def operator(facts: Json) -> Json:
    return {**facts, "view": "operator"}


def public(facts: Json) -> Json:
    out: Json = {"view": "public"}
    for key in TOP:
        if key in facts:
            value = facts[key]
            out[key] = _pick(value, PARTS[key]) if key in PARTS and value is not None else value
    if "reason" in facts:
        out["reason"] = _reason(facts["reason"])
    if "override" in facts:
        out["override"] = _pick(facts["override"], ("kind", "callcenter"))
    if "callcenters" in facts:
        out["callcenters"] = _each(facts["callcenters"], _callcenter)
    if "callbacks" in facts:
        out["callbacks"] = _pick(facts["callbacks"], CALLBACKS)
    cache = facts.get("cache")
    if (
        isinstance(cache, dict)
        and cache.get("snapshot_error")
        and isinstance(out.get("cache"), dict)
    ):
        # The error names the file and the OS's words: that the copy is stale is public.
        out["cache"]["snapshot_error"] = "the snapshot could not be written"
    if "timeline" in facts:
        out["timeline"] = _each(facts["timeline"], _event)
    return out


def viewer(request: web.Request) -> View | web.Response:
    """The view this request may see, or the 401/403 for a wrong token."""
    if hdrs.AUTHORIZATION not in request.headers:
        return public
    denied = authorize(request)
    return operator if denied is None else denied


def _reason(reason: str | None) -> str | None:
    # Routing reasons are made of call-center names and states (failover/routing.py
    # `_describe`), except an override's, which quotes what the operator wrote.
    if reason is not None and reason.startswith("override "):
        return reason.split(":", 1)[0]
    return reason


def _pick(d: Json | None, keys: tuple[str, ...]) -> Json | None:
    return None if d is None else {k: d[k] for k in keys if k in d}


def _each(items: list[Json] | None, public_one: Callable[[Json], Json]) -> list[Json] | None:
    return None if items is None else [public_one(item) for item in items]


def _callcenter(c: Json) -> Json:
    out: Json = {k: c[k] for k in CALLCENTER if k in c}
    probe = c.get("last_probe")
    out["last_probe"] = None if probe is None else _probe(probe)
    return out


def _probe(p: Json) -> Json:
    out: Json = {k: p.get(k) for k in PROBE}
    status = p.get("status")
    out["status"] = status if status is None or status in REPORTED else "unrecognised"
    failure = p.get("failure")
    if failure == "http_status":
        out["detail"] = f"HTTP {p.get('http_status')}"
    elif failure is not None:
        out["detail"] = FAILURE_WORDS.get(failure, "failed")
    else:
        out["detail"] = f"status {out['status']}" if out["status"] not in (None, "ok") else ""
    return out


def _event(e: Json) -> Json:
    out: Json = {k: e[k] for k in EVENT if k in e}
    reason = e.get("reason")
    if e.get("kind") == "health" and reason:
        # "2 x fail: <the probe's error text>": the count is the public part.
        out["reason"] = reason.split(": ", 1)[0]
    elif e.get("kind") == "route":
        out["reason"] = _reason(reason)
    elif "reason" in e:  # an ejection's: counts of failures (kernel/breaker.py)
        out["reason"] = reason
    return out
