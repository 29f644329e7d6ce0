"""Every route of the front door, enumerated from its router, answers with a version-free
`Server` and, unless the answer is a call center's page relayed by the proxy, the
security headers (switchboard/security_headers.py); every HTML answer carries the page
policy, whose style hashes match the <style> elements the page really has.

The routes come from `app.router`, so a route added later without a sample here fails
`test_every_route_has_a_sample`: it cannot escape these checks unnoticed. Real servers:
the front door with its self-help layer, the community simulator, a call-center
simulator and a redis-server (callbacks on).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest_asyncio

from cache.pages import PAGE_HEADERS
from failover.status_page import STATUS_PAGE_HEADERS
from kernel.security_headers import OTHER_CSP, SERVER
from tests.support.selfhelp_stack import HelpStack, help_world

CSP = "Content-Security-Policy"
PROXIED = "/support{tail}"
NOT_A_ROUTE = "(router)"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    form: dict[str, str] | None = None
    json: dict[str, object] | None = None
    headers: dict[str, str] | None = None


def samples(bulletin: int) -> dict[str, list[Call]]:
    """Requests per route (by its canonical path): the usual answer and the refusals."""
    b = f"/help/bulletins/{bulletin}"
    return {
        PROXIED: [Call("GET", "/support/billing"), Call("POST", "/support/billing", json={})],
        "/healthz": [Call("GET", "/healthz")],
        "/readyz": [Call("GET", "/readyz")],
        "/metrics": [Call("GET", "/metrics")],
        "/status": [Call("GET", "/status"), Call("GET", "/status", headers=_bearer("wrong"))],
        "/api/v1/status": [Call("GET", "/api/v1/status")],
        "/admin/callcenters/{name}/{switch}": [
            Call("POST", "/admin/callcenters/solo/drain", json={"on": True})
        ],
        "/admin/override": [Call("POST", "/admin/override", json={"mode": "self-help"})],
        "/admin/cache/rewarm": [Call("POST", "/admin/cache/rewarm")],
        "/admin/switches": [Call("GET", "/admin/switches")],
        "/admin/log": [Call("GET", "/admin/log")],
        "/admin/reload": [Call("POST", "/admin/reload")],
        "/admin/message": [
            Call("PUT", "/admin/message", json={"message": "Back by 18:00."}),
            Call("DELETE", "/admin/message"),
        ],
        "/help/logo": [Call("GET", "/help/logo")],  # no logo file configured: 404
        "/help": [Call("GET", "/help")],
        "/help/search": [Call("GET", "/help/search?q=wifi"), Call("GET", "/help/search")],
        "/help/bulletins/{id}": [
            Call("GET", b),
            Call("GET", b),  # the hot path: the page built before, its headers prebuilt
            Call("GET", "/help/bulletins/99999999"),
            Call("GET", "/help/bulletins/x"),
        ],
        "/help/bulletins/{id}/vote": [
            Call("POST", f"{b}/vote", form={"helpful": "yes"}),
            Call("POST", f"{b}/vote", form={"helpful": "maybe"}),
        ],
        "/help/authors": [Call("GET", "/help/authors")],
        "/help/callbacks/new": [Call("GET", "/help/callbacks/new?topic=wifi")],
        "/help/callbacks": [
            Call("POST", "/help/callbacks", form={"name": "x"}),  # no form token: 403 page
            Call("POST", "/help/callbacks", json={"name": "x"}),  # 422
            Call("GET", "/help/callbacks"),  # the ticket page reopened: 303 to the form
        ],
        "/help/{path}": [Call("GET", "/help/nope"), Call("GET", "/help/")],  # 404 page, 308
        "/api/v1/bulletins": [
            Call("GET", "/api/v1/bulletins"),
            Call("GET", "/api/v1/bulletins?limit=x"),
        ],
        "/api/v1/bulletins/{id}": [Call("GET", f"/api/v1/bulletins/{bulletin}")],
        "/api/v1/search": [Call("GET", "/api/v1/search?q=wifi"), Call("GET", "/api/v1/search")],
        "/api/v1/authors/top": [Call("GET", "/api/v1/authors/top")],
        "/api/v1/openapi.json": [Call("GET", "/api/v1/openapi.json")],
        NOT_A_ROUTE: [Call("GET", "/nope"), Call("DELETE", "/help"), Call("POST", "/status")],
    }


# Answered on the ops listener only (failover/opsport.py): asked there.
OPS_ROUTES = frozenset(
    {"/metrics", "/status", "/api/v1/status", "/admin/callcenters/{name}/{switch}",
     "/admin/override", "/admin/cache/rewarm", "/admin/switches", "/admin/log",
     "/admin/reload", "/admin/message"}
)  # fmt: skip


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True, slots=True)
class Seen:
    call: Call
    status: int
    content_type: str
    headers: dict[str, str]
    body: str


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    async with help_world(tmp_path) as s:
        yield s


async def send(s: aiohttp.ClientSession, base: str, call: Call) -> Seen:
    async with s.request(
        call.method, base + call.path, allow_redirects=False, headers=call.headers,
        data=call.form, json=call.json,
    ) as resp:  # fmt: skip
        return Seen(call, resp.status, resp.content_type, dict(resp.headers), await resp.text())


def style_sources(csp: str) -> set[str]:
    directive = next(d for d in csp.split("; ") if d.startswith("style-src "))
    return set(directive.split()[1:])


def hashed(css: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"


def problems(seen: Seen, *, proxied: bool) -> list[str]:
    """What is wrong with one answer's headers, in words."""
    h, out = seen.headers, []
    if h.get("Server") != SERVER:
        out.append(f"Server is {h.get('Server')!r}")
    if proxied:
        if CSP in h:
            out.append("a relayed call-center page got our policy")
        return out
    for name, value in (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                        ("Referrer-Policy", "same-origin")):  # fmt: skip
        if h.get(name) != value:
            out.append(f"{name} is {h.get(name)!r}")
    csp = h.get(CSP, "")
    if "frame-ancestors 'none'" not in csp or "default-src 'none'" not in csp:
        out.append(f"policy {csp!r}")
    if seen.content_type == "text/html":
        if csp not in (PAGE_HEADERS[CSP], STATUS_PAGE_HEADERS[CSP]):
            out.append(f"an HTML page with policy {csp!r}")
        styles = re.findall(r"<style>(.*?)</style>", seen.body, re.DOTALL)
        if not styles and seen.call.method != "HEAD":
            out.append("an HTML page without its stylesheet")
        if any(hashed(css) not in style_sources(csp) for css in styles):
            out.append("a <style> whose hash the policy does not allow")
        if re.search(r"<[^>]+\sstyle=", seen.body):
            out.append("a style attribute (the policy blocks it)")
    elif seen.status != 304 and csp != OTHER_CSP:
        out.append(f"a {seen.content_type} answer with policy {csp!r}")
    return out


