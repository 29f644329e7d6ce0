"""Operator switches every replica applies: override, emergency, drain; and the audit log.

An admin action is applied on the replica that took it at once, and stored in Redis;
every replica reads the stored switches once a second (`sync`) and applies them, and
reads them at start, so an override set on one replica holds on all of them and
survives a restart. Without Redis configured, switches are this process's only.

Redis keys (the values: failover/switch_state.py)::

    sb:admin:switches   hash: "override" -> JSON {kind, callcenter, reason};
                        "emergency:<name>" / "drained:<name>" -> "1" (absent = off);
                        "message" -> the outage banner's operator message (absent = the
                        configured one, [branding] message)
    sb:admin:version    integer, bumped on every change (replicas poll it)
    sb:admin:log        list of JSON audit entries, newest first, capped at LOG_SIZE

When Redis is unreachable during an action, the switch is still applied here, the
answer says it is not shared yet, and this replica writes its switches to Redis as soon
as Redis answers again (before it reads any), so the operator's last word wins.

Errors: none raised to callers; Redis trouble is logged and reported in `shared`. A
stored value this replica cannot read (a version that is not an integer, a field or value
that is not UTF-8, an override of the wrong shape) is ignored with a warning, once per
value; a round that fails anyway is logged with its traceback and the next one runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from failover.pool import Event, Pool
from failover.routing import CallCenterView
from failover.switch_state import AuditEntry, Desired, audit_entry_of, desired_of, raw_of
from kernel.clock import Clock
from kernel.tasks import cancel_and_wait

log = logging.getLogger("switchboard.admin")

SWITCHES: Final = "sb:admin:switches"
VERSION: Final = "sb:admin:version"
LOG: Final = "sb:admin:log"
LOG_SIZE: Final = 200
SYNC_EVERY: Final = 1.0
START_TRIES: Final = 5


class Switches:
    def __init__(
        self,
        pool: Pool,
        *,
        redis: Redis | None,
        clock: Clock,
        replica: str,
        observe: Callable[[Sequence[Event]], None],
        on_action: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._clock = clock
        self.replica = replica
        self._observe = observe
        self._on_action = on_action
        self._message: str | None = None  # the operator's, for the outage banner
        self._version: int | None = None
        self._unsynced = False
        self._problems: list[str] = []  # what was wrong with the stored switches last round
        self._log: deque[AuditEntry] = deque(maxlen=LOG_SIZE)
        self._task: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        return self._redis is not None

    def current(self) -> Desired:
        snap = self._pool.snapshot()
        return Desired(
            override=snap.override,
            emergency=frozenset(v.name for v in snap.views if v.emergency),
            drained=frozenset(v.name for v in snap.views if v.drained),
            message=self._message,
        )

    def message(self, configured: str = "") -> str:
        """The outage banner's operator message: the admin API's, else `configured`."""
        return configured if self._message is None else self._message

    def apply(self, desired: Desired) -> None:
        self._message = desired.message
        now = self._clock.monotonic()
        events: list[Event] = []
        for name in self._pool.names:
            events += self._pool.set_emergency(name, name in desired.emergency, now=now)
            events += self._pool.set_drained(name, name in desired.drained, now=now)
        events += self._pool.set_override(desired.override, now=now)
        if events:
            # Decide at once, so the change shows in routing, /status and the metrics
            # now rather than at the next customer's request.
            _, change = self._pool.route(now=now, wall=self._clock.wall)
            self._observe([*events, change] if change is not None else events)

    def current_views(self) -> Sequence[CallCenterView]:
        return self._pool.snapshot().views

    def describe(self) -> dict[str, Any]:
        d = self.current()
        o = d.override
        return {
            "override": None
            if o is None
            else {"kind": o.kind.value, "callcenter": o.callcenter, "reason": o.reason},
            "emergency": sorted(d.emergency),
            "drained": sorted(d.drained),
            "message": d.message,
            "shared": self.shared,
            "in_sync": not self._unsynced,
        }

    def _entry(
        self, *, actor: str, remote: str, action: str, target: str, detail: str
    ) -> AuditEntry:
        entry = AuditEntry(
            at=self._clock.wall().isoformat(timespec="seconds"), actor=actor, remote=remote,
            action=action, target=target, detail=detail, replica=self.replica,
        )  # fmt: skip
        self._log.appendleft(entry)
        self._on_action(action)
        log.warning(
            "admin: %s %s by %s from %s: %s", action, target, actor, remote, detail,
            extra={"event": "admin", "action": action, "target": target, "actor": actor},
        )  # fmt: skip
        return entry

    async def act(
        self, desired: Desired, *, actor: str, remote: str, action: str, target: str, detail: str
    ) -> bool:
        """Apply here, store for every replica, log; True if stored in Redis."""
        self.apply(desired)
        entry = self._entry(actor=actor, remote=remote, action=action, target=target, detail=detail)
        stored = await self._store(desired, entry)
        self._unsynced = not stored and self._redis is not None
        return stored

    async def note(self, *, actor: str, remote: str, action: str, target: str, detail: str) -> None:
        """Log an action that changes no switch (a cache re-warm)."""
        entry = self._entry(actor=actor, remote=remote, action=action, target=target, detail=detail)
        if self._redis is not None:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.lpush(LOG, json.dumps(asdict(entry)))
                    pipe.ltrim(LOG, 0, LOG_SIZE - 1)
                    await pipe.execute()
            except RedisError as exc:
                log.info("admin: action not logged in Redis: %s", exc)

    async def _store(self, desired: Desired, entry: AuditEntry | None) -> bool:
        if self._redis is None:
            return False
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(SWITCHES)
                raw = raw_of(desired)
                if raw:
                    pipe.hset(SWITCHES, mapping=cast(dict[Any, Any], raw))
                pipe.incr(VERSION)
                if entry is not None:
                    pipe.lpush(LOG, json.dumps(asdict(entry)))
                    pipe.ltrim(LOG, 0, LOG_SIZE - 1)
                results = await pipe.execute()
        except RedisError as exc:
            # The cause is in the message; a traceback adds nothing.
            log.error("admin: switches not stored in Redis, other replicas not told: %s", exc)  # noqa: TRY400
            return False
        self._version = int(results[2 if raw else 1])
        return True

    async def sync(self) -> bool:
        """Once: push our switches if an action could not store them, else apply the
        stored ones if they changed. False if Redis did not answer."""
        if self._redis is None:
            return True
        try:
            if self._unsynced:
                if await self._store(self.current(), None):
                    self._unsynced = False
                    log.warning("admin: switches set while Redis was down are now shared")
                    return True
                return False
            version = await self._redis.get(VERSION)
            version_n, problems = _version_of(version)
            if version_n is not None and version_n == self._version:
                self._problems = []  # nothing read, nothing wrong
                return True
            raw = await self._redis.hgetall(SWITCHES)
        except RedisError as exc:
            log.info("admin: switches not synced: %s", exc)
            return False
        text = _texts(raw, problems)
        self.apply(desired_of(text, self._pool.names, warn=problems.append))
        self._version = version_n  # None (not a number): read again next round
        if problems != self._problems:  # once per bad value, not once a second
            for problem in problems:
                log.warning("admin: %s", problem)
        self._problems = problems
        return True

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        """Newest first: the shared log when Redis answers, else this replica's."""
        if self._redis is not None:
            try:
                rows = await self._redis.lrange(LOG, 0, limit - 1)
            except RedisError:
                pass
            else:
                return [e for r in rows if (e := _audit_entry(r)) is not None]
        return list(self._log)[:limit]

    async def start(self) -> None:
        # The stored switches before the first customer is routed: a slow first answer
        # from Redis gets a few tries (bounded), then the sync loop keeps trying.
        for _ in range(START_TRIES):
            if await self._sync_round():
                break
            await asyncio.sleep(0.2)
        self._task = asyncio.create_task(self._loop(), name="admin-switches-sync")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_EVERY)
            await self._sync_round()

    async def _sync_round(self) -> bool:
        try:
            return await self.sync()
        except Exception:  # a bug must not end the sync for good: next round, go on
            log.exception("admin: switches sync failed; trying again in %.0f s", SYNC_EVERY)
            return False

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _version_of(value: Any) -> tuple[int | None, list[str]]:
    """The stored version (absent: 0); None, and why, if it is not an integer."""
    if value is None:
        return 0, []
    try:
        return int(_s(value)), []
    except ValueError:  # UnicodeDecodeError is one
        return None, [f"{VERSION} is not an integer, ignored (switches read every round): "
                      f"{value[:40]!r}"]  # fmt: skip


def _texts(raw: dict[Any, Any], problems: list[str]) -> dict[str, str]:
    """The stored hash as text; a field or value that is not UTF-8 is left out."""
    text = {}
    for k, v in raw.items():
        try:
            text[_s(k)] = _s(v)
        except UnicodeDecodeError:
            problems.append(f"{SWITCHES} field {k[:40]!r} is not UTF-8, ignored")
    return text


def _audit_entry(row: Any) -> AuditEntry | None:
    try:
        return audit_entry_of(json.loads(_s(row)))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the limit
        return None
