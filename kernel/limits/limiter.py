"""Per-client limits and "counted once" checks: in Redis, shared by every replica, and
per process when Redis does not answer in time.

`Limiter.check(action, client, subject)` answers with a `Verdict` (kernel/limits/gcra):
ALLOWED, LIMITED (with the time to wait), REPEAT (this client was already counted for
this subject in the window) or SATURATED. `check_many` does the same for a batch in
one round trip (views, folded twice a second off the request path).

Redis first (one Lua script, atomic: kernel/limits/script.py), through the app's own
client (failover/redisconn.py: a bounded pool, socket timeouts), within `budget`
seconds: a customer waits at most that long for a limit, not the client's 0.5 s
socket timeout. When Redis fails or is slow, this process decides alone, with the
same rules, and keeps doing so for `retry_after` seconds before it asks Redis again,
so a frozen Redis costs one budget every few seconds, not one per request:

- never fail open: the per-process limits are the same sizes, so a client gets at
  most the limit once per replica (N replicas: N times the limit) while Redis is down;
- never fail into a 5xx: every Redis error and timeout ends here;
- bounded memory: per action, one `TTLCache` of TATs and one of counted pairs, each
  at most `local_entries` entries, least recently used first out. A forgotten client
  starts again with a full burst, a forgotten pair may count again: the cost of the
  bound, and still within the client's rate limit, so never an unbounded count.

While Redis answers, the per-process state follows its verdicts (what this process
let through), so that when Redis stops answering (or is merely slower than the budget
under load) a client does not get a fresh burst here on top of what it took: with one
process the limit holds across the switch; with N replicas a client can get at most N
times its limit while Redis is away. The pair cache also answers REPEAT without a round
trip while Redis is fine: a customer reloading one bulletin is looked up in Redis once
per window per replica.
Its entries live `once` seconds from when this process learnt of them, so a pair
another replica counted earlier can be held back here a little past Redis's own
window: at most once per window, sometimes a little less often.

Hand-written rather than the `limits` library: what we need around a limit is most of
the work, and `limits` leaves it to the caller: the time budget, the switch to a
bounded per-process store when Redis is slow or down (its memory storage is bounded by
expiry, not by size), the "counted once" check in the same atomic step as the limit,
and using the app's own client (Sentinel included) rather than a storage it builds
from a URI. The Redis side is one 30-line script.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from kernel.limits.gcra import ALLOWED, REPEAT, Outcome, Rule, Verdict, decide
from kernel.limits.script import LUA, Keys, script_keys, verdict_of

log = logging.getLogger("switchboard.limits")

__all__ = ["Action", "LimitObserver", "Limiter", "LocalLimits", "Policy"]

CHUNK: Final = 100  # items per script call: each holds Redis ~0.5 ms (200: 0.8 ms, measured)
BATCH_BUDGET: Final = 1.0  # seconds, for check_many (off the request path)


class Action(enum.StrEnum):
    """What is limited; also a metric label and part of Redis keys (bounded)."""

    CALLBACK = "callback"
    VOTE = "vote"
    VIEW = "view"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    rule: Rule
    once_ms: int = 0  # > 0: a subject counts once per client in this window
    cap: int = 0  # with once_ms: pairs remembered in Redis per window, at most


class LimitObserver(Protocol):
    """Metrics (monitoring/limits.py): bounded labels, the action only."""

    def limited(self, action: str) -> None: ...
    def local(self, action: str, n: int) -> None: ...
    def saturated(self, action: str) -> None: ...


class _Silent:
    def limited(self, action: str) -> None:
        pass

    def local(self, action: str, n: int) -> None:
        pass

    def saturated(self, action: str) -> None:
        pass


Item = tuple[str, int | str | None]  # (client, subject or None)


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

    def decide(self, client: str, subject: int | str | None, now: int, limiting: bool) -> Verdict:
        if subject is not None and (client, subject) in self.seen:
            return REPEAT
        verdict: Verdict = ALLOWED
        if limiting:
            verdict, tat = decide(self.tats.get(client), now, self.policy.rule)
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


class Limiter:
    def __init__(
        self,
        redis: Redis | None,
        policies: Mapping[Action, Policy],
        *,
        limiting: bool = True,
        budget: float = 0.1,
        retry_after: float = 2.0,
        local_entries: int = 10_000,
        prefix: str = "sb:",
        observer: LimitObserver | None = None,
        monotonic: Callable[[], float],  # the app clock's (kernel/clock.py)
    ) -> None:
        self._redis = redis
        self._script: Any = redis.register_script(LUA) if redis is not None else None
        self.policies = dict(policies)
        self.limiting = limiting
        self._budget = budget
        self._retry_after = retry_after
        self._keys = Keys(prefix)
        self._observer: LimitObserver = observer or _Silent()
        self._monotonic = monotonic
        self._local = {
            a: LocalLimits(p, local_entries, monotonic) for a, p in self.policies.items()
        }
        self._redis_skip_until = 0.0
        self.redis_failing = False  # the last attempt to ask Redis failed

    async def check(self, action: Action, client: str, subject: int | str | None = None) -> Verdict:
        """One request of `client` (for `subject`, when the action counts once)."""
        (verdict,) = await self._check(action, [(client, subject)], self._budget)
        return verdict

    async def check_many(self, action: Action, items: Sequence[Item]) -> list[Verdict]:
        """Many at once, in order (for background batches: a longer budget)."""
        return await self._check(action, items, BATCH_BUDGET)

    async def _check(self, action: Action, items: Sequence[Item], budget: float) -> list[Verdict]:
        policy, local = self.policies[action], self._local[action]
        if (policy.once_ms > 0) != all(subject is not None for _, subject in items):
            raise ValueError(f"{action}: a subject is needed exactly when it counts once")
        verdicts, ask = self._known(local, items)
        if ask:
            decided = await self._redis_check(action, [items[i] for i in ask], budget)
            now = int(self._monotonic() * 1000)
            if decided is None:
                self._observer.local(action, len(ask))
                decided = [local.decide(*items[i], now, self.limiting) for i in ask]
            else:
                for i, verdict in zip(ask, decided, strict=True):
                    local.follow(*items[i], verdict, now)
            for i, verdict in zip(ask, decided, strict=True):
                verdicts[i] = verdict
        out = [v if v is not None else ALLOWED for v in verdicts]
        for verdict in out:
            if verdict.outcome is Outcome.LIMITED:
                self._observer.limited(action)
            elif verdict.outcome is Outcome.SATURATED:
                self._observer.saturated(action)
        return out

    def _known(
        self, local: LocalLimits, items: Sequence[Item]
    ) -> tuple[list[Verdict | None], list[int]]:
        """Verdicts that need no one asked (limits off; a pair this process already knows
        counted, or met earlier in the batch), and the indexes of the rest."""
        verdicts: list[Verdict | None] = [None] * len(items)
        ask: list[int] = []
        batch: set[tuple[str, int | str]] = set()
        for i, (client, subject) in enumerate(items):
            if subject is None:
                if not self.limiting:
                    verdicts[i] = ALLOWED
                    continue
            elif (client, subject) in local.seen or (client, subject) in batch:
                verdicts[i] = REPEAT
                continue
            else:
                batch.add((client, subject))
            ask.append(i)
        return verdicts, ask

    async def _redis_check(
        self, action: Action, items: Sequence[Item], budget: float
    ) -> list[Verdict] | None:
        """Verdicts from Redis, or None: Redis is not configured, skipped after a recent
        failure, failed or slower than `budget` (then the caller decides locally)."""
        if self._script is None or self._monotonic() < self._redis_skip_until:
            return None
        policy = self.policies[action]
        args = [policy.rule.interval_ms, policy.rule.tolerance_ms, policy.once_ms, policy.cap,
                1 if self.limiting else 0]  # fmt: skip
        out: list[Verdict] = []
        try:
            async with asyncio.timeout(budget):
                for start in range(0, len(items), CHUNK):
                    chunk = items[start : start + CHUNK]
                    keys = script_keys(self._keys, action.value, chunk)
                    codes = await self._script(keys=keys, args=args)
                    out += [verdict_of(int(code)) for code in codes]
        except (RedisError, OSError, ValueError) as exc:  # TimeoutError is an OSError
            self._redis_failed(action, exc)
            return None
        if self.redis_failing:
            log.info("limits: Redis answers again; limits are shared by the replicas again")
        self.redis_failing = False
        return out

    def _redis_failed(self, action: Action, exc: Exception) -> None:
        self._redis_skip_until = self._monotonic() + self._retry_after
        if not self.redis_failing:  # once per outage, not once per request
            log.warning(
                "limits: Redis did not answer a %s check (%s: %s); limits are per process "
                "for the next %.1f s at a time until it does",
                action, type(exc).__name__, exc, self._retry_after,
            )  # fmt: skip
        self.redis_failing = True
