"""Load shedding in stages: which stage is in force, from what the process measures.

Past capacity the front door does less, in steps, instead of failing (issue 14; the
way Discourse drops logged-in users to its cached anonymous view under load):

    normal            everything
    shed_background   non-essential work paused: trending and ranking recomputation,
                      search-index rebuilds, snapshot writes; views and votes are
                      flushed to Redis less often (they are buffered in memory anyway)
    memory_only       self-help answers from memory only: no Redis and no community
                      site on the request path; pages already rendered, search, and the
                      static page for the rest
    static            one pre-rendered static page of the most-read bulletins for the
                      self-help pages, and bulletin pages already rendered

`/support` (proxied to the call centers) and callback intake are never shed: they are
not self-help, and a callback is accepted or honestly refused, never dropped.

Pure (docs/architecture.md Style 1): no clock, no I/O. `decide` takes the current `Shedding`, one
`Reading` and `now`, and returns the next `Shedding` and the `Transition` if the stage
changed. The adapter that samples and acts is kernel/overload_monitor.py.

The rules, a row per stage in `OverloadPolicy.thresholds` (Style 2):

- A stage is *called for* when either signal reaches its entry threshold: event-loop
  lag (`lag`, seconds) or in-flight self-help requests over capacity (`load`).
- Up: when readings have called for a higher stage without a break for `up_after`
  seconds, go to the lowest stage they all called for (straight from normal to static
  if every one did). A single stall (one late sample) does not move it.
- Down: one stage at a time, once both signals have stayed below the current stage's
  exit thresholds for `cool_down` seconds. Exit thresholds sit below entry thresholds
  (hysteresis), and the calm must last `cool_down` again for each further step, so a
  load that sheds itself (less work, so less lag) cannot make the stage flap faster
  than once per `cool_down`.
- `forced`: the stage is that one whatever is measured (an operator's or a test's
  choice, from the config).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final


class Stage(StrEnum):
    NORMAL = "normal"
    SHED_BACKGROUND = "shed_background"
    MEMORY_ONLY = "memory_only"
    STATIC = "static"

    @property
    def level(self) -> int:
        """0 to 3: the gauge's value, and what `>=` compares."""
        return ORDER.index(self)

    def at_least(self, other: Stage) -> bool:
        return self.level >= other.level


