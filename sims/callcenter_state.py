"""Call-center simulator values and shared state: fault modes, health, callback log.

No sockets here: ``ModeSettings``, ``HealthReport`` and ``parse_poison`` validate what the
control API and ``CallCenterSim`` are asked to set; ``SimState`` is what the service handlers
share, the fault gate (``sims.base.Gate``) among it, and the poison rule: a callback whose
body holds a given substring fails with a given status every time, the way one payload can
trip a real call center's software on every retry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from sims.base import Gate, chosen_mode, number, status_param

JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None
HealthStatus: TypeAlias = Literal["ok", "degraded", "down"]


class Mode(StrEnum):
    UP = "up"
    DOWN = "down"
    HANG = "hang"
    SLOW = "slow"
    ERROR = "error"
    FLAP = "flap"


_MODE_PARAMS: Final[Mapping[Mode, frozenset[str]]] = {
    Mode.SLOW: frozenset({"delay_ms"}),
    Mode.ERROR: frozenset({"status"}),
    Mode.FLAP: frozenset({"period_ms"}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeSettings:
    """The current fault mode and its parameters (only the mode's own ones matter)."""

    mode: Mode = Mode.UP
    delay_ms: float = 500.0
    status: int = 503
    period_ms: float = 500.0

    @classmethod
    def parse(cls, mode: Mode | str, params: Mapping[str, object]) -> ModeSettings:
        chosen = chosen_mode(Mode, mode, params, _MODE_PARAMS)
        status = status_param(params)
        settings = cls(
            mode=chosen,
            delay_ms=number(params, "delay_ms", 500.0),
            status=status,
            period_ms=number(params, "period_ms", 500.0),
        )
        if settings.period_ms <= 0:
            raise ValueError("period_ms must be positive")
        return settings

    def as_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"mode": self.mode.value}
        for key in sorted(_MODE_PARAMS.get(self.mode, frozenset())):
            out[key] = getattr(self, key)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReport:
    """What ``GET /health`` says: semantic health, independent of the fault mode."""

    status: HealthStatus = "ok"
    agents_available: int = 12
    queue_wait_seconds: float = 30.0

    def updated(self, changes: Mapping[str, object]) -> HealthReport:
        if unknown := sorted(set(changes) - {"status", "agents_available", "queue_wait_seconds"}):
            raise ValueError(f"unknown health fields {unknown}")
        status = changes.get("status", self.status)
        if status not in ("ok", "degraded", "down"):
            raise ValueError(f"status must be ok, degraded or down, got {status!r}")
        agents = number(changes, "agents_available", self.agents_available)
        if not agents.is_integer():
            raise ValueError(f"agents_available must be an integer, got {agents}")
        return HealthReport(
            status=status,
            agents_available=int(agents),
            queue_wait_seconds=number(changes, "queue_wait_seconds", self.queue_wait_seconds),
        )


def parse_poison(params: Mapping[str, object]) -> tuple[str, int] | None:
    """``{"contains": str | None, "status": 400..599 (default 500)}`` as a poison rule
    ``(substring, status)``, or None (``contains`` null: no poison); ValueError naming the
    field otherwise."""
    if unknown := sorted(set(params) - {"contains", "status"}):
        raise ValueError(f"unknown poison fields {unknown}; expected contains and status")
    if "contains" not in params:
        raise ValueError("contains is required: a non-empty string, or null to clear")
    contains = params["contains"]
    if contains is None:
        if "status" in params:
            raise ValueError("status must be absent when contains is null")
        return None
    if not isinstance(contains, str) or not contains:
        raise ValueError(f"contains must be a non-empty string or null, got {contains!r}")
    status = params.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"status must be an integer 400..599, got {status!r}")
    return contains, status


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackDelivery:
    """One ``POST /callbacks`` as received; ``duplicate`` if its key was seen before."""

    key: str
    body: JSON
    duplicate: bool


class SimState(Gate[ModeSettings]):
    """Mutable state the service handlers share (one per simulator, across restarts); as a
    ``Gate``, the mode requests meet: while it is ``hang``, ``pass_gate`` parks them."""

    def __init__(self, name: str) -> None:
        super().__init__(ModeSettings())
        self.name = name
        self.health = HealthReport()
        self.requests: Counter[str] = Counter()
        self.deliveries: list[CallbackDelivery] = []
        self.key_counts: Counter[str] = Counter()
        # (substring, status): a callback body holding the substring is answered with the
        # status and not recorded; ``poisoned`` counts those attempts per Idempotency-Key.
        self.poison: tuple[str, int] | None = None
        self.poisoned: Counter[str] = Counter()
