"""One callback POST against real HTTP servers on 127.0.0.1: what each answer means."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from failover.callbacks.delivery import (
    CallbackClient,
    Delivered,
    EntryFailed,
    Outcome,
    Rejected,
    Unreachable,
)
from failover.callbacks.stream import Entry
from tests.support.processes import free_port

ENTRY = Entry(id="1-0", key="k1", payload='{"ticket":"cb_x"}', created_at=0.0)


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A call center on 127.0.0.1 whose `POST /callbacks` is `handler`: its URL."""
    app = web.Application()
    app.router.add_post("/callbacks", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/callbacks"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def answering(statuses: list[int]) -> AsyncIterator[tuple[str, list[web.Request]]]:
    """A call center that answers the given statuses in turn (the last one repeats)."""
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        status = statuses[min(len(seen), len(statuses)) - 1]
        return web.json_response({"status": status}, status=status)

    async with serving(handler) as url:
        yield url, seen


async def deliver(url: str, *, limit: float = 5.0) -> Outcome:
    """One delivery; `limit` bounds each try (a limit, not a wait: generous so that on a
    loaded machine no answered POST times out and is tried again)."""
    async with aiohttp.ClientSession() as session:
        client = CallbackClient(session, {"a": url}, timeout=limit, wait_max=0.01)
        return await client.deliver("a", ENTRY)


@pytest.mark.parametrize("status", [200, 201, 202])
async def test_a_2xx_is_delivered(status: int) -> None:
    async with answering([status]) as (url, seen):
        assert await deliver(url) == Delivered(status)
    (request,) = seen
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_permanent_refusal_is_rejected_without_retrying(status: int) -> None:
    async with answering([status]) as (url, seen):
        outcome = await deliver(url)
    assert isinstance(outcome, Rejected)
    assert f"HTTP {status}" in outcome.reason
    assert len(seen) == 1


async def test_a_500_fails_this_entry_without_retrying_at_once() -> None:
    async with answering([500]) as (url, seen):
        outcome = await deliver(url)
    assert isinstance(outcome, EntryFailed)
    assert len(seen) == 1


@pytest.mark.parametrize("status", [503, 429, 502])
async def test_call_center_trouble_is_retried_then_reported_unreachable(status: int) -> None:
    async with answering([status]) as (url, seen):
        outcome = await deliver(url)
    assert isinstance(outcome, Unreachable)
    assert len(seen) == 3  # TRIES


async def test_a_503_then_success_is_delivered_by_the_retry() -> None:
    async with answering([503, 201]) as (url, seen):
        assert await deliver(url) == Delivered(201)
    assert len(seen) == 2


async def test_a_refused_connection_is_unreachable() -> None:
    outcome = await deliver(f"http://127.0.0.1:{free_port()}/callbacks")
    assert isinstance(outcome, Unreachable)
    assert "ClientConnectorError" in outcome.reason


async def test_an_unknown_call_center_is_unreachable_not_an_error() -> None:
    async with aiohttp.ClientSession() as session:
        client = CallbackClient(session, {}, timeout=1.0)
        assert isinstance(await client.deliver("nowhere", ENTRY), Unreachable)


async def test_a_hanging_call_center_times_out_and_cancelling_is_not_retried() -> None:
    gate, arrived = asyncio.Event(), asyncio.Event()
    calls = 0

    async def hang(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        arrived.set()
        await gate.wait()
        return web.Response()

    async with serving(hang) as url:
        try:
            outcome = await deliver(url, limit=0.1)
            assert isinstance(outcome, Unreachable)
            assert calls == 3  # each try bounded by the timeout, then given up
            calls = 0
            arrived.clear()
            task = asyncio.create_task(deliver(url, limit=5.0))
            await asyncio.wait_for(arrived.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.1)
            assert calls == 1  # cancellation stopped it; tenacity did not try again
        finally:
            gate.set()


async def test_a_post_answered_after_its_timeout_is_sent_again_and_reported() -> None:
    """The at-least-once window: the call center had the first POST, but its answer came
    after the timeout, so the same entry (same Idempotency-Key) arrives twice; the client
    reports each retry, which is what switchboard_callback_delivery_failures_total
    {kind="retried"} counts."""
    keys: list[str] = []
    never = asyncio.Event()  # the first answer waits for it: set only when the test ends

    async def late_first(request: web.Request) -> web.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) == 1:
            await never.wait()  # answered after the timeout, whatever the machine's speed
        return web.json_response({}, status=201)

    retries: list[None] = []
    async with serving(late_first) as url, aiohttp.ClientSession() as session:
        client = CallbackClient(
            session, {"a": url}, timeout=1.0, wait_max=0.01,
            on_retry=lambda: retries.append(None),
        )  # fmt: skip
        try:
            assert await client.deliver("a", ENTRY) == Delivered(201)
        finally:
            never.set()  # lets the first handler end before the server is cleaned up
    assert keys == ["k1", "k1"]
    assert len(retries) == 1


async def test_no_retry_is_reported_when_the_first_post_is_answered() -> None:
    retries: list[None] = []
    async with answering([500]) as (url, seen), aiohttp.ClientSession() as session:
        client = CallbackClient(
            session, {"a": url}, timeout=1.0, on_retry=lambda: retries.append(None)
        )
        assert isinstance(await client.deliver("a", ENTRY), EntryFailed)
    assert (len(seen), retries) == (1, [])
