"""Self-help is a real aiohttp sub-app (issue 16): its own router and its own key, mounted
by the main app at /help (switchboard/selfhelp_mount.py), with the main app keeping only
a handle on it. The callback routes under /help/callbacks stay the main app's, the
router answers as one flat router did (404s and 405s included), and the main app's
security-headers hook and request metrics still cover the self-help pages.

Real servers: the front door, the community simulator, a call-center simulator and a
redis-server (tests/support/selfhelp_stack.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from cache.site import SELF_HELP, SELF_HELP_APP
from failover.appkeys import METRICS
from kernel.security_headers import SERVER
from switchboard.security_headers import PAGES
from tests.support.selfhelp_stack import HelpStack, help_world


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    async with help_world(tmp_path) as s:
        yield s


async def resolved(app: web.Application, method: str, path: str) -> web.UrlMappingMatchInfo:
    """What the main app's router (the one the server uses) resolves `path` to."""
    found = await app.router.resolve(make_mocked_request(method, path, app=app))
    assert isinstance(found, web.UrlMappingMatchInfo)
    return found


async def test_the_pages_are_the_self_help_apps_and_its_key_is_its_own(stack: HelpStack) -> None:
    main, pages = stack.app, stack.app[SELF_HELP_APP]
    assert pages is not main
    assert SELF_HELP not in main  # the main app keeps only its handle
    assert pages[SELF_HELP] is stack.self_help
    bulletin = stack.community.seed.topics[0].id
    for method, path in [
        ("GET", "/help"),
        ("GET", "/help/search"),
        ("GET", f"/help/bulletins/{bulletin}"),
        ("POST", f"/help/bulletins/{bulletin}/vote"),
        ("GET", "/help/authors"),
        ("GET", "/help/logo"),
    ]:
        match = await resolved(main, method, path)
        assert match.http_exception is None, path
        assert match.apps == (pages,), path  # the server's _handle then adds the main app
        assert match.current_app is pages, path  # request.app, for the page's handler
    # Each of its routes listed once (the mount lists them; its doors in the index none).
    listed = [r.resource.canonical for r in main.router.routes() if r.resource is not None]
    assert sorted(c for c in listed if c.startswith("/help/bulletins")) == [
        "/help/bulletins/{id}",
        "/help/bulletins/{id}",  # GET and HEAD
        "/help/bulletins/{id}/vote",
    ]


async def test_callback_and_api_routes_stay_on_the_main_app(stack: HelpStack) -> None:
    for method, path, canonical in [
        ("GET", "/help/callbacks/new", "/help/callbacks/new"),
        ("POST", "/help/callbacks", "/help/callbacks"),
        ("GET", "/api/v1/bulletins/1", "/api/v1/bulletins/{id}"),
        ("GET", "/api/v1/status", "/api/v1/status"),
    ]:
        match = await resolved(stack.app, method, path)
        assert match.http_exception is None, path
        assert match.apps == (), path  # no sub-app on the way
        assert match.route.resource is not None
        assert match.route.resource.canonical == canonical


async def test_the_router_answers_as_one_flat_router_did(stack: HelpStack) -> None:
    """aiohttp's own sub-app resource would answer 404 for every path under /help that
    the sub-app does not know, forgetting what the main app's routes there allow."""
    expected = [
        ("PUT", "/help/callbacks", 405, "GET,HEAD,POST"),  # a main-app route under the mount
        ("POST", "/help/callbacks/new", 405, "GET,HEAD"),
        ("POST", "/help", 405, "GET,HEAD"),  # a self-help route
        ("DELETE", "/help/authors", 405, "GET,HEAD"),
        ("GET", "/help/bulletins/1/vote", 405, "POST"),  # not the not-found page's GET
        ("HEAD", "/help/bulletins/1/vote", 405, "POST"),
        ("GET", "/help/bulletins", 404, None),  # the not-found page (any other GET)
        ("GET", "/help/nope", 404, None),
        ("HEAD", "/help/nope", 404, None),
        ("POST", "/help/nope", 404, None),  # another method on an unknown path: still 404
        ("GET", "/help/bulletins/1/more", 404, None),
        ("GET", "/help/", 308, None),  # to /help
        ("GET", "/helpdesk", 404, None),
        ("GET", "/help/callbacks/other", 404, None),
        ("GET", "/help/callbacks", 303, None),  # the ticket page reopened: to the form
    ]
    async with aiohttp.ClientSession() as s:
        for method, path, status, allow in expected:
            async with s.request(method, stack.url + path, allow_redirects=False) as r:
                assert (r.status, r.headers.get("Allow")) == (status, allow), path
                assert r.headers["Server"] == SERVER
                assert r.headers["X-Content-Type-Options"] == "nosniff", path


async def test_the_main_apps_hook_and_metrics_cover_the_pages(stack: HelpStack) -> None:
    bulletin = stack.community.seed.topics[0].id
    page_csp = stack.app[PAGES]["Content-Security-Policy"]
    metrics = stack.app[METRICS]

    def answered(route: str) -> float:
        labels = {"route": route, "destination": "front-door", "code": "200"}
        return metrics.registry.get_sample_value("switchboard_requests_total", labels) or 0.0

    before = {r: answered(r) for r in ("help", "help_bulletin", "help_search", "help_authors")}
    async with aiohttp.ClientSession() as s:
        for path in ["/help", f"/help/bulletins/{bulletin}", f"/help/bulletins/{bulletin}",
                     "/help/search?q=wifi", "/help/authors"]:  # fmt: skip
            async with s.get(stack.url + path) as r:
                assert r.status == 200, path
                assert r.headers["Server"] == SERVER
                assert r.headers["Content-Security-Policy"] == page_csp, path
                assert r.headers["X-Frame-Options"] == "DENY", path
                assert r.headers["X-Request-ID"], path
    after = {r: answered(r) - n for r, n in before.items()}
    assert after == {"help": 1, "help_bulletin": 2, "help_search": 1, "help_authors": 1}
