"""What the pool holds for one call center, and how a reload carries it over (pure).

A `Member` is a frozen value: the call center's spec, its health machine, breaker and
switches, and a peer's verdict if one applies. `failover/pool.py` swaps members whole;
`reconfigured` gives the members for a reloaded configuration (issue 17).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from failover.health import HealthMachine, ProbeResult
from failover.peers import PeerHold
from failover.routing import CallCenterView, Schedule
from kernel.breaker import Breaker


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCenterSpec:
    """What the pool needs to know of a configured call center."""

    name: str
    priority: int
    hours: Schedule | None = None
    emergency: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """Everything the pool holds for one call center."""

    spec: CallCenterSpec
    order: int
    machine: HealthMachine = field(default_factory=HealthMachine)
    breaker: Breaker = field(default_factory=Breaker)
    stable_since: float = -math.inf
    emergency: bool = False
    drained: bool = False
    last_probe: ProbeResult | None = None
    last_probe_at: float | None = None
    peer: PeerHold | None = None  # another replica's verdict applied here (failover/peers.py)

    def view(self) -> CallCenterView:
        health, breaker = self.machine.state, self.breaker
        if self.peer is not None:
            health, breaker = self.peer.applied(health, breaker)
        return CallCenterView(
            name=self.spec.name,
            priority=self.spec.priority,
            order=self.order,
            health=health,
            stable_since=max(self.stable_since, _or_never(breaker.last_break())),
            breaker=breaker,
            emergency=self.emergency,
            drained=self.drained,
            hours=self.spec.hours,
        )


def _or_never(t: float | None) -> float:
    return -math.inf if t is None else t


def reconfigured(
    members: Mapping[str, Member], specs: Sequence[CallCenterSpec], *, reset: Collection[str] = ()
) -> dict[str, Member]:
    """The members for new `specs`, in their order (issue 17, configuration reload).

    A call center kept by name keeps everything it has learnt (health machine, breaker,
    switches, last probe) and takes its new spec (priority, hours). Its emergency switch
    follows the file only if the file's `emergency` changed; else it stays as an operator
    left it. One named in `reset` (its URL or health path changed: what we learnt was
    about another address) starts afresh, like one that was added: UNKNOWN, not serving
    until probed. One no longer in `specs` is gone."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate call-center names in {names}")
    out: dict[str, Member] = {}
    for order, spec in enumerate(specs):
        old = members.get(spec.name)
        if old is None or spec.name in reset:
            out[spec.name] = Member(spec=spec, order=order, emergency=spec.emergency)
            continue
        emergency = spec.emergency if spec.emergency != old.spec.emergency else old.emergency
        out[spec.name] = replace(old, spec=spec, order=order, emergency=emergency)
    return out
