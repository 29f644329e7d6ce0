"""A call center that misbehaves at the HTTP level: hangs after its headers, dribbles its
body, resets mid-response, answers garbage, huge headers or garbage health JSON.

`Misbehaving` is a raw TCP server that answers `/health` with a 200 JSON (or, at
`/health` with `health=` set, whatever bytes the test gives) and every other path by the
behaviour its last segment names. Customers must get an answer from the next call center
(a GET is retried once) or self-help, never a 5xx; the probe loop must go on.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.attack import attack_stack
from tests.support.rawcenter import RawCallCenter
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5, sock_read=15)
FAST_PROXY = "[proxy]\nread_timeout_ms = 500\nrequest_budget_ms = 2000\n"


class Misbehaving(RawCallCenter):
    def __init__(self) -> None:
        super().__init__()
        self.health = b'{"status": "ok"}'
        self.health_probes = 0

    async def answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        path = head.split(b" ", 2)[1].decode()
        await self._answer(path.rsplit("/", 1)[-1].split("?")[0], writer)

    async def _answer(self, behaviour: str, writer: asyncio.StreamWriter) -> None:
        def head(length: int, extra: bytes = b"") -> bytes:
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (length, extra)

        if behaviour == "health":
            self.health_probes += 1
            writer.write(head(len(self.health), b"Content-Type: application/json\r\n"))
            writer.write(self.health)
        elif behaviour == "hang-after-headers":
            writer.write(head(1000))
            await writer.drain()
            await asyncio.sleep(30)
        elif behaviour == "dribble":
            writer.write(head(100))
            for _ in range(100):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.3)
        elif behaviour == "reset-mid-response":
            writer.write(head(10_000) + b"x" * 1000)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.transport.abort()  # RST: the rest never comes
        elif behaviour == "reset-mid-stream":
            writer.write(head(2_000_000) + b"x" * 600_000)  # past buffer_bytes: streamed
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.transport.abort()
        elif behaviour == "garbage-status":
            writer.write(b"HTTP/1.1 OK maybe\r\n\r\n\x00\xff garbage")
        elif behaviour == "not-http":
            writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 50)
        elif behaviour == "huge-headers":
            writer.write(head(2, b"X-Big: " + b"b" * 100_000 + b"\r\n") + b"ok")
        elif behaviour == "close-before-answer":
            pass  # aborted by _accept's finally
        await writer.drain()


BEHAVIOURS = [
    "hang-after-headers",
    "dribble",
    "reset-mid-response",
    "garbage-status",
    "not-http",
    "huge-headers",
    "close-before-answer",
]


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
async def test_a_broken_answer_is_retried_on_the_next_call_center_never_a_5xx(
    tmp_path: Path, behaviour: str
) -> None:
    bad = Misbehaving()
    await bad.start()
    try:
        async with (
            attack_stack(tmp_path, extra=FAST_PROXY, urls={"primary": bad.url}) as stack,
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
        ):
            for i in range(2):
                url = f"{stack.url}/support/{i}/{behaviour}"
                async with session.get(url, allow_redirects=False) as resp:
                    body = await resp.read()
                    assert resp.status < 500, (behaviour, resp.status, body[:200])
                    if resp.status == 200:
                        assert json.loads(body)["center"] == "backup"
                    else:  # the budget ran out: self-help, never an error page
                        assert resp.status == 303
            assert stack.failures_recorded()["primary"] >= 2
            assert stack.failures_recorded()["backup"] == 0
    finally:
        await bad.stop()


async def test_a_reset_after_streaming_began_cuts_the_customers_connection(
    tmp_path: Path,
) -> None:
    bad = Misbehaving()
    await bad.start()
    try:
        async with (
            attack_stack(tmp_path, urls={"primary": bad.url}) as stack,
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
        ):
            resp = await session.get(f"{stack.url}/support/reset-mid-stream")
            assert resp.status == 200  # the status line had left before the reset
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()  # cut, never a short body that looks whole
            resp.release()
    finally:
        await bad.stop()


GARBAGE_HEALTH = [
    b"not json at all",
    b"[" * 60_000,  # deeper than the JSON parser goes
    b'{"status": ["down"], "agents_available": true, "queue_wait_seconds": "9"}',
    b'{"status": "ok", "queue_wait_seconds": NaN}',
    b"\xff\xfe\x00",
    b"x" * 70_000,  # past the 64 KiB the probe reads
]


@pytest.mark.parametrize("health", GARBAGE_HEALTH, ids=range(len(GARBAGE_HEALTH)))
async def test_garbage_health_json_keeps_the_probe_loop_going(
    tmp_path: Path, health: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Misbehaving()
    bad.health = health
    await bad.start()
    try:
        async with attack_stack(tmp_path, urls={"primary": bad.url}) as stack:
            seen = bad.health_probes
            await wait_for(lambda: bad.health_probes >= seen + 3, within=5,
                           what="three more probes")  # fmt: skip
            # A 2xx without the contract's JSON is a plain healthy answer.
            primary = stack.pool.snapshot().members[0]
            assert primary.machine.state.value == "up"
            # Then the call center says it is down, in proper JSON: that is heard.
            bad.health = b'{"status": "down"}'
            await wait_for(
                lambda: stack.pool.snapshot().members[0].machine.state.value == "down",
                within=5, what="primary down from its health JSON",
            )  # fmt: skip
        assert "probe loop" not in caplog.text
    finally:
        await bad.stop()