ORDER: Final = (Stage.NORMAL, Stage.SHED_BACKGROUND, Stage.MEMORY_ONLY, Stage.STATIC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """Entry and exit levels of one stage above normal."""

    stage: Stage
    enter_lag: float  # s of event-loop lag
    exit_lag: float
    enter_load: float  # in-flight / capacity
    exit_load: float

    def __post_init__(self) -> None:
        if not (0 <= self.exit_lag < self.enter_lag and 0 <= self.exit_load < self.enter_load):
            raise ValueError(f"{self.stage}: exit thresholds must be >= 0 and below entry ones")


@dataclass(frozen=True, slots=True, kw_only=True)
class OverloadPolicy:
    thresholds: tuple[Threshold, ...]  # shed_background, memory_only, static, in order
    capacity: int  # in-flight self-help requests that count as a load of 1.0
    up_after: float  # s a higher stage must be called for before going up
    cool_down: float  # s of calm before each step down
    forced: Stage | None = None

    def __post_init__(self) -> None:
        if tuple(t.stage for t in self.thresholds) != ORDER[1:]:
            raise ValueError("one threshold per stage above normal, in order")
        if self.capacity < 1 or self.up_after < 0 or self.cool_down < 0:
            raise ValueError("capacity must be >= 1, up_after and cool_down >= 0")
        for low, high in itertools.pairwise(self.thresholds):
            if high.enter_lag < low.enter_lag or high.enter_load < low.enter_load:
                raise ValueError(f"{high.stage} must not be entered before {low.stage}")

    def threshold(self, stage: Stage) -> Threshold:
        return self.thresholds[stage.level - 1]


def default_thresholds(
    lag_ms: tuple[int, int, int] = (50, 100, 250),
    load: tuple[float, float, float] = (0.5, 0.8, 1.0),
    exit_ratio: float = 0.4,
) -> tuple[Threshold, ...]:
    """Rows from the three entry levels of each signal; exit = entry x `exit_ratio`."""
    return tuple(
        Threshold(
            stage=stage,
            enter_lag=lag / 1000,
            exit_lag=lag / 1000 * exit_ratio,
            enter_load=share,
            exit_load=share * exit_ratio,
        )
        for stage, lag, share in zip(ORDER[1:], lag_ms, load, strict=True)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    lag: float  # s the event loop was late (smoothed by the sampler)
    in_flight: int  # self-help requests being answered (the peak since the last reading)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shedding:
    """The state: the stage in force, and the timers toward the next change."""

    stage: Stage = Stage.NORMAL
    since: float = 0.0
    pressure_since: float | None = None  # readings have called for more since then
    pressure_to: Stage = Stage.NORMAL  # the lowest stage they all called for
    calm_since: float | None = None  # readings have been below the exit levels since


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    source: Stage
    target: Stage
    at: float
    reason: str


def called_for(reading: Reading, policy: OverloadPolicy) -> Stage:
    """The highest stage whose entry threshold either signal reaches."""
    load = reading.in_flight / policy.capacity
    wanted = Stage.NORMAL
    for row in policy.thresholds:
        if reading.lag >= row.enter_lag or load >= row.enter_load:
            wanted = row.stage
    return wanted


def calm(reading: Reading, stage: Stage, policy: OverloadPolicy) -> bool:
    """Both signals below `stage`'s exit thresholds (normal is always calm)."""
    if stage is Stage.NORMAL:
        return True
    row = policy.threshold(stage)
    return reading.lag < row.exit_lag and reading.in_flight / policy.capacity < row.exit_load


def describe(reading: Reading, policy: OverloadPolicy) -> str:
    load = reading.in_flight / policy.capacity
    return f"lag {reading.lag * 1000:.0f} ms, {reading.in_flight} in flight ({load:.0%})"


def decide(
    state: Shedding, reading: Reading, *, now: float, policy: OverloadPolicy
) -> tuple[Shedding, Transition | None]:
    if policy.forced is not None:
        if state.stage is policy.forced:
            return state, None
        return _move(state, policy.forced, now, "forced by configuration (overload.force_stage)")
    wanted = called_for(reading, policy)
    if wanted.level > state.stage.level:
        if state.pressure_since is None:
            since, lowest = now, wanted
        else:
            since = state.pressure_since
            lowest = min(wanted, state.pressure_to, key=lambda s: s.level)
        if now - since >= policy.up_after:
            return _move(state, lowest, now, f"{describe(reading, policy)}: {lowest} called for")
        return replace(state, pressure_since=since, pressure_to=lowest, calm_since=None), None
    state = replace(state, pressure_since=None, pressure_to=Stage.NORMAL)
    if not calm(reading, state.stage, policy):
        return (replace(state, calm_since=None) if state.calm_since is not None else state), None
    if state.stage is Stage.NORMAL:
        return state, None
    if state.calm_since is None:
        return replace(state, calm_since=now), None
    if now - state.calm_since < policy.cool_down:
        return state, None
    lower = ORDER[state.stage.level - 1]
    return _move(state, lower, now, f"{describe(reading, policy)}: calm for {policy.cool_down:g} s")


def _move(state: Shedding, target: Stage, now: float, reason: str) -> tuple[Shedding, Transition]:
    change = Transition(source=state.stage, target=target, at=now, reason=reason)
    # A step down restarts the calm timer: the next step needs cool_down of calm again.
    calm_since = now if target.level < state.stage.level else None
    return Shedding(stage=target, since=now, calm_since=calm_since), change
