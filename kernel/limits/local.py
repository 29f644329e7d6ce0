"""One action's per-process limit state (kernel/limits/limiter.py decides when it is
used): the TATs and counted pairs this process knows, following Redis's verdicts while
Redis answers; the checks on their way to Redis; and the clients it let through alone,
whose lead Redis is to hear of with its next answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cachetools import TTLCache

from kernel.limits.gcra import ALLOWED, REPEAT, Outcome, Rule, Verdict, decide


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    rule: Rule
    once_ms: int = 0  # > 0: a subject counts once per client in this window
    cap: int = 0  # with once_ms: pairs remembered in Redis per window, at most


Item = tuple[str, int | str | None]  # (client, subject or None)
K = TypeVar("K")


class LocalLimits:
    """One action's per-process state. Times are milliseconds of the monotonic clock."""

    def __init__(self, policy: Policy, entries: int, timer: Callable[[], float]) -> None:
        self.policy = policy
        self.tats: TTLCache[str, int] = TTLCache(
            maxsize=entries, ttl=policy.rule.horizon_ms / 1000, timer=timer
        )
        self.seen: TTLCache[tuple[str, int | str], bool] = TTLCache(
            maxsize=entries, ttl=max(policy.once_ms, 1) / 1000, timer=timer
        )
        # Checks on their way to Redis now, per client and per pair (at most the requests
        # in flight).
        self.asking: dict[str, int] = {}
        self.asking_pairs: dict[tuple[str, int | str], int] = {}
        # Clients let through here while Redis did not answer: Redis is to hear of it
        # with the client's next check that reaches it (their lead, below).
        self.alone: TTLCache[str, bool] = TTLCache(
            maxsize=entries, ttl=policy.rule.horizon_ms / 1000, timer=timer
        )

    def ask(self, items: Sequence[Item], delta: int) -> None:
        """`delta` +1: these items' checks are on their way to Redis; -1: back."""
        for client, subject in items:
            _count(self.asking, client, delta)
            if subject is not None:
                _count(self.asking_pairs, (client, subject), delta)

    def let_through_alone(self, client: str) -> None:
        self.alone[client] = True

    def leads(self, items: Sequence[Item], now: int) -> list[int]:
        """Per item, for a client let through alone, how far ahead of `now` its TAT here
        is (ms; the script moves Redis's TAT at least that far): on the client's first
        item, else 0. A lead, not a count: sent twice it changes nothing, and it shrinks
        as time passes, as the limit's own allowance grows."""
        out: list[int] = []
        named: set[str] = set()
        for client, _ in items:
            lead = 0
            if client not in named and client in self.alone:
                lead = max(0, self.tats.get(client, now) - now)
            out.append(lead)
            named.add(client)
        return out

    def told(self, items: Sequence[Item]) -> None:
        """Redis took these clients' leads."""
        for client, _ in items:
            self.alone.pop(client, None)

    def decide(self, client: str, subject: int | str | None, now: int, limiting: bool) -> Verdict:
        """Alone. Checks of this client (or this pair) still on their way to Redis count
        as let through (they may well be): the verdict errs towards fewer, not more."""
        if subject is not None and (
            (client, subject) in self.seen or (client, subject) in self.asking_pairs
        ):
            return REPEAT
        verdict: Verdict = ALLOWED
        if limiting:
            rule, base = self.policy.rule, self.tats.get(client)
            verdict, tat = decide(base, now, rule)
            extra = self.asking.get(client, 0) * rule.interval_ms
            if tat is not None and extra:
                ahead, _ = decide(max(base or now, now) + extra, now, rule)
                if not ahead.allowed:  # the wait is known once those answers are
                    wait = min(ahead.retry_after_ms, rule.interval_ms)
                    verdict, tat = Verdict(Outcome.LIMITED, wait), None
            if tat is not None:
                self.tats[client] = tat
        if verdict.allowed and subject is not None:
            self.seen[(client, subject)] = True
        return verdict

    def follow(self, client: str, subject: int | str | None, verdict: Verdict, now: int) -> None:
        """Mirror a verdict Redis gave, so that a switch to per-process decisions starts
        from what this process has let through, not from a full burst."""
        if verdict.allowed:
            start = self.tats.get(client, now)
            self.tats[client] = max(start, now) + self.policy.rule.interval_ms
        if subject is not None and verdict.outcome in (Outcome.ALLOWED, Outcome.REPEAT):
            self.seen[(client, subject)] = True


def _count(counts: dict[K, int], key: K, delta: int) -> None:
    left = counts.get(key, 0) + delta
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
