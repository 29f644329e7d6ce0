"""The Discourse origin client's failures against the community simulator over real
loopback HTTP: not found, down, slow, hanging, errors retried or not, cancellation, and
the timeouts it insists on."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from cache.origin import DiscourseClient, OriginBadResponse, OriginNotFound, OriginUnavailable
from sims.community import CommunitySim
from tests.integration.test_origin_client_reading import (
    TIMEOUT,
    Tries,
    client_for,
    community,
    session,
    tries,
)

__all__ = ["community", "session", "tries"]  # the shared fixtures

TIGHT_TOTAL = 0.4
TIGHT = aiohttp.ClientTimeout(total=TIGHT_TOTAL, sock_connect=0.2, sock_read=0.2)
# Two bounded tries plus one jittered backoff (at most 0.1 s), with slack for a busy
# machine; an origin that answers slower than this bound (SLOW_MS) tells a bounded
# try from an unbounded one.
TWO_TRIES_BOUND = 2 * TIGHT_TOTAL + 0.1 + 1.5
SLOW_MS = 3000


async def wait_for_requests(sim: CommunitySim, path: str, count: int) -> None:
    for _ in range(100):
        if sim.requests_for(path) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the simulator never received {count} request(s) for {path}")


async def test_unknown_topic_is_not_found_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(OriginNotFound):
        await client_for(session, community.url, attempts=3).topic(999_999)
    assert community.requests_for("/t/999999.json") == 1


async def test_a_topic_no_anonymous_visitor_sees_is_not_found_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    """A private message, an unlisted, a deleted and a staff-only topic, answered 200 as to
    an API key (sims.community_markup), are "not found" to the self-help layer (issue 19)."""
    client = client_for(session, community.url, attempts=3)
    why = r"archetype 'private_message'|unlisted|deleted|category 15 is read-restricted"
    for topic in community.seed.not_public:
        with pytest.raises(OriginNotFound, match=why):
            await client.topic(topic.id)
        assert community.requests_for(f"/t/{topic.id}.json") == 1


async def test_down_origin_is_unavailable_after_exactly_attempts_tries(
    community: CommunitySim, session: aiohttp.ClientSession, tries: Tries
) -> None:
    await community.set_mode("down")
    started = time.monotonic()
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, attempts=3).latest()
    assert tries.urls == ["/latest.json"] * 3
    assert caught.value.status is None  # a local failure, not the origin's answer
    assert time.monotonic() - started < 2.0  # refused at once; backoff waits at most 0.1+0.2 s


async def test_slow_origin_beyond_the_timeout_is_unavailable_within_the_bound(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("slow", delay_ms=SLOW_MS)
    started = time.monotonic()
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, timeout=TIGHT).latest()
    elapsed = time.monotonic() - started
    assert caught.value.status is None
    assert community.requests_for("/latest.json") == 2
    assert 0.4 <= elapsed < TWO_TRIES_BOUND


async def test_hanging_origin_is_unavailable_within_the_bound(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("hang")
    seeded = community.seed.topics[0]
    started = time.monotonic()
    with pytest.raises(OriginUnavailable):
        await client_for(session, community.url, timeout=TIGHT).topic(seeded.id)
    assert time.monotonic() - started < TWO_TRIES_BOUND
    assert community.requests_for(f"/t/{seeded.id}.json") == 2


@pytest.mark.parametrize("status", [503, 500, 429])
async def test_a_one_off_failure_is_retried_and_the_second_attempt_succeeds(
    community: CommunitySim, session: aiohttp.ClientSession, status: int
) -> None:
    seeded = community.seed.topics[0]
    await community.set_mode("error", status=status, count=1)
    bulletin = await client_for(session, community.url).topic(seeded.id)
    assert bulletin.id == seeded.id
    assert community.requests_for(f"/t/{seeded.id}.json") == 2


async def test_a_lasting_503_is_unavailable_with_the_status_after_attempts_tries(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("error", status=503)
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, attempts=3).latest(2)
    assert caught.value.status == 503
    assert community.requests_for("/latest.json") == 3


async def test_another_client_error_is_a_bad_response_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("error", status=403)
    with pytest.raises(OriginBadResponse, match="unexpected HTTP 403"):
        await client_for(session, community.url, attempts=3).latest()
    assert community.requests_for("/latest.json") == 1


async def test_a_cancelled_fetch_is_not_retried(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("hang")
    seeded = community.seed.topics[0]
    fetch = asyncio.create_task(client_for(session, community.url, attempts=3).topic(seeded.id))
    await wait_for_requests(community, f"/t/{seeded.id}.json", 1)
    fetch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch
    await asyncio.sleep(0.2)  # longer than any backoff: a retry would have arrived by now
    assert community.requests_for(f"/t/{seeded.id}.json") == 1


async def test_timeouts_must_bound_the_socket_reads_and_connects(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(ValueError, match="sock_connect and sock_read"):
        DiscourseClient(session, "http://127.0.0.1:9", timeout=aiohttp.ClientTimeout(total=1))
    with pytest.raises(ValueError, match="attempts"):
        DiscourseClient(session, "http://127.0.0.1:9", timeout=TIMEOUT, attempts=0)
