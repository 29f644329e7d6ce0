"""The secret that signs callback forms, the same on every replica.

A form is rendered by one replica (a worker, a pod) and may be posted to another: both
must know the secret (formtoken.py). `[callbacks] form_secret` sets it; when it is
absent the replicas agree on one through Redis: each proposes its own random secret with
``SET sb:callbacks:form_secret <secret> NX`` and then uses whatever the key holds, so
the first to ask wins and the others adopt it.

Until Redis first answers, a process signs with its own random secret (forms still work
on the process that served them, as before). Secrets it used before adopting another
stay accepted (the last `KEEP`), so a form served in that window is not refused after.
The key is checked again every `SYNC_EVERY_S`: if Redis lost it (a restart without its
data, a failover before it reached the replica), the next check sets the one in use
again, and processes that had picked a different one meanwhile adopt it and keep
accepting their own.
"""

from __future__ import annotations

import logging
import secrets
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from failover.callbacks import formtoken

log = logging.getLogger("switchboard.callbacks")

KEY: Final = "sb:callbacks:form_secret"
KEEP: Final = 4
SYNC_EVERY_S: Final = 5.0
SECRET_BYTES: Final = 32


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


class FormSecrets:
    """`current` signs new forms; `accepted` (current first) verifies posted ones."""

    def __init__(self, configured: bytes | None = None) -> None:
        self.configured = configured is not None
        self.current = configured if configured is not None else new_secret()
        self.accepted: tuple[bytes, ...] = (self.current,)
        self.shared = self.configured  # whether every replica is known to use `current`

    async def sync(self, redis: Redis) -> bool:
        """Agree on the secret through Redis; False when Redis did not answer (the
        secret in use is kept)."""
        if self.configured:
            return True
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.set(KEY, self.current, nx=True)
                pipe.get(KEY)
                _, value = await pipe.execute()
        except RedisError as exc:
            log.info("callbacks: form secret not agreed through Redis yet: %s", exc)
            return False
        if not isinstance(value, bytes) or len(value) < formtoken.MIN_SECRET_BYTES:
            log.warning("callbacks: %s holds no usable secret; keeping this process's", KEY)
            return False
        if value != self.current:
            log.info("callbacks: adopting the replicas' shared form secret")
            self.current = value
            self.accepted = (value, *(s for s in self.accepted if s != value))[:KEEP]
        self.shared = True
        return True

    def verify(
        self, cookie: str | None, token: str | None, now: float, *, max_age: float
    ) -> formtoken.Verdict:
        """`formtoken.verify` under each accepted secret; the current one's verdict when
        none accepts the token."""
        first = formtoken.verify(self.current, cookie, token, now, max_age=max_age)
        if first.ok:
            return first
        for secret in self.accepted[1:]:
            if formtoken.verify(secret, cookie, token, now, max_age=max_age).ok:
                return formtoken.OK
        return first