async def test_every_route_has_a_sample(stack: HelpStack) -> None:
    table = samples(stack.community.seed.topics[0].id)
    routes = {r.resource.canonical for r in stack.app.router.routes() if r.resource is not None}
    missing = routes - table.keys()
    assert not missing, f"routes without a sample here, add them to samples(): {missing}"


async def test_every_answer_of_every_route_has_the_headers_and_html_the_page_policy(
    stack: HelpStack,
) -> None:
    bulletin = stack.community.seed.topics[0].id
    found: list[str] = []
    html_pages = 0
    async with aiohttp.ClientSession() as s:
        for canonical, calls in samples(bulletin).items():
            base = stack.ops_url if canonical in OPS_ROUTES else stack.url
            for call in calls:
                seen = await send(s, base, call)
                html_pages += seen.content_type == "text/html"
                found += [
                    f"{call.method} {call.path} ({seen.status}): {p}"
                    for p in problems(seen, proxied=canonical == PROXIED)
                ]
        # HEAD (aiohttp answers it for every GET route) and a conditional GET (304).
        etags = {
            path: (await send(s, stack.url, Call("GET", path))).headers["Etag"]
            for path in ("/help", f"/help/bulletins/{bulletin}")
        }
        not_modified = 0
        for path, etag in etags.items():
            for call in (Call("HEAD", path), Call("GET", path, headers={"If-None-Match": etag})):
                seen = await send(s, stack.url, call)
                not_modified += seen.status == 304
                found += [
                    f"{call.method} {call.path} ({seen.status}): {p}"
                    for p in problems(seen, proxied=False)
                ]
                if seen.status == 304:  # it refreshes the cached page's headers
                    assert seen.headers[CSP] == PAGE_HEADERS[CSP], call
        assert not_modified == 2
    assert not found, "\n".join(["", *found])
    assert html_pages >= 8, "fewer HTML pages than expected: did a sample stop answering one?"


async def test_a_relayed_call_center_page_keeps_its_own_headers_and_gets_none_of_ours(
    stack: HelpStack,
) -> None:
    async with aiohttp.ClientSession() as s:
        seen = await send(s, stack.url, Call("GET", "/support/billing"))
    assert seen.status == 200
    assert seen.headers.get("X-Served-By") == "solo"
    for name in (CSP, "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"):
        assert name not in seen.headers, name
    assert seen.headers["Server"] == SERVER
