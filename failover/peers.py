"""What the other replicas see, merged with what this one sees (pure: no I/O, no clock).

Issue 15, "replicas that act as one": every replica probes the call centers itself and
publishes its own verdicts (`Report`: per call center its health state, the episode,
and how long an outlier ejection has left). `PeerBook` keeps the last report heard from
each peer and answers, per call center, the `PeerHold` this replica applies on top of
its own verdict. The merge rule:

1. A peer's DOWN holds the call center DOWN here too, at once (the push is what makes
   every replica fail over within one probe interval of the first to notice).
2. Our own probes can lift it: `healthy_threshold` passing probes of our own in a row
   after we heard that DOWN episode, or our own machine rising to UP after we heard it,
   "contradict" the episode; a contradicted episode is ignored until the peer reports
   a new one (it went UP and DOWN again). So a replica that alone cannot reach a call
   center takes it from the others for about two probe intervals (and their hold-down)
   per episode of its own, never for good; and if its path flaps, a peer whose DOWNs
   our probes refuted twice without one failure (the second within `distrust` of the
   first) is not followed on that call center until it has reported no new DOWN for
   `distrust` seconds.
3. A peer's outlier ejection holds it EJECTED here for the time it has left (capped by
   our own `max_ejection_time`): probes pass during an ejection, so only time lifts it.
4. A peer's verdicts are forgotten `ttl` after it was last heard (it died, or we lost
   Redis): this replica then decides on its own probes alone.
5. Only our OWN verdicts are published, never a held one, so a DOWN cannot echo from
   replica to replica and outlive the replica that saw it.
6. Coming back together: a replica whose machine is DOWN rises at once when a fresh
   peer says UP and its own last probe passed (`corroborated_rise`): one passing probe
   of its own instead of `healthy_threshold`, so the replicas rise (and start their
   hold-down) within moments of each other.

Reports come from the network: `report_of` checks every field and returns None for
anything else, whatever the bytes (a number too big for a float, JSON nested deeper than
a report ever is: refused, not raised).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from failover.health import HealthMachine, HealthState, Observation, Transition
from failover.jsonbody import depth_of
from kernel.breaker import Breaker

MAX_REPORT_BYTES: Final = 64 * 1024
MAX_PEERS: Final = 64  # a bound on what a noisy or hostile Redis can make us hold
MAX_NAME: Final = 128
MAX_DEPTH: Final = 8  # a report nests 3 deep; json.loads recurses per level
DISTRUST_AFTER: Final = 2  # clean refutations of one peer's DOWNs, see PeerBook.hear


class HoldKind(enum.StrEnum):
    DOWN = "down"
    EJECTED = "ejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerHold:
    """A peer's verdict this replica applies to one call center."""

    kind: HoldKind
    replica: str
    until: float | None = None  # monotonic, here; ejections only

    def applied(self, health: HealthState, breaker: Breaker) -> tuple[HealthState, Breaker]:
        """Our own (health, breaker) as routing should see them under this hold."""
        if self.kind is HoldKind.DOWN:
            return HealthState.DOWN, breaker
        own = breaker.ejected_until if breaker.ejected_until is not None else -math.inf
        return health, replace(breaker, ejected_until=max(own, self.until or -math.inf))


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One replica's own verdict on one call center."""

    state: HealthState
    episode: float  # the sender's `since` of this state: a new value is a new episode
    ejected_for: float | None = None  # seconds of an outlier ejection left when sent


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Everything one replica publishes: its own verdicts, numbered."""

    replica: str
    boot: str  # random per process start: a restarted replica's seq starts again
    seq: int
    centers: Mapping[str, Verdict]
    gone: bool = False  # the replica stops: forget it now rather than after `ttl`


def encode(report: Report) -> str:
    return json.dumps({
        "v": 1, "replica": report.replica, "boot": report.boot, "seq": report.seq,
        "gone": report.gone,
        "centers": {n: {"state": v.state.value, "episode": v.episode,
                        "ejected_for": v.ejected_for} for n, v in report.centers.items()},
    }, separators=(",", ":"))  # fmt: skip


def report_of(raw: bytes | str) -> Report | None:
    """The report in `raw`, or None if anything in it is not as `encode` writes it."""
    if len(raw) > MAX_REPORT_BYTES:
        return None
    try:
        octets = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if depth_of(octets, stop_above=MAX_DEPTH) > MAX_DEPTH:
            return None  # before json.loads, which would recurse once per level
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != 1:
            return None
        replica, boot, seq = data["replica"], data["boot"], data["seq"]
        if not (_name(replica) and _name(boot) and type(seq) is int and seq >= 0):
            return None
        centers = {}
        raw_centers = data["centers"]
        if not isinstance(raw_centers, dict) or len(raw_centers) > MAX_PEERS * 4:
            return None
        for name, v in raw_centers.items():
            verdict = _verdict(v)
            if not _name(name) or verdict is None:
                return None
            centers[name] = verdict
        return Report(replica=replica, boot=boot, seq=seq, centers=centers,
                      gone=data.get("gone") is True)  # fmt: skip
    except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError):
        # ArithmeticError: an integer too big for a float (math.isfinite, float()).
        return None


def _name(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()


def _number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # type: ignore[arg-type]


def _verdict(v: Any) -> Verdict | None:
    if not isinstance(v, dict) or not _number(v.get("episode")):
        return None
    left = v.get("ejected_for")
    if left is not None and not (_number(left) and left >= 0):
        return None
    return Verdict(state=HealthState(v["state"]), episode=float(v["episode"]),
                   ejected_for=None if left is None else float(left))  # fmt: skip


@dataclass(slots=True, kw_only=True)
class _Heard:
    report: Report
    at: float  # our monotonic time when heard


@dataclass(slots=True, kw_only=True)
class _Doubt:
    """Our own evidence against one peer's DOWN episode on one call center."""

    episode: float
    passing: int = 0  # our own not-failing probes in a row since we heard it
    refuted: bool = False
    clean: bool = True  # none of our own probes failed since we heard it


