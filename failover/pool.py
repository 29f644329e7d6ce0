"""The pool: owner of every call center's health, breaker and switches (pure).

The pool is the one mutable object of the decision core. Drivers feed it probe
results (`observe_probe`), proxy outcomes (`record_outcome`) and operator switches,
always with `now`; it answers with events to log and count. `route` gives the
routing decision for a request. `snapshot` hands out an immutable view for status
pages and metrics; it is rebuilt only after a change. What it holds for each call
center is a frozen `Member` (`failover/members.py`), replaced whole on every change.

Clock: `now` is a monotonic number of seconds chosen by the driver; `wall` is an
aware datetime, used only for hours of operation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from failover.health import (
    SERVING_STATES,
    HealthPolicy,
    HealthState,
    ProbeResult,
    Transition,
    classify,
)
from failover.members import CallCenterSpec, Member, reconfigured
from failover.peers import HoldKind, PeerHold, corroborated_rise
from failover.routing import CallCenterView, Decision, Override, RouteChange, Router, valid_until
from kernel.breaker import Ejection, Outcome, OutlierPolicy

# CallCenterSpec (failover/members.py) is the pool's input, so it is named here too.
__all__ = [
    "CallCenterSpec",
    "Ejected",
    "Event",
    "HealthChange",
    "Pool",
    "PoolSnapshot",
    "SwitchChanged",
    "UnknownCallCenterError",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthChange:
    callcenter: str
    transition: Transition


@dataclass(frozen=True, slots=True, kw_only=True)
class Ejected:
    callcenter: str
    ejection: Ejection


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchChanged:
    callcenter: str | None
    switch: str  # "emergency", "drained", "override"
    value: str
    at: float


Event = HealthChange | Ejected | SwitchChanged | RouteChange


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSnapshot:
    members: tuple[Member, ...]
    views: tuple[CallCenterView, ...]
    router: Router
    override: Override | None
    timeline: tuple[Event, ...]
    version: int


class UnknownCallCenterError(KeyError):
    """A switch or an outcome named a call center the pool does not have."""


class Pool:
    def __init__(
        self,
        specs: Sequence[CallCenterSpec],
        *,
        health: HealthPolicy,
        outlier: OutlierPolicy,
        hold_down: float,
        timeline_size: int = 200,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate call-center names in {names}")
        self._members = {
            s.name: Member(spec=s, order=i, emergency=s.emergency) for i, s in enumerate(specs)
        }
        self._health = health
        self._outlier = outlier
        self._router = Router(hold_down=hold_down)
        self._override: Override | None = None
        self._timeline: deque[Event] = deque(maxlen=timeline_size)
        self._version = 0
        self._snapshot: PoolSnapshot | None = None
        self._views: tuple[CallCenterView, ...] | None = None
        # (version, valid until, decision): the memo of the last routing decision.
        self._memo: tuple[int, float, Decision] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._members)

    def _member(self, name: str) -> Member:
        try:
            return self._members[name]
        except KeyError:
            raise UnknownCallCenterError(name) from None

    def _put(self, member: Member, events: Sequence[Event] = ()) -> list[Event]:
        self._members[member.spec.name] = member
        self._timeline.extend(events)
        self._version += 1
        self._snapshot = None
        self._views = None
        return list(events)

    def observe_probe(self, name: str, result: ProbeResult, *, now: float) -> list[Event]:
        m = self._members.get(name)
        if m is None:
            return []  # a probe that was under way when a reload removed its call center
        obs = classify(result, self._health)
        machine, transition = m.machine.observe(
            obs, now=now, policy=self._health, detail=result.detail
        )
        m = replace(m, machine=machine, last_probe=result, last_probe_at=now)
        if transition is None:
            return self._put(m)
        was_serving = transition.source in SERVING_STATES
        now_serving = transition.target in SERVING_STATES
        if now_serving and not was_serving and transition.source is not HealthState.UNKNOWN:
            m = replace(m, stable_since=now)  # back from DOWN: hold-down counts from here
        return self._put(m, [HealthChange(callcenter=name, transition=transition)])

    def record_outcome(self, name: str, outcome: Outcome, *, now: float) -> list[Event]:
        m = self._members.get(name)
        if m is None:
            # A customer's attempt that was under way when a reload removed its call
            # center (issue 17): the customer still gets the answer; nothing to count.
            return []
        breaker, ejection = m.breaker.record(outcome, now=now, policy=self._outlier)
        if breaker is m.breaker or breaker == m.breaker:
            # The common case, a success in a calm pool (the very same object: no field
            # by field comparison): no new snapshot.
            return []
        events: list[Event] = []
        if ejection is not None:
            events.append(Ejected(callcenter=name, ejection=ejection))
        return self._put(replace(m, breaker=breaker), events)

    def set_emergency(self, name: str, on: bool, *, now: float) -> list[Event]:
        m = self._member(name)
        if m.emergency == on:
            return []
        event = SwitchChanged(callcenter=name, switch="emergency", value=str(on).lower(), at=now)
        return self._put(replace(m, emergency=on, stable_since=now), [event])

    def set_drained(self, name: str, on: bool, *, now: float) -> list[Event]:
        m = self._member(name)
        if m.drained == on:
            return []
        event = SwitchChanged(callcenter=name, switch="drained", value=str(on).lower(), at=now)
        return self._put(replace(m, drained=on, stable_since=now), [event])

    def set_override(self, override: Override | None, *, now: float) -> list[Event]:
        if override is not None and override.callcenter is not None:
            self._member(override.callcenter)
        if override == self._override:
            return []
        self._override = override
        value = "automatic" if override is None else override.kind.value
        if override is not None and override.callcenter:
            value = f"{value}:{override.callcenter}"
        event = SwitchChanged(callcenter=None, switch="override", value=value, at=now)
        self._timeline.append(event)
        self._version += 1
        self._snapshot = None
        return [event]

    def set_peer_hold(self, name: str, hold: PeerHold | None, *, now: float) -> list[Event]:
        """Apply (or lift) a peer's verdict (issue 15). Lifting a DOWN restarts the
        hold-down, as a return from DOWN does; an event only when the kind changes."""
        m = self._members.get(name)
        if m is None or m.peer == hold:
            return []
        was, kind = (m.peer.kind if m.peer else None), (hold.kind if hold else None)
        stable = now if was is HoldKind.DOWN and kind is not HoldKind.DOWN else m.stable_since
        m = replace(m, peer=hold, stable_since=stable)
        if was == kind:
            return self._put(m)
        value = "clear" if kind is None else kind.value
        return self._put(m, [SwitchChanged(callcenter=name, switch="peer", value=value, at=now)])

    def adopt_rise(self, name: str, *, peer: str, now: float) -> list[Event]:
        """DOWN here, our last probe passed and `peer` says UP: rise now (issue 15)."""
        m = self._members.get(name)
        moved = None if m is None else corroborated_rise(m.machine, now=now, peer=peer)
        if m is None or moved is None:
            return []
        m = replace(m, machine=moved[0], stable_since=now)
        return self._put(m, [HealthChange(callcenter=name, transition=moved[1])])

    def route(
        self, *, now: float, wall: datetime | Callable[[], datetime]
    ) -> tuple[Decision, RouteChange | None]:
        """The decision for one request: from the memo while nothing changed and no
        timer (ejection end, hold-down, hours) has run out; else decided afresh."""
        memo = self._memo
        if memo is not None and memo[0] == self._version and now < memo[1]:
            return memo[2], None
        views = self._views
        if views is None:
            # Cached between changes: still right as time passes, because
            # `availability` compares an ejection's end with `now` itself.
            views = self._views = tuple(m.view() for m in self._members.values())
        at = wall if isinstance(wall, datetime) else wall()  # only read when deciding
        router, decision, change = self._router.decide(
            views, now=now, wall=at, override=self._override
        )
        if change is not None:
            self._router = router
            self._timeline.append(change)
            self._version += 1
            self._snapshot = None
        until = valid_until(views, now=now, hold_down=router.hold_down)
        self._memo = (self._version, until, decision)
        return decision, change

    def settle(self, *, now: float) -> None:
        """Apply the passage of time to breakers (ejections ending, multipliers decaying)."""
        for m in list(self._members.values()):
            settled = m.breaker.settle(now, self._outlier)
            if settled != m.breaker:
                self._put(replace(m, breaker=settled))

    def reconfigure(
        self,
        specs: Sequence[CallCenterSpec],
        *,
        health: HealthPolicy,
        outlier: OutlierPolicy,
        hold_down: float,
        reset: Collection[str] = (),
        now: float,
    ) -> list[Event]:
        """A configuration reload (issue 17): see `reconfigured`. The policies apply
        from the next probe or outcome on; the router keeps its state (hold-down
        included) with the new `hold_down`, and decides afresh at the next request.
        An override pinned to a call center that is gone is lifted (it could no longer
        apply): the one event returned then says so."""
        self._members = reconfigured(self._members, specs, reset=reset)
        events: list[Event] = []
        pinned = self._override.callcenter if self._override is not None else None
        if pinned is not None and pinned not in self._members:
            self._override = None
            events.append(SwitchChanged(callcenter=None, switch="override",
                                        value="automatic", at=now))  # fmt: skip
            self._timeline.extend(events)
        self._health = health
        self._outlier = outlier
        self._router = replace(self._router, hold_down=hold_down)
        self._version += 1
        self._snapshot = None
        self._views = None
        self._memo = None
        return events

    @property
    def version(self) -> int:
        """Bumped by every change: what `snapshot().version` would say, without one."""
        return self._version

    def snapshot(self) -> PoolSnapshot:
        snap = self._snapshot
        if snap is None:
            members = tuple(self._members.values())
            snap = self._snapshot = PoolSnapshot(
                members=members,
                views=tuple(m.view() for m in members),
                router=self._router,
                override=self._override,
                timeline=tuple(self._timeline),
                version=self._version,
            )
        return snap
