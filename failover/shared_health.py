"""Health shared among replicas through Redis (issue 15): the I/O around failover/peers.py.

Each replica (each worker process, with `server.workers`) publishes its OWN verdicts
(health state and outlier ejection per call center) and applies its peers' by the rules
in failover/peers.py. Redis keys::

    sb:health:events              pub/sub channel: each report, pushed at once on a change
                                  of our own verdicts, and every `refresh` (heartbeat)
    sb:health:replica:<id>        string: the replica's last report (JSON), expires after
                                  `peer_ttl`, read at start and after every reconnect
                                  (pub/sub loses what was sent while cut off)
    sb:health:replicas            set: ids of the replicas that wrote a report (an index
                                  for the read; ids whose report expired are pruned)

Three named tasks: `shared-health-publish`, `shared-health-listen` (subscribe, read the
stored reports, then take each pushed one; reconnects with jittered, bounded backoff),
`shared-health-tick` (forgets peers not heard for `peer_ttl`, lifts holds that ran out).

Never in a customer's request nor in the probe loop: the hooks (`on_probe`, `on_events`)
are plain calls into the pure book and the pool, and only these tasks await Redis, on a
client of their own (failover/shared_wiring.py), each call under `CALL_TIMEOUT` on top
of redisconn's socket timeouts. Cut off from Redis, a replica decides on its own
probes alone once its peers' reports are `peer_ttl` old.

Errors: none raised. Redis trouble is counted (`switchboard_shared_health_errors_total`),
logged once per cut, `..._connected` says 0; a malformed report is dropped (`report_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from failover.health import HealthState, Observation
from failover.peers import MAX_PEERS, PeerBook, Report, Verdict, encode, report_of
from failover.pool import Ejected, Event, HealthChange, Pool
from failover.settings import Settings
from kernel.clock import Clock
from kernel.tasks import cancel_and_wait
from monitoring.shared_health import SharedHealthMetrics

log = logging.getLogger("switchboard.shared_health")

CHANNEL: Final = "sb:health:events"
KEY_PREFIX: Final = "sb:health:replica:"
INDEX: Final = "sb:health:replicas"
CALL_TIMEOUT: Final = 1.0  # s, any one Redis exchange of this module
LISTEN_WAIT: Final = 0.25  # s, between checks for a forced re-read while subscribed
RECONNECT_MIN, RECONNECT_MAX = 0.2, 2.0  # s, jittered backoff of the listener
REDIS_TROUBLE: Final = (RedisError, OSError, TimeoutError)
DISTRUST_TTLS: Final = 10  # PeerBook.distrust, in peer TTLs (30 s by default)


class SharedHealth:
    def __init__(
        self, pool: Pool, *, redis: Redis, clock: Clock, replica: str, settings: Settings,
        observe: Callable[[Sequence[Event]], None], metrics: SharedHealthMetrics,
    ) -> None:  # fmt: skip
        s = settings.sharing
        self.replica = replica
        self._pool, self._redis, self._clock = pool, redis, clock
        self._observe, self._metrics = observe, metrics
        self._refresh, self._ttl_ms = s.refresh, s.peer_ttl_ms
        self.book = PeerBook(me=replica, ttl=s.peer_ttl, rise=settings.health.healthy_threshold,
                             max_ejection=settings.outlier.max_ejection_time,
                             distrust=DISTRUST_TTLS * s.peer_ttl)  # fmt: skip
        self._boot = secrets.token_hex(4)
        self._seq = 0
        self._dirty = asyncio.Event()
        self._reread = asyncio.Event()
        self._link = {"publish": False, "listen": False}
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- hooks: called from the sink, never await ---------------------------------------

    def on_events(self, events: Sequence[Event]) -> None:
        """Our own verdicts changed: publish them now; our own rise refutes peers' DOWNs."""
        for event in events:
            if isinstance(event, HealthChange):
                if event.transition.target is HealthState.UP:
                    self.book.own_rise(event.callcenter)
                self._dirty.set()
            elif isinstance(event, Ejected):
                self._dirty.set()

    def on_probe(self, name: str, obs: Observation) -> None:
        self.book.own_probe(name, obs, now=self._clock.monotonic())
        self.reconcile((name,))

    def reconcile(self, names: Iterable[str] | None = None) -> None:
        """Apply the book to the pool: corroborated rises, then holds (failover/peers.py)."""
        now = self._clock.monotonic()
        events: list[Event] = []
        for name in self._pool.names if names is None else names:
            peer = self.book.up_peer(name, now=now)
            rose = [] if peer is None else self._pool.adopt_rise(name, peer=peer, now=now)
            if rose:
                self.book.own_rise(name)
                self._metrics.adopted_total.labels(name, "rise").inc()
            hold = self.book.hold(name, now=now)
            held = self._pool.set_peer_hold(name, hold, now=now)
            if held and hold is not None:
                self._metrics.adopted_total.labels(name, hold.kind.value).inc()
                log.warning(
                    "shared health: %s %s, as replica %s says", name, hold.kind, hold.replica,
                    extra={"event": "peer_hold", "backend": name, "kind": hold.kind.value,
                           "peer": hold.replica},
                )  # fmt: skip
            events += rose + held
        if events:
            # Decide at once: the whole point is to move customers within moments.
            _, change = self._pool.route(now=now, wall=self._clock.wall)
            self._observe([*events, change] if change is not None else events)

    # -- what we publish ---------------------------------------------------------------

    def report(self, *, gone: bool = False) -> Report:
        now = self._clock.monotonic()
        centers = {}
        for m in self._pool.snapshot().members:
            b = m.breaker  # our own: a peer's ejection we hold is not ours to repeat
            until = b.ejected_until if b.ejected_until is not None else now
            left = until - now if until > now else None
            centers[m.spec.name] = Verdict(state=m.machine.state, episode=m.machine.since,
                                           ejected_for=left)  # fmt: skip
        self._seq += 1
        return Report(replica=self.replica, boot=self._boot, seq=self._seq, centers=centers,
                      gone=gone)  # fmt: skip

    async def publish(self, *, gone: bool = False) -> bool:
        text, key = encode(self.report(gone=gone)), KEY_PREFIX + self.replica
        try:
            async with asyncio.timeout(CALL_TIMEOUT), self._redis.pipeline(transaction=False) as p:
                if gone:
                    p.delete(key)
                    p.srem(INDEX, self.replica)
                else:
                    p.set(key, text, px=self._ttl_ms)
                    p.sadd(INDEX, self.replica)
                p.publish(CHANNEL, text)
                await p.execute()
        except REDIS_TROUBLE as exc:
            self._set_link("publish", ok=False, exc=exc)
            return False
        if not self._link["publish"]:  # back: what was pushed meanwhile is lost
            self._reread.set()
        self._set_link("publish", ok=True)
        return True

    # -- what we hear ------------------------------------------------------------------

    def take(self, raw: bytes | str, *, age: float = 0.0) -> bool:
        """One peer's report, pushed or stored `age` seconds ago; False if refused."""
        report = report_of(raw)
        now = self._clock.monotonic()
        if report is None or not self.book.hear(report, now=now - age):
            return False
        self._metrics.heard_total.inc()
        self._metrics.peers.set(len(self.book.peers(now=now)))
        known = set(self._pool.names)
        self.reconcile([n for n in report.centers if n in known] if not report.gone else None)
        return True

    async def read_stored(self) -> int:
        """Every peer's stored report (at start, after a reconnect); how many taken."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                raw_ids = await self._redis.smembers(INDEX)
                ids = sorted({str(i, "utf-8", "replace") if isinstance(i, bytes) else i
                              for i in raw_ids} - {self.replica})  # fmt: skip
                ids = ids[:MAX_PEERS]  # a bound on what a noisy Redis makes us read
                if not ids:
                    return 0
                async with self._redis.pipeline(transaction=False) as p:
                    for i in ids:
                        p.get(KEY_PREFIX + i)
                        p.pttl(KEY_PREFIX + i)
                    rows = await p.execute()
                gone = [i for i, raw in zip(ids, rows[::2], strict=True) if raw is None]
                if gone:
                    await self._redis.srem(INDEX, *gone)
        except REDIS_TROUBLE:
            self._metrics.errors_total.labels("read").inc()
            raise
        taken = 0
        for i, raw, pttl in zip(ids, rows[::2], rows[1::2], strict=True):
            if raw is None:
                continue
            try:  # each on its own: one that raises must not keep the others out for good
                age = max(0, self._ttl_ms - int(pttl)) / 1000 if int(pttl) > 0 else 0.0
                taken += self.take(raw, age=age)
            except Exception:
                log.exception("shared health: stored report of %r skipped", i)
        return taken

    # -- the tasks ---------------------------------------------------------------------

    def start(self) -> None:
        for name, loop in (("publish", self._publish_loop), ("listen", self._listen_loop),
                           ("tick", self._tick_loop)):  # fmt: skip
            self._tasks.append(asyncio.create_task(loop(), name=f"shared-health-{name}"))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.publish(gone=True)  # peers forget us now, not `peer_ttl` from now

    async def _publish_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh):
                    await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.publish()
            except Exception:  # a bug must not stop the sharing for good
                log.exception("shared health: publishing failed; going on")

    async def _listen_loop(self) -> None:
        pause = RECONNECT_MIN
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    await pubsub.subscribe(CHANNEL)
                await self.read_stored()  # after subscribing: nothing falls in between
                self._set_link("listen", ok=True)
                self._dirty.set()  # and ours again, for peers that missed it
                pause = RECONNECT_MIN
                while True:
                    if self._reread.is_set():
                        self._reread.clear()
                        await self.read_stored()
                    msg = await pubsub.get_message(ignore_subscribe_messages=True,
                                                   timeout=LISTEN_WAIT)  # fmt: skip
                    if msg is not None and msg.get("type") == "message":
                        self.take(msg["data"])
            except REDIS_TROUBLE as exc:
                self._set_link("listen", ok=False, exc=exc)
            except Exception as exc:  # a bug (or a client surprise): reconnect, never die
                log.exception("shared health: listening failed; reconnecting")
                self._set_link("listen", ok=False, exc=exc)
            finally:
                with contextlib.suppress(*REDIS_TROUBLE):
                    async with asyncio.timeout(CALL_TIMEOUT):
                        await pubsub.aclose()
            await asyncio.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
            pause = min(pause * 2, RECONNECT_MAX)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh / 2)
            now = self._clock.monotonic()
            for replica in self.book.expire(now=now):
                log.warning("shared health: replica %s not heard for %.1f s; its verdicts "
                            "are forgotten", replica, self.book.ttl)  # fmt: skip
            self._metrics.peers.set(len(self.book.peers(now=now)))
            try:
                self.reconcile()
            except Exception:  # a bug must not stop peers' verdicts from running out
                log.exception("shared health: reconcile failed; going on")

    def _set_link(self, op: str, *, ok: bool, exc: BaseException | None = None) -> None:
        if not ok:
            self._metrics.errors_total.labels(op).inc()
        self._link[op] = ok
        connected = all(self._link.values())
        if connected != self.connected:
            if connected:
                log.info("shared health: connected; sharing verdicts with the replicas")
            else:
                log.warning("shared health: cut off from Redis (%s: %r); deciding on own "
                            "probes alone", op, exc)  # fmt: skip
            self.connected = connected
            self._metrics.connected.set(1 if connected else 0)

    def describe(self) -> dict[str, Any]:
        """The operator view (/api/v1/status `peers`)."""
        now = self._clock.monotonic()
        peers = [
            {"replica": r, "heard_s_ago": round(ago, 2),
             "verdicts": {n: v.state.value for n in self._pool.names
                          if (v := self.book.verdicts(n, now=now).get(r)) is not None}}
            for r, ago in sorted(self.book.peers(now=now).items())
        ]  # fmt: skip
        holds = {
            m.spec.name: {"kind": m.peer.kind.value, "replica": m.peer.replica}
            for m in self._pool.snapshot().members if m.peer is not None
        }  # fmt: skip
        return {"replica": self.replica, "connected": self.connected, "peers": peers,
                "holds": holds}  # fmt: skip
