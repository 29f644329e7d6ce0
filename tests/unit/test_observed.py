"""monitoring.http.observed: the one timing-and-error guard of every route (the hot
bulletin page's included): counts, the request id, the fallback, the fast answer."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kernel.logs import REQUEST_ID, REQUEST_ID_HEADER
from monitoring.http import FRONT_DOOR, observed
from monitoring.metrics import Metrics
from tests.support.clock import FakeClock


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def counted(metrics: Metrics, route: str, status: int) -> float | None:
    """None: no such series."""
    labels = {"route": route, "destination": FRONT_DOOR, "code": str(status)}
    return sample(metrics, "switchboard_requests_total", **labels)


def setup() -> tuple[Metrics, FakeClock]:
    clock = FakeClock()
    return Metrics(CollectorRegistry(), now=clock.monotonic), clock


def request() -> web.Request:
    return make_mocked_request("GET", "/x", headers={REQUEST_ID_HEADER: "abc-123"})


async def test_a_fault_ends_on_the_fallback_counted_with_its_status_and_the_id_logged() -> None:
    metrics, _ = setup()
    seen: list[str | None] = []

    async def broken(_: web.Request) -> web.StreamResponse:
        raise RuntimeError("bug")

    def limited(_: web.Request) -> web.Response:
        seen.append(REQUEST_ID.get(None))  # what its log line carries
        return web.Response(text="limited")

    response = await observed(metrics, FakeClock())("page", broken, limited)(request())
    assert isinstance(response, web.Response)
    assert response.text == "limited"
    assert response.headers[REQUEST_ID_HEADER] == "abc-123"
    assert seen == ["abc-123"]
    assert counted(metrics, "page", 200) == 1
    assert counted(metrics, "page", 500) is None


async def test_without_a_fallback_a_fault_is_a_500_and_an_http_error_keeps_its_status() -> None:
    metrics, clock = setup()

    async def broken(_: web.Request) -> web.StreamResponse:
        raise RuntimeError("bug")

    async def missing(_: web.Request) -> web.StreamResponse:
        raise web.HTTPNotFound()

    wrap = observed(metrics, clock)
    with pytest.raises(RuntimeError):
        await wrap("page", broken)(request())
    with pytest.raises(web.HTTPNotFound) as caught:
        await wrap("page", missing, lambda _: web.Response())(request())
    assert caught.value.headers[REQUEST_ID_HEADER] == "abc-123"
    assert (counted(metrics, "page", 500), counted(metrics, "page", 404)) == (1, 1)


async def test_a_fast_answer_skips_the_handler_and_is_timed_on_the_clock() -> None:
    metrics, clock = setup()
    handled: list[bool] = []

    async def slow(_: web.Request) -> web.StreamResponse:
        handled.append(True)
        clock.advance(0.25)
        return web.Response(status=201)

    answers = iter([web.Response(text="hot"), None])
    wrap = observed(metrics, clock)("hot", slow, fast=lambda _: next(answers), series_now=True)
    assert counted(metrics, "hot", 200) == 0  # the series is there from the start
    first = await wrap(request())
    assert (first.status, handled) == (200, [])
    second = await wrap(request())
    assert (second.status, handled) == (201, [True])
    assert (counted(metrics, "hot", 200), counted(metrics, "hot", 201)) == (1, 1)
    # Timed on the app clock: the slow answer took the 0.25 s it moved, the fast none.
    labels = {"route": "hot", "destination": FRONT_DOOR}
    assert sample(metrics, "switchboard_request_duration_seconds_count", **labels) == 2
    assert sample(metrics, "switchboard_request_duration_seconds_sum", **labels) == 0.25


def test_an_answer_ahead_of_routing_is_counted_timed_and_given_its_id() -> None:
    metrics, clock = setup()

    def hot(_: web.BaseRequest) -> web.StreamResponse:
        clock.advance(0.125)
        return web.Response(status=304)

    wrap = observed(metrics, clock)
    answered = wrap.ahead("hot", hot)(request())
    assert answered is not None
    assert (answered.status, answered.headers[REQUEST_ID_HEADER]) == (304, "abc-123")
    assert counted(metrics, "hot", 304) == 1
    labels = {"route": "hot", "destination": FRONT_DOOR}
    assert sample(metrics, "switchboard_request_duration_seconds_sum", **labels) == 0.125


def test_a_declined_or_failed_answer_ahead_goes_on_to_the_router_uncounted() -> None:
    metrics, clock = setup()

    def broken(_: web.BaseRequest) -> web.StreamResponse | None:
        raise RuntimeError("bug")

    wrap = observed(metrics, clock)
    assert wrap.ahead("hot", lambda _: None)(request()) is None
    assert wrap.ahead("hot", broken)(request()) is None  # the routed path answers it
    labels = {"route": "hot", "destination": FRONT_DOOR}
    assert sample(metrics, "switchboard_request_duration_seconds_count", **labels) is None
    assert counted(metrics, "hot", 500) is None
