"""HAProxy agent-check responder: tells HAProxy, per call center, the pool's decision.

HAProxy (haproxy mode, failover/haproxy_config.py) connects to this port every
`agent_inter_ms` for each server, sends the call center's name and a newline
(`agent-send`), reads one line and closes (HAProxy manual, "agent-check"). The answer
comes from `Pool.route`, the very decision the aiohttp path uses:

- the chosen call center:                 `up ready 100%`  (use-server sends everyone)
- the one a failed GET is retried on:     `up ready 1%`    (in the farm, for redispatch)
- every other one, and all of them while
  the decision is self-help or "offer
  self-help" (degraded):                  `down#<why>`    (HAProxy sends /support to us)

A plain `down`: HAProxy 2.6 ignored `down#<description with spaces>` (seen in the
tests), so the reason stays in Switchboard's own status view.

`drain` is not used for the retry target: a drained server has weight 0 and is out of
the load-balancing farm, so a redispatched retry would not pick it either.

The same port also answers HAProxy's plain health check (a TCP connect that sends
nothing): it only asks whether Switchboard is there. Each connection is bounded: one
line of at most `MAX_LINE` bytes within `READ_TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from failover.pool import Event, Pool
from failover.routing import Decision, RouteTo
from kernel.clock import Clock

log = logging.getLogger("switchboard.agentcheck")

MAX_LINE = 128
READ_TIMEOUT = 1.0
CHOSEN = "up ready 100%"
RETRY = "up ready 1%"


def agent_answers(decision: Decision, names: Sequence[str]) -> dict[str, str]:
    """What each call center's agent check says for this decision (pure)."""
    answers = dict.fromkeys(names, "down")
    if isinstance(decision, RouteTo):
        if decision.fallbacks:
            answers[decision.fallbacks[0]] = RETRY
        answers[decision.callcenter] = CHOSEN
    else:  # self-help or degraded: Switchboard's own /support handler answers
        for name in names:
            answers[name] = "down"
    return answers


class AgentResponder:
    def __init__(
        self, pool: Pool, clock: Clock, observe: Callable[[Sequence[Event]], None]
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._observe = observe
        self._server: asyncio.Server | None = None
        self.answered = 0  # for tests and the status view: agent answers given

    def answer(self, name: str) -> str:
        decision, change = self._pool.route(now=self._clock.monotonic(), wall=self._clock.wall)
        if change is not None:
            self._observe([change])
        answer = agent_answers(decision, self._pool.names).get(name)
        return answer if answer is not None else "down"

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_LINE)
        log.warning("agent-check responder on %s:%s", host, port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                line = await reader.readline()
            name = line.decode("ascii", "replace").strip()
            if name:  # an empty read is HAProxy's plain health check: connected is enough
                writer.write((self.answer(name) + "\n").encode())
                await writer.drain()
                self.answered += 1
        except (TimeoutError, ValueError, ConnectionError):
            pass  # a slow, oversized or vanished peer: nothing to answer
        finally:
            writer.close()
