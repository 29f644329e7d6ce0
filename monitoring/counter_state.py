"""What the metrics merge remembers of each worker's counters (monitoring/aggregate.py),
so that a merged counter never goes down when a worker is slow to answer or restarts.

Per worker slot (0..N-1): the pid of the process that last answered from it, the last
value of each of its counter series (histogram buckets, `_sum` and `_count` included),
and a `retired` value per series: what the slot's earlier processes had counted when
they were replaced. A slot counts `retired + last` for a series:

- a worker that does not answer keeps counting its last values;
- a new pid in a slot (the master started the worker again, from 0) first adds the old
  process's last values to `retired`, so the slot's count goes on from there;
- a value lower than the last one from the same pid is a late answer (two scrapes on
  two workers crossing): the last one (the higher) is kept. An answer from a pid the
  slot already replaced is ignored for the same reason.

Bounded: a slot holds the series its workers exported, and those are bounded by the
app's own bounded label sets (monitoring/metrics.py: route names, configured call
centers, status codes, fixed reasons); series of a call center removed by a reload are
kept until the master restarts. `MAX_SERIES` per slot is a backstop: past it, the
series the slot's worker no longer exports are forgotten.

Pure: no I/O. `dumps`/`loads` give the JSON the front door keeps between scrapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

MAX_SERIES: Final = 20_000  # per slot; far above what the bounded label sets make
GONE_KEPT: Final = 8  # replaced pids remembered per slot (late answers from them ignored)

# (family name, sample name, sorted labels): one counter series.
CounterKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class Slot:
    pid: int
    last: dict[CounterKey, float] = field(default_factory=dict)
    retired: dict[CounterKey, float] = field(default_factory=dict)
    gone: list[int] = field(default_factory=list)

    def counts(self) -> dict[CounterKey, float]:
        """This slot's count per series: earlier processes' plus the current one's."""
        out = dict(self.retired)
        for key, value in self.last.items():
            out[key] = out.get(key, 0.0) + value
        return out


@dataclass(slots=True)
class CounterState:
    slots: dict[int, Slot] = field(default_factory=dict)
    # family name -> (type, help): to export a series no answering worker has this time.
    families: dict[str, tuple[str, str]] = field(default_factory=dict)

    def observe(self, slot: int, pid: int, counters: dict[CounterKey, float]) -> None:
        """One worker's answer: the counter series of the process `pid` in `slot`."""
        known = self.slots.get(slot)
        if known is None:
            self.slots[slot] = Slot(pid=pid, last=dict(counters))
            return
        if pid in known.gone:
            return  # a late answer from a process the slot already replaced
        if pid != known.pid:  # started again: its counters start from 0
            for key, value in known.last.items():
                known.retired[key] = known.retired.get(key, 0.0) + value
            known.gone = [*known.gone, known.pid][-GONE_KEPT:]
            known.pid, known.last = pid, dict(counters)
        else:
            for key, value in counters.items():
                known.last[key] = max(known.last.get(key, 0.0), value)
        if len(known.last.keys() | known.retired.keys()) > MAX_SERIES:
            known.last = {k: v for k, v in known.last.items() if k in counters}
            known.retired = {k: v for k, v in known.retired.items() if k in counters}


def dumps(state: CounterState) -> str:
    def series(values: dict[CounterKey, float]) -> list[object]:
        return [[f, s, [list(p) for p in labels], v] for (f, s, labels), v in values.items()]

    return json.dumps({
        "families": {name: list(meta) for name, meta in state.families.items()},
        "slots": {
            str(index): {"pid": slot.pid, "gone": slot.gone, "last": series(slot.last),
                         "retired": series(slot.retired)}
            for index, slot in state.slots.items()
        },
    })  # fmt: skip


def loads(text: str) -> CounterState:
    """The state `dumps` wrote; ValueError (or KeyError/TypeError) if it is not that."""
    raw = json.loads(text)

    def series(rows: list[list[object]]) -> dict[CounterKey, float]:
        out: dict[CounterKey, float] = {}
        for f, s, labels, v in rows:
            pairs = tuple((str(k), str(x)) for k, x in labels)  # type: ignore[attr-defined]
            out[(str(f), str(s), pairs)] = float(v)  # type: ignore[arg-type]
        return out

    state = CounterState(
        families={str(n): (str(t), str(h)) for n, (t, h) in raw["families"].items()}
    )
    for index, slot in raw["slots"].items():
        state.slots[int(index)] = Slot(
            pid=int(slot["pid"]),
            last=series(slot["last"]),
            retired=series(slot["retired"]),
            gone=[int(p) for p in slot["gone"]],
        )
    return state
