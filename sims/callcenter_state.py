"""Call-center simulator values and shared state: fault modes, health, callback log.

No sockets here: ``ModeSettings`` and ``HealthReport`` validate what the control API and
``CallCenterSim`` are asked to set; ``SimState`` is what the service handlers share.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeAlias

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


def _number(params: Mapping[str, object], key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeSettings:
    """The current fault mode and its parameters (only the mode's own ones matter)."""

    mode: Mode = Mode.UP
    delay_ms: float = 500.0
    status: int = 503
    period_ms: float = 500.0

    @classmethod
    def parse(cls, mode: Mode | str, params: Mapping[str, object]) -> ModeSettings:
        if mode not in set(Mode):
            raise ValueError(f"unknown mode {mode!r}; expected one of {[m.value for m in Mode]}")
        chosen = Mode(mode)
        allowed = _MODE_PARAMS.get(chosen, frozenset())
        if unknown := sorted(set(params) - allowed):
            raise ValueError(f"mode {chosen} takes {sorted(allowed)}, got {unknown}")
        status = _number(params, "status", 503)
        if not status.is_integer() or not 400 <= status <= 599:
            raise ValueError(f"status must be an integer 400..599, got {status}")
        settings = cls(
            mode=chosen,
            delay_ms=_number(params, "delay_ms", 500.0),
            status=int(status),
            period_ms=_number(params, "period_ms", 500.0),
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
        agents = _number(changes, "agents_available", self.agents_available)
        if not agents.is_integer():
            raise ValueError(f"agents_available must be an integer, got {agents}")
        return HealthReport(
            status=status,
            agents_available=int(agents),
            queue_wait_seconds=_number(changes, "queue_wait_seconds", self.queue_wait_seconds),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackDelivery:
    """One ``POST /callbacks`` as received; ``duplicate`` if its key was seen before."""

    key: str
    body: JSON
    duplicate: bool


class SimState:
    """Mutable state the service handlers share (one per simulator, across restarts)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.settings = ModeSettings()
        self.health = HealthReport()
        self.listening = False
        self.requests: Counter[str] = Counter()
        self.deliveries: list[CallbackDelivery] = []
        self.key_counts: Counter[str] = Counter()
        self.hanging: set[asyncio.Task[object]] = set()
        self.changed = asyncio.Event()

    def announce_change(self) -> None:
        """Wake handlers parked in ``hang`` so they re-read the mode."""
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    async def pass_gate(self) -> ModeSettings:
        """Park the current handler while the mode is ``hang``; return the mode to apply."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("pass_gate() must run inside a request handler task")
        while self.settings.mode is Mode.HANG:
            self.hanging.add(task)
            try:
                await self.changed.wait()
            finally:
                self.hanging.discard(task)
        return self.settings

    def cancel_hanging(self) -> None:
        for task in self.hanging:
            task.cancel()
        self.hanging.clear()
