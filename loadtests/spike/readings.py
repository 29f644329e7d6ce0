"""What the gate reads back from the stack: the front door's /metrics (Prometheus text) and
the callbacks the call centers received. Pure: text and records in, numbers out. The cache
hit ratio is the one monitoring/rules/switchboard-recording.yml records, over the test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from prometheus_client.parser import text_string_to_metric_families

Samples: TypeAlias = dict[tuple[str, frozenset[tuple[str, str]]], float]

LOOKUPS: Final = "switchboard_cache_lookups_total"
PENDING: Final = "switchboard_callbacks_pending"
DEAD_LETTERS: Final = "switchboard_callbacks_dead_letter_entries"
CACHE_TIERS: Final = ("l1", "redis", "last_known")


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float | None:
    """Sum of `name` over the series whose labels include `labels`; None if none."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= ls]
    return sum(found) if found else None


def lookups(before: Samples, after: Samples) -> dict[str, float]:
    """Lookups between two scrapes, by "tier result"."""
    out: dict[str, float] = {}
    for (name, labels), value in after.items():
        if name == LOOKUPS:
            d = dict(labels)
            change = value - before.get((name, labels), 0.0)
            if change:
                out[f"{d.get('tier')} {d.get('result')}"] = change
    return dict(sorted(out.items()))


def hit_ratio(lookups: Mapping[str, float], tiers: Sequence[str] = CACHE_TIERS) -> float | None:
    """Hits in any of `tiers` / bulletin lookups (each counts one L1 hit or miss), from
    `lookups`; None if there were none. `("l1",)`: `switchboard:cache_l1_hit:ratio`. A
    hit is a copy that answered without waiting for the community site (a copy fetched
    again first is its tier's miss), so this is the share answered from the caches."""
    total = lookups.get("l1 hit", 0.0) + lookups.get("l1 miss", 0.0)
    return sum(lookups.get(f"{t} hit", 0.0) for t in tiers) / total if total > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    accepted: int
    delivered: int  # accepted tickets delivered at least once
    lost: int  # accepted, never delivered
    duplicated: int  # first-delivered more than once
    repeats: int  # re-sent to a call center that had it (idempotent; harmless)
    unknown: int  # delivered tickets nobody was given (another run's, or a bug)


def reconcile(
    accepted: Collection[str], deliveries: Mapping[str, Sequence[Mapping[str, Any]]]
) -> Reconciled:
    """The tickets customers were given (202) against what the call centers received
    (`deliveries`: call center -> its `/_sim/callbacks` list): each delivered body carries
    its `ticket`; a simulator marks a key it has seen before `duplicate` (a repeat, not a
    second call); a ticket first-delivered twice is a customer called twice."""
    first: Counter[str] = Counter()
    repeats = 0
    for records in deliveries.values():
        for record in records:
            body = record.get("body")
            ticket = body.get("ticket") if isinstance(body, dict) else None
            if not isinstance(ticket, str):
                continue
            if record.get("duplicate"):
                repeats += 1
            else:
                first[ticket] += 1
    wanted = set(accepted)
    return Reconciled(
        accepted=len(wanted),
        delivered=len(wanted & set(first)),
        lost=len(wanted - set(first)),
        duplicated=sum(1 for t, n in first.items() if n > 1 and t in wanted),
        repeats=repeats,
        unknown=len(set(first) - wanted),
    )
