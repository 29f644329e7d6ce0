"""The probe reads the health answer's whole body (up to 64 KiB), however it is split.

Before: `resp.content.read(MAX_HEALTH_BODY)` returned what was buffered, not the body:
a `"down"` sent in two pieces was cut after the first, failed to parse as JSON and was
taken as healthy; a body whose rest never came was healthy too instead of a timeout.

`Split` is a raw TCP call center that sends its answer's head, then each of `pieces`
`gap` seconds apart, then keeps the connection open (`hang` or not: the probe, knowing
the body's length, closes it).
"""

from __future__ import annotations

import asyncio

from failover.health import FailureKind, HealthPolicy, Observation, ProbeResult, classify
from failover.probes import MAX_HEALTH_BODY, new_probe_session, probe
from kernel.clock import SystemClock
from tests.support.rawcenter import RawCallCenter

BUDGET = 0.5


class Split(RawCallCenter):
    def __init__(self, head: bytes, pieces: list[bytes], *, gap: float = 0.05) -> None:
        super().__init__()
        self.head, self.pieces, self.gap = head, pieces, gap

    async def answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(self.head)
        for i, piece in enumerate(self.pieces):
            if i:
                await asyncio.sleep(self.gap)
            writer.write(piece)
            await writer.drain()
        await asyncio.Event().wait()  # held open until the probe closes or stop()


def _length_head(length: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length
    )


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _probe(center: Split) -> ProbeResult:
    await center.start()
    try:
        async with new_probe_session() as session:
            async with asyncio.timeout(BUDGET + 5):
                return await probe(
                    session, f"{center.url}/health", budget=BUDGET, clock=SystemClock()
                )
    finally:
        await center.stop()


async def test_a_chunked_down_in_two_pieces_is_a_failure() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    center = Split(head, [_chunk(b'{"status": '), _chunk(b'"down"}') + b"0\r\n\r\n"])
    result = await _probe(center)
    assert (result.http_status, result.reported_status) == (200, "down")
    assert classify(result, HealthPolicy()) is Observation.FAIL


async def test_a_40_kb_body_saying_down_at_its_end_in_two_writes_is_a_failure() -> None:
    body = b'{"pad": "' + b"x" * 40000 + b'", "status": "down"}'
    center = Split(_length_head(len(body)), [body[:16000], body[16000:]])
    result = await _probe(center)
    assert (result.http_status, result.reported_status) == (200, "down")
    assert classify(result, HealthPolicy()) is Observation.FAIL


async def test_a_body_whose_rest_never_comes_is_a_timeout() -> None:
    body = b'{"status": "ok", "agents_available": 3}'
    center = Split(_length_head(len(body) + 100), [body])
    result = await _probe(center)
    assert result.failure is FailureKind.TIMEOUT
    assert result.latency < BUDGET + 0.5
    assert classify(result, HealthPolicy()) is Observation.FAIL


async def test_a_body_over_the_cap_is_read_up_to_it_without_waiting_for_the_rest() -> None:
    # Guard (passed before too): 64 KiB are read, the rest (which never comes) is not
    # waited for; the cut-off text is not the contract's JSON, so the 200 speaks.
    first = b'{"status": "down", "pad": "' + b"x" * MAX_HEALTH_BODY
    center = Split(_length_head(len(first) + 1000), [first])
    result = await _probe(center)
    assert result.failure is None
    assert result.latency < BUDGET
    assert classify(result, HealthPolicy()) is Observation.OK
