"""Bulletin views as (bulletin, client) pairs, counted once per client per window.

Before issue 14, every page view counted: 300 views from one client put a bulletin first
under "Trending now" and "Most read" for everyone. Now a view counts for the rankings
only the first time its client views that bulletin in `[limits] view_window_s`, and
only while the client is within its limit of counted views (`views_burst`,
`views_per_hour`); the page itself is always served.

The page only notes the pair (a set insert, no I/O: the bulletin page is the hot path).
Twice a second `SelfHelpService.fold_views` drains the `ViewLog` and asks the limiter
about the new pairs in one round trip (Redis, shared by replicas; per process when
Redis does not answer); the views it allows become hits (cache/hits.py) like before.

Bounded: at most `max_pairs` distinct pairs wait between two folds; past that a view
is not counted (`dropped`), and the page is served all the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from kernel.limits.limiter import Action, Limiter

DEFAULT_MAX_PAIRS: Final = 50_000


class ViewLog:
    """Views since the last drain: distinct (bulletin, client) pairs, and how many views
    were answered from a cached page (L1 hits, for the cache metrics)."""

    __slots__ = ("_max", "dropped", "hot", "pairs")

    def __init__(self, *, max_pairs: int = DEFAULT_MAX_PAIRS) -> None:
        self._max = max_pairs
        self.pairs: set[tuple[int, str]] = set()
        self.hot = 0
        self.dropped = 0

    def note(self, bulletin_id: int, client: str) -> None:
        pairs = self.pairs
        if len(pairs) < self._max:
            pairs.add((bulletin_id, client))
        elif (bulletin_id, client) not in pairs:
            self.dropped += 1

    def drain(self) -> tuple[set[tuple[int, str]], int]:
        pairs, hot = self.pairs, self.hot
        self.pairs, self.hot = set(), 0
        return pairs, hot


async def counted(limiter: Limiter | None, pairs: Iterable[tuple[int, str]]) -> Counter[int]:
    """Views per bulletin that count: each pair the limiter allows (without a limiter, as
    in unit tests, each distinct pair of this drain)."""
    ordered = sorted(pairs)  # a stable order: a client's pairs meet its limit in id order
    if limiter is None:
        return Counter(bulletin_id for bulletin_id, _ in ordered)
    verdicts = await limiter.check_many(
        Action.VIEW, [(client, bulletin_id) for bulletin_id, client in ordered]
    )
    return Counter(
        bulletin_id
        for (bulletin_id, _), verdict in zip(ordered, verdicts, strict=True)
        if verdict.allowed
    )
