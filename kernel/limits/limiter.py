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
under load) a client does not get a fresh burst here on top of what it took; deciding
alone, it counts the client's checks still on their way to Redis as let through. The
other way round too: for a client it let through on its own, it sends its own TAT's
lead over now with the client's next check that reaches Redis, and the script moves
Redis's TAT at least that far, so that Redis does not give the same burst a second
time (a lead, not a count: sent twice, or after a check Redis did count, it changes
nothing, and it shrinks with time as the allowance grows). So one process never lets a
client through more than its limit across a slow or absent Redis, unless the bounded
caches forgot the client; it may refuse a little early while checks are in flight.
With N replicas a client can get at most N times its limit while Redis is away.
The pair cache also answers REPEAT without a round trip while Redis is fine: a
customer reloading one bulletin is looked up in Redis once per window per replica. Its
entries live `once` seconds from when this process learnt of them, so a pair
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
from typing import Any, Final, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kernel.limits.gcra import ALLOWED, REPEAT, Outcome, Verdict
from kernel.limits.local import Item, LocalLimits, Policy
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
            decided = await self._decide(action, local, [items[i] for i in ask], budget)
            for i, verdict in zip(ask, decided, strict=True):
                verdicts[i] = verdict
        out = [v if v is not None else ALLOWED for v in verdicts]
        for verdict in out:
            if verdict.outcome is Outcome.LIMITED:
                self._observer.limited(action)
            elif verdict.outcome is Outcome.SATURATED:
                self._observer.saturated(action)
        return out

    async def _decide(
        self, action: Action, local: LocalLimits, asked: list[Item], budget: float
    ) -> list[Verdict]:
        """Redis's verdicts (followed here), or this process's alone (owed to Redis)."""
        local.ask(asked, +1)
        try:
            decided = await self._redis_check(action, asked, budget)
        finally:
            local.ask(asked, -1)
        now = int(self._monotonic() * 1000)
        if decided is not None:
            for item, verdict in zip(asked, decided, strict=True):
                local.follow(*item, verdict, now)
            return decided
        self._observer.local(action, len(asked))
        decided = [local.decide(*item, now, self.limiting) for item in asked]
        if self._script is not None and self.limiting:  # told to Redis when it answers
            for (client, _), verdict in zip(asked, decided, strict=True):
                if verdict.allowed:
                    local.let_through_alone(client)
        return decided

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
        policy, local = self.policies[action], self._local[action]
        args = [policy.rule.interval_ms, policy.rule.tolerance_ms, policy.once_ms, policy.cap,
                1 if self.limiting else 0]  # fmt: skip
        out: list[Verdict] = []
        try:
            async with asyncio.timeout(budget):
                for start in range(0, len(items), CHUNK):
                    chunk = items[start : start + CHUNK]
                    keys = script_keys(self._keys, action.value, chunk)
                    leads = local.leads(chunk, int(self._monotonic() * 1000)) if local.alone else []
                    codes = await self._script(keys=keys, args=[*args, *leads])
                    if leads:
                        local.told(chunk)
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