@dataclass(slots=True)
class PeerBook:
    """The last report of each peer, and our own evidence against their DOWNs."""

    me: str
    ttl: float
    rise: int  # healthy_threshold: own passing probes that refute a peer's DOWN
    max_ejection: float
    distrust: float = 30.0  # rule 2's damping, see `hear`
    _peers: dict[str, _Heard] = field(default_factory=dict, init=False)
    _doubts: dict[tuple[str, str], _Doubt] = field(default_factory=dict, init=False)
    # (peer, call center) -> (clean refutations, each within `distrust` of the one
    # before; when the last was): see `hear`.
    _strikes: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict, init=False)

    def hear(self, report: Report, *, now: float) -> bool:
        """Take a peer's report; False if it is ours, older than what we hold, or one
        peer too many."""
        if report.replica == self.me:
            return False
        old = self._peers.get(report.replica)
        if old is not None and old.report.boot == report.boot and report.seq < old.report.seq:
            return False
        if report.gone:
            self.forget(report.replica)
            return True
        if old is None and len(self._peers) >= MAX_PEERS:
            return False
        self._peers[report.replica] = _Heard(report=report, at=now)
        for key in [k for k in self._doubts if k[0] == report.replica]:
            if key[1] not in report.centers:
                del self._doubts[key]  # a call center it no longer reports: bounded memory
        for name, verdict in report.centers.items():
            key = (report.replica, name)
            if verdict.state is HealthState.DOWN:
                doubt = self._doubts.get(key)
                if doubt is None or doubt.episode != verdict.episode:
                    # A peer whose DOWNs our own probes refuted twice, within `distrust`,
                    # without seeing one failure (its path alone is broken, and flaps) is
                    # not followed on a new one until it has kept quiet for `distrust`:
                    # two disruptions, not one per flap. (Once is forgiven: a short outage
                    # can end before our next probe.)
                    count, last = self._strikes.get(key, (0, -math.inf))
                    doubted = count >= DISTRUST_AFTER and now - last < self.distrust
                    if doubted:
                        self._strikes[key] = (count, now)
                    self._doubts[key] = _Doubt(episode=verdict.episode, refuted=doubted)
            else:
                self._doubts.pop(key, None)
        return True

    def forget(self, replica: str) -> None:
        self._peers.pop(replica, None)
        for key in [k for k in self._doubts if k[0] == replica]:
            del self._doubts[key]
        for key in [k for k in self._strikes if k[0] == replica]:
            del self._strikes[key]

    def expire(self, *, now: float) -> list[str]:
        """Forget the peers not heard for `ttl`; their names."""
        stale = [r for r, h in self._peers.items() if now - h.at > self.ttl]
        for replica in stale:
            self.forget(replica)
        return stale

    def own_probe(self, name: str, obs: Observation, *, now: float) -> None:
        """One of our own probe results on `name`: evidence for or against peers' DOWNs."""
        for key, doubt in self._doubts.items():
            if key[1] != name or doubt.refuted:
                continue
            failed = obs is Observation.FAIL
            doubt.passing = 0 if failed else doubt.passing + 1
            doubt.clean = doubt.clean and not failed
            doubt.refuted = doubt.passing >= self.rise
            if doubt.refuted and doubt.clean:  # it said DOWN, we never saw a failure
                count, last = self._strikes.get(key, (0, -math.inf))
                self._strikes[key] = (count + 1 if now - last < self.distrust else 1, now)

    def own_rise(self, name: str) -> None:
        """Our own machine rose to UP on `name`: every DOWN heard before is refuted."""
        for (_, center), doubt in self._doubts.items():
            if center == name:
                doubt.refuted = True

    def peers(self, *, now: float) -> dict[str, float]:
        """The fresh peers and how long ago each was heard."""
        return {r: now - h.at for r, h in self._peers.items() if now - h.at <= self.ttl}

    def verdicts(self, name: str, *, now: float) -> dict[str, Verdict]:
        return {
            r: h.report.centers[name] for r, h in sorted(self._peers.items())
            if now - h.at <= self.ttl and name in h.report.centers
        }  # fmt: skip

    def hold(self, name: str, *, now: float) -> PeerHold | None:
        """The peers' verdict on `name` this replica applies (rules 1-4), or None."""
        ejected: PeerHold | None = None
        for replica, verdict in self.verdicts(name, now=now).items():
            if verdict.state is HealthState.DOWN:
                doubt = self._doubts.get((replica, name))
                if doubt is None or not doubt.refuted:
                    return PeerHold(kind=HoldKind.DOWN, replica=replica)
            if verdict.ejected_for is not None:
                until = self._peers[replica].at + min(verdict.ejected_for, self.max_ejection)
                if until > now and (ejected is None or until > (ejected.until or 0.0)):
                    ejected = PeerHold(kind=HoldKind.EJECTED, replica=replica, until=until)
        return ejected

    def up_peer(self, name: str, *, now: float) -> str | None:
        """A fresh peer whose own probes say `name` is UP (rule 6), or None."""
        ups = [r for r, v in self.verdicts(name, now=now).items() if v.state is HealthState.UP]
        return ups[0] if ups else None


def corroborated_rise(
    machine: HealthMachine, *, now: float, peer: str
) -> tuple[HealthMachine, Transition] | None:
    """Rule 6: DOWN here, the last own probe passed, a peer says UP: rise now."""
    if machine.state is not HealthState.DOWN or machine.streaks.ok < 1:
        return None
    reason = f"{machine.streaks.ok} x ok here, {peer} says up"
    moved = replace(machine, state=HealthState.UP, since=now)
    return moved, Transition(source=HealthState.DOWN, target=HealthState.UP, at=now,
                             reason=reason)  # fmt: skip
