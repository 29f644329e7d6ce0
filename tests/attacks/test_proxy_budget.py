"""The request budget (`proxy.request_budget_ms`) against call centers that send their
status line and headers a line at a time, and who is blamed when it runs out.

Before: `sock_read` starts again with every chunk, so a call center sending a header
line every 0.3 s held the customer for as long as it liked (the first attempt had no
other deadline); and a primary whose 503 came late left the retry on the backup too
little time, whose running out was counted against the healthy backup until it was
ejected.

`SlowHead` is a raw TCP call center: `/health` answers at once; any other path gets
the status line at once, then `lines` header lines `gap` seconds apart, then the end.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.support.attack import attack_stack, get, raw_request
from tests.support.rawcenter import RawCallCenter


class SlowHead(RawCallCenter):
    def __init__(self, *, status: int, lines: int, gap: float) -> None:
        super().__init__()
        self.status, self.lines, self.gap = status, lines, gap
        self.answered = 0  # customer answers sent whole

    async def answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        if head.split(b" ", 2)[1].startswith(b"/health"):
            body = b'{"status": "ok"}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))  # fmt: skip
        else:
            writer.write(b"HTTP/1.1 %d Slow\r\n" % self.status)
            for i in range(self.lines):
                await writer.drain()
                await asyncio.sleep(self.gap)
                writer.write(b"X-Slow-%d: x\r\n" % i)
            writer.write(b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            self.answered += 1
        await writer.drain()


async def test_headers_sent_a_line_at_a_time_are_cut_at_the_budget_and_blamed(
    tmp_path: Path,
) -> None:
    # connect + read (1 s) fit in the budget (1 s): before, no deadline at all; each
    # line within read_timeout, 12 lines take 3.6 s.
    slow = SlowHead(status=200, lines=12, gap=0.3)
    await slow.start()
    extra = "[proxy]\nconnect_timeout_ms = 500\nread_timeout_ms = 500\nrequest_budget_ms = 1000\n"
    try:
        async with attack_stack(tmp_path, extra=extra, urls={"primary": slow.url}) as stack:
            started = time.monotonic()
            answer = await raw_request(stack.port, get("/support/router/setup"), within=10)
            waited = time.monotonic() - started
            # The budget ran out: self-help, within the budget (and some slack).
            assert (answer.status, answer.headers["Location"]) == (
                303, "/help/search?q=router+setup"
            )  # fmt: skip
            assert waited < 2.0, waited
            assert slow.answered == 0
            # The call center used the whole budget itself: counted against it.
            recorded = stack.failures_recorded()
            assert recorded["primary"] >= 1
            assert recorded["backup"] == 0
    finally:
        await slow.stop()


async def test_a_retry_left_too_little_budget_is_not_counted_against_the_backup(
    tmp_path: Path,
) -> None:
    # The primary's 503 takes 0.6 s of the 1 s budget; the healthy backup answers in
    # 0.55 s (within its read timeout) but only 0.4 s are left.
    slow = SlowHead(status=503, lines=2, gap=0.3)
    await slow.start()
    extra = "[proxy]\nconnect_timeout_ms = 100\nread_timeout_ms = 600\nrequest_budget_ms = 1000\n"
    try:
        async with attack_stack(tmp_path, extra=extra, urls={"primary": slow.url}) as stack:
            answers = await asyncio.gather(
                *(raw_request(stack.port, get("/support/slow?s=0.55"), within=10)
                  for _ in range(3))
            )  # fmt: skip
            assert [a.status for a in answers] == [303] * 3
            assert stack.centers["backup"].customer_requests()  # the retries were made
            backup = next(m for m in stack.pool.snapshot().members if m.spec.name == "backup")
            assert backup.breaker.ejections_total == 0
            recorded = stack.failures_recorded()
            assert recorded["backup"] == 0, recorded
            assert recorded["primary"] >= 3  # its 503s are its own
    finally:
        await slow.stop()


async def test_no_retry_starts_with_less_budget_left_than_the_connect_timeout(
    tmp_path: Path,
) -> None:
    # The primary's 503 takes 0.76 s of the 1 s budget: 0.24 s left, under the 0.3 s
    # connect timeout.
    slow = SlowHead(status=503, lines=2, gap=0.38)
    await slow.start()
    extra = "[proxy]\nconnect_timeout_ms = 300\nread_timeout_ms = 500\nrequest_budget_ms = 1000\n"
    try:
        async with attack_stack(tmp_path, extra=extra, urls={"primary": slow.url}) as stack:
            answer = await raw_request(stack.port, get("/support/billing"), within=10)
            assert (answer.status, answer.headers["Location"]) == (303, "/help/search?q=billing")
            assert stack.centers["backup"].customer_requests() == []
            assert stack.failures_recorded()["backup"] == 0
    finally:
        await slow.stop()
