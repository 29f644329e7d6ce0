"""The merge rule of health shared among replicas (failover/peers.py): scripted cases,
walked as a table, and properties over any sequence of reports and own probes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.health import (
    HealthState,
    Observation,
)
from failover.peers import (
    MAX_REPORT_BYTES,
    HoldKind,
    PeerBook,
    Report,
    Verdict,
    encode,
    report_of,
)

OK, FAIL, DEG = Observation.OK, Observation.FAIL, Observation.DEGRADED
UP, DOWN = HealthState.UP, HealthState.DOWN
C = "primary"
TTL = 3.0


def book() -> PeerBook:
    return PeerBook(me="me", ttl=TTL, rise=2, max_ejection=300.0)


def says(replica: str, state: HealthState, *, episode: float = 1.0, seq: int = 1,
         ejected_for: float | None = None, boot: str = "b") -> Report:  # fmt: skip
    verdict = Verdict(state=state, episode=episode, ejected_for=ejected_for)
    return Report(replica=replica, boot=boot, seq=seq, centers={C: verdict})


# -- the table: steps, then the hold expected -----------------------------------------


@dataclass(frozen=True, slots=True)
class Hear:
    report: Report
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Probe:
    obs: Observation


@dataclass(frozen=True, slots=True)
class Rise:
    pass


Step = Hear | Probe | Rise

# A peer's DOWN refuted by two passing probes of ours, no failure seen; then once more.
REFUTED_CLEANLY: list[Step] = [Hear(says("a", DOWN)), Probe(OK), Probe(OK),
                               Hear(says("a", UP, episode=2, seq=2))]  # fmt: skip
REFUTED_AGAIN: list[Step] = [Hear(says("a", DOWN, episode=3, seq=3)), Probe(OK), Probe(OK),
                             Hear(says("a", UP, episode=4, seq=4))]  # fmt: skip

CASES: list[tuple[str, list[Step], float, HoldKind | None]] = [
    ("a peer's DOWN holds at once", [Hear(says("a", DOWN))], 0.1, HoldKind.DOWN),
    ("a peer's UP holds nothing", [Hear(says("a", UP))], 0.1, None),
    ("our own report is never held", [Hear(says("me", DOWN))], 0.1, None),
    ("a peer's UP clears its DOWN",
     [Hear(says("a", DOWN)), Hear(says("a", UP, episode=2, seq=2))], 0.1, None),
    ("one own passing probe is not enough",
     [Hear(says("a", DOWN)), Probe(OK)], 0.1, HoldKind.DOWN),
    ("rise own passing probes refute it",
     [Hear(says("a", DOWN)), Probe(OK), Probe(DEG)], 0.1, None),
    ("a failing probe restarts the count",
     [Hear(says("a", DOWN)), Probe(OK), Probe(FAIL), Probe(OK)], 0.1, HoldKind.DOWN),
    ("a refuted episode stays refuted while refreshed",
     [Hear(says("a", DOWN)), Probe(OK), Probe(OK), Hear(says("a", DOWN, seq=2), at=1.0)],
     1.1, None),
    ("a new episode is held again (our probes saw the failure too)",
     [Hear(says("a", DOWN)), Probe(FAIL), Probe(OK), Probe(OK),
      Hear(says("a", UP, episode=2, seq=2)), Hear(says("a", DOWN, episode=3, seq=3))],
     0.1, HoldKind.DOWN),
    ("a peer refuted once without one failure is still followed",
     [*REFUTED_CLEANLY, Hear(says("a", DOWN, episode=3, seq=3))], 0.1, HoldKind.DOWN),
    ("twice, and it is not followed on a new DOWN",
     [*REFUTED_CLEANLY, *REFUTED_AGAIN, Hear(says("a", DOWN, episode=5, seq=5))], 0.1, None),
    ("it is followed again once quiet for the distrust window",
     [*REFUTED_CLEANLY, *REFUTED_AGAIN, Hear(says("a", DOWN, episode=5, seq=5), at=31.0)],
     31.1, HoldKind.DOWN),
    ("each new DOWN meanwhile renews the distrust",
     [*REFUTED_CLEANLY, *REFUTED_AGAIN, Hear(says("a", DOWN, episode=5, seq=5), at=20.0),
      Hear(says("a", UP, episode=6, seq=6), at=21.0),
      Hear(says("a", DOWN, episode=7, seq=7), at=40.0)], 40.1, None),
    ("another peer is still followed",
     [Hear(says("a", DOWN)), Probe(OK), Probe(OK), Hear(says("b", DOWN, episode=3))],
     0.1, HoldKind.DOWN),
    ("our own rise refutes what was heard before it",
     [Hear(says("a", DOWN)), Rise()], 0.1, None),
    ("probes before the DOWN was heard count for nothing",
     [Probe(OK), Probe(OK), Hear(says("a", DOWN))], 0.1, HoldKind.DOWN),
    ("another peer's DOWN still holds",
     [Hear(says("a", DOWN)), Probe(OK), Probe(OK), Hear(says("b", DOWN))], 0.1, HoldKind.DOWN),
    ("a peer not heard for ttl is forgotten", [Hear(says("a", DOWN))], TTL + 0.1, None),
    ("an older report of the same boot is ignored",
     [Hear(says("a", UP, seq=5)), Hear(says("a", DOWN, seq=4))], 0.1, None),
    ("a restarted peer (new boot) starts its count again",
     [Hear(says("a", UP, seq=5)), Hear(says("a", DOWN, seq=1, boot="c"))], 0.1, HoldKind.DOWN),
    ("a peer that says it goes is forgotten",
     [Hear(says("a", DOWN)), Hear(Report(replica="a", boot="b", seq=2, centers={}, gone=True))],
     0.1, None),
    ("a peer's ejection holds for its time",
     [Hear(says("a", UP, ejected_for=10.0)), Hear(says("a", UP, seq=2, ejected_for=2.0), at=8.0)],
     9.9, HoldKind.EJECTED),
    ("then it ends",
     [Hear(says("a", UP, ejected_for=10.0)), Hear(says("a", UP, seq=2, ejected_for=2.0), at=8.0)],
     10.1, None),
    ("an ejection is forgotten with the peer", [Hear(says("a", UP, ejected_for=10.0))], 3.1, None),
    ("own passing probes do not lift an ejection",
     [Hear(says("a", UP, ejected_for=10.0)), Probe(OK), Probe(OK)], 1.0, HoldKind.EJECTED),
    ("a DOWN wins over an ejection",
     [Hear(says("a", UP, ejected_for=10.0)), Hear(says("b", DOWN))], 0.1, HoldKind.DOWN),
]  # fmt: skip


def run(steps: list[Step], b: PeerBook | None = None) -> PeerBook:
    b = b or book()
    for step in steps:
        if isinstance(step, Hear):
            b.hear(step.report, now=step.at)
        elif isinstance(step, Probe):
            b.own_probe(C, step.obs, now=0.0)
        else:
            b.own_rise(C)
    return b


@pytest.mark.parametrize(("steps", "now", "kind"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_merge_rule(steps: list[Step], now: float, kind: HoldKind | None) -> None:
    hold = run(steps).hold(C, now=now)
    assert (None if hold is None else hold.kind) == kind


def test_an_ejection_is_capped_by_our_own_max_ejection_time() -> None:
    b = PeerBook(me="me", ttl=TTL, rise=2, max_ejection=2.0)
    b.hear(says("a", UP, ejected_for=3600.0), now=0.0)
    hold = b.hold(C, now=1.0)
    assert hold is not None
    assert hold.until == 2.0


def test_expire_names_the_peers_forgotten() -> None:
    b = run([Hear(says("a", DOWN)), Hear(says("b", UP), at=2.0)])
    assert b.expire(now=TTL + 1.0) == ["a"]
    assert set(b.peers(now=TTL + 1.0)) == {"b"}


# -- properties -----------------------------------------------------------------------

states = st.sampled_from(list(HealthState))
reports = st.builds(
    says, st.sampled_from(["a", "b", "c", "me"]), states,
    episode=st.integers(0, 3).map(float), seq=st.integers(0, 5),
    ejected_for=st.none() | st.floats(0, 20), boot=st.sampled_from(["x", "y"]),
)  # fmt: skip
steps = st.lists(
    st.builds(Hear, reports, at=st.floats(0, 2))
    | st.builds(Probe, st.sampled_from(list(Observation))) | st.just(Rise()),
    max_size=30,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(steps)
def test_no_peer_down_heard_means_no_down_held(script: list[Step]) -> None:
    script = [s for s in script if not (isinstance(s, Hear) and s.report.centers[C].state is DOWN)]
    hold = run(script).hold(C, now=2.0)
    assert hold is None or hold.kind is HoldKind.EJECTED


@settings(max_examples=300, deadline=None)
@given(steps)
def test_rise_passing_probes_after_the_last_report_lift_every_down(script: list[Step]) -> None:
    b = run([*script, Probe(OK), Probe(DEG)])
    hold = b.hold(C, now=2.0)
    assert hold is None or hold.kind is HoldKind.EJECTED


@settings(max_examples=300, deadline=None)
@given(steps)
def test_nothing_is_held_once_every_peer_is_older_than_the_ttl(script: list[Step]) -> None:
    b = run(script)
    assert b.hold(C, now=2.0 + TTL + 20.1) is None  # ejections: at most 20 s here
    assert b.expire(now=2.0 + TTL + 0.1) is not None
    assert b.peers(now=2.0 + TTL + 0.1) == {}


@settings(max_examples=300, deadline=None)
@given(reports)
def test_a_report_survives_the_wire(report: Report) -> None:
    assert report_of(encode(report)) == report


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_anything_else_from_the_wire_is_refused_not_raised(raw: bytes | str) -> None:
    assert report_of(raw) is None or isinstance(report_of(raw), Report)


@pytest.mark.parametrize("change", [
    {"v": 2}, {"replica": ""}, {"replica": "a\nb"}, {"seq": -1}, {"seq": 1.5}, {"seq": True},
    {"boot": 7}, {"centers": []},
    {"centers": {C: {"state": "on fire", "episode": 1.0, "ejected_for": None}}},
    {"centers": {C: {"state": "down", "episode": math.inf, "ejected_for": None}}},
    {"centers": {C: {"state": "down", "episode": 1.0, "ejected_for": -1}}},
    {"centers": {"x" * 500: {"state": "down", "episode": 1.0, "ejected_for": None}}},
])  # fmt: skip
def test_a_malformed_report_is_refused(change: dict[str, object]) -> None:
    good = json.loads(encode(says("a", DOWN)))
    assert report_of(json.dumps(good)) is not None
    assert report_of(json.dumps(good | change).replace("Infinity", "1e999")) is None


def test_an_oversized_report_is_refused_unread() -> None:
    assert report_of(b" " * 70_000 + encode(says("a", DOWN)).encode()) is None


HUGE = "1" + "0" * 400  # an integer no float can hold: math.isfinite/float raise OverflowError


@pytest.mark.parametrize("poison", [
    f'{{"v":1,"replica":"a","boot":"b","seq":1,"centers":{{"{C}":'
    f'{{"state":"down","episode":{HUGE},"ejected_for":null}}}}}}',
    f'{{"v":1,"replica":"a","boot":"b","seq":1,"centers":{{"{C}":'
    f'{{"state":"down","episode":1.0,"ejected_for":{HUGE}}}}}}}',
    # Under MAX_REPORT_BYTES, nested far past the recursion limit of json.loads.
    '{"v":1,"replica":"a","boot":"b","seq":1,"centers":' + "[" * 20_000 + "]" * 20_000 + "}",
    '{"v":1,"x":' + '{"a":' * 9 + "1" + "}" * 9 + "}",  # deeper than a report ever is
], ids=["huge-episode", "huge-ejected-for", "deep-20000", "deep-10"])  # fmt: skip
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_a_number_too_big_or_json_nested_too_deep_is_dropped_not_raised(
    poison: str, as_bytes: bool
) -> None:
    assert len(poison) < MAX_REPORT_BYTES
    assert report_of(poison.encode() if as_bytes else poison) is None


def test_a_peer_rotating_call_center_names_leaves_no_trail() -> None:
    b = book()
    for i in range(100):
        verdict = Verdict(state=DOWN, episode=float(i))
        b.hear(Report(replica="a", boot="b", seq=i, centers={f"c{i}": verdict}), now=0.0)
    assert len(b._doubts) == 1  # the bound is the point
