"""Callbacks lost or doubled: the tickets customers were given (202) against what the
call centers received (`GET <control>/_sim/callbacks`). Pure.

The front door delivers each callback under its own key (a digest of the customer's
`Idempotency-Key` and the request) with a JSON body that carries the `ticket`, so the
ticket ties a 202 to its delivery. A simulator records every POST; a repeat of a key it
has seen is marked `duplicate` (at-least-once delivery, absorbed by the key: counted as
a repeat, not a second call). A ticket first-delivered twice (say to both call
centers) would mean a customer called twice: that is "delivered more than once".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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
    """`deliveries`: call center -> its `/_sim/callbacks` "deliveries" list."""
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
