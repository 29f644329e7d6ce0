"""Attacks on the request target and the request's framing, through a real front door.

Before: an absolute-form target (`GET http://a@127.0.0.1:<port>/support/x`) made the
front door fetch from the host and port the client named, with an Authorization header
built from the call center's address, and three of them ejected a healthy call center;
encoded dot segments reached a call center mounted under a path; an invalid Host went on
as X-Forwarded-Host; HTTP/1.0 with Transfer-Encoding was accepted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from failover.target import BadTargetError, Origin, upstream_path, upstream_url
from tests.support.attack import Trap, attack_stack, get, raw_request


async def test_an_absolute_form_target_never_reaches_the_host_it_names(tmp_path: Path) -> None:
    trap = Trap()
    await trap.start()
    try:
        async with attack_stack(tmp_path) as stack:
            targets = [
                f"http://127.0.0.1:{trap.port}/support/x",
                f"http://front.example/support/x?to=127.0.0.1:{trap.port}",
                f"HTTP://127.0.0.1:{trap.port}/support/y",
            ]
            for target in targets:
                answer = await raw_request(stack.port, get(target))
                assert answer.status == 200, target
            seen = stack.centers["primary"].customer_requests()
            assert [s.raw_path for s in seen] == ["/x", f"/x?to=127.0.0.1:{trap.port}", "/y"]
            assert all("Authorization" not in s.headers for s in seen)
            assert trap.connections == 0
    finally:
        await trap.stop()


async def test_userinfo_or_another_scheme_in_the_target_is_a_400_and_blames_nobody(
    tmp_path: Path,
) -> None:
    trap = Trap()
    await trap.start()
    try:
        async with attack_stack(tmp_path) as stack:
            bad = [
                f"http://a@127.0.0.1:{trap.port}/support/x",
                f"http://user:pw@127.0.0.1:{trap.port}/support/x",
                f"ftp://127.0.0.1:{trap.port}/support/x",
                f"gopher://127.0.0.1:{trap.port}/support/x",
            ]
            for _ in range(3):  # three was enough to eject a call center before
                for target in bad:
                    answer = await raw_request(stack.port, get(target))
                    assert answer.status == 400, target
            assert trap.connections == 0
            assert stack.centers["primary"].customer_requests() == []
            assert stack.failures_recorded() == {"primary": 0, "backup": 0}
            assert stack.refused("bad_target") == 3 * len(bad)
            answer = await raw_request(stack.port, get("*"))  # aiohttp's parser refuses it
            assert answer.status == 400
            assert stack.refused("malformed") == 1
            answer = await raw_request(stack.port, get("/support/ok"))
            assert answer.status == 200
            assert b'"center": "primary"' in answer.body
    finally:
        await trap.stop()


ESCAPES = [
    "/support/%2e%2e/admin",
    "/support/%2E%2E/admin",
    "/support/..%2fadmin",
    "/support/..%2Fadmin",
    "/support/.%2e/admin",
    "/support/%2e./admin",
    "/support/a/%2e%2e/%2e%2e/admin",
    "/support/%252e%252e/admin",
    "/support/%252fadmin",
    "/support/a/../../admin",
    "/support/./x",
    "/support/x%5c..%5cadmin",
    "/support/x\\..\\admin",
    "/support/x%00y",
    "/support/x%0d%0aSet-Cookie:%20a=b",
    # `..;` is `..` to Tomcat, Jetty and Spring (path parameters dropped first).
    "/support/..;/admin",
    "/support/%2e%2e%3b/admin",
    "/support/%2E%2E%3B/admin",
    "/support/..;jsessionid=x/admin",
    "/support/a/.;/..;/admin",
]


@pytest.mark.parametrize("target", ESCAPES)
async def test_a_path_that_could_leave_the_mount_is_a_400_and_reaches_no_call_center(
    tmp_path: Path, target: str
) -> None:
    async with attack_stack(tmp_path, base_path="/cc") as stack:
        answer = await raw_request(stack.port, get(target))
        # A decoded line break does not even match the route (404); all else is our 400.
        expected = 404 if "%0a" in target else 400
        assert answer.status == expected, target
        assert stack.centers["primary"].customer_requests() == []
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_ordinary_paths_keep_their_encoding_under_the_call_centers_base_path(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path, base_path="/cc") as stack:
        for target, upstream in [
            ("/support/router/wifi%20drops?x=1&y=%2F", "/cc/router/wifi%20drops?x=1&y=%2F"),
            ("/support", "/cc/"),
            ("/support/?q=1", "/cc/?q=1"),
            ("/support/caf%C3%A9/..x/x..", "/cc/caf%C3%A9/..x/x.."),
            ("/support/a%40b:c", "/cc/a%40b:c"),
            ("/support/a;b", "/cc/a;b"),  # a path parameter is not a dot segment
            ("/support/a;v=1/b..;c/;x", "/cc/a;v=1/b..;c/;x"),
        ]:
            answer = await raw_request(stack.port, get(target))
            assert answer.status == 200, target
            assert stack.centers["primary"].seen[-1].raw_path == upstream


@pytest.mark.parametrize(
    ("host_lines", "why"),
    [
        ('Host: evil.example/<script> x"\r\n', "invalid Host"),
        ("Host: a b\r\n", "invalid Host"),
        ("Host: front.example\r\nHost: other.example\r\n", "Host"),  # aiohttp refuses it
        ("", "Host"),  # aiohttp refuses it
        ("Host: exa mple:80\r\n", "invalid Host"),
        ("Host: example.com:99999999\r\n", "invalid Host"),
    ],
)
async def test_a_bad_host_header_is_a_400_on_every_route(
    tmp_path: Path, host_lines: str, why: str
) -> None:
    async with attack_stack(tmp_path) as stack:
        for path in ("/support/x", "/help", "/healthz", "/no-such-page"):
            data = f"GET {path} HTTP/1.1\r\n{host_lines}Connection: close\r\n\r\n".encode()
            answer = await raw_request(stack.port, data)
            assert answer.status == 400, (path, host_lines)
            assert why.lower().encode() in answer.body.lower()
        assert stack.centers["primary"].customer_requests() == []


async def test_http10_without_host_is_served_and_with_transfer_encoding_is_refused(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path) as stack:
        answer = await raw_request(stack.port, b"GET /support/x HTTP/1.0\r\n\r\n")
        assert answer.status == 200
        smuggle = (
            b"POST /support/x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
        )
        answer = await raw_request(stack.port, smuggle)
        assert answer.status == 400
        assert b"Transfer-Encoding in an HTTP/1.0 request" in answer.body
        assert [s.method for s in stack.centers["primary"].customer_requests()] == ["GET"]


CLAIMS = {
    "X-Real-IP": "1.2.3.4",
    "True-Client-IP": "1.2.3.4",
    "CF-Connecting-IP": "1.2.3.4",
    "X-Client-IP": "1.2.3.4",
    "X-Cluster-Client-IP": "1.2.3.4",
    "Fastly-Client-IP": "1.2.3.4",
    "X-Original-URL": "/admin",
    "X-Rewrite-URL": "/admin",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Prefix": "/admin",
    "X-Original-Host": "evil.example",
    "X-HTTP-Method-Override": "DELETE",
    "X-Forwarded-For": "1.2.3.4",
    "Forwarded": "for=1.2.3.4",
}


async def test_address_and_path_claims_of_an_untrusted_client_do_not_reach_the_call_center(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path) as stack:
        extra = "".join(f"{k}: {v}\r\n" for k, v in CLAIMS.items())
        answer = await raw_request(stack.port, get("/support/x", extra=extra))
        assert answer.status == 200
        headers = stack.centers["primary"].seen[-1].headers
        for name in CLAIMS:
            if name == "X-Forwarded-For":
                assert headers.getall(name) == ["127.0.0.1"]
            else:
                assert name not in headers, name
        assert headers["X-Forwarded-Host"] == "front.example"


async def test_a_trusted_proxy_keeps_its_address_headers_but_never_a_method_override(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path, server='trusted_proxies = ["127.0.0.0/8"]\n') as stack:
        extra = "".join(f"{k}: {v}\r\n" for k, v in CLAIMS.items())
        answer = await raw_request(stack.port, get("/support/x", extra=extra))
        assert answer.status == 200
        headers = stack.centers["primary"].seen[-1].headers
        assert headers["X-Real-IP"] == "1.2.3.4"
        assert headers["X-Forwarded-For"] == "1.2.3.4, 127.0.0.1"
        assert "X-HTTP-Method-Override" not in headers


# The pure rule, over every target hypothesis can think of: whatever the path, the URL a
# call center is sent to has the configured scheme, host and port, and stays under its base.
BASE = Origin.of(URL("http://10.0.0.7:8443/cc"))
PATH_CHARS = st.sampled_from(
    ["/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%25", "@", ":", "?", "#", "a", "b",
     "%00", "\\", "//", "http://", "evil.example", "%40", ";", "=", "&", "~", " "]
)  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PATH_CHARS, max_size=12), st.text(max_size=20))
def test_upstream_url_never_leaves_the_configured_authority_or_base(
    parts: list[str], query: str
) -> None:
    raw_path = "/support/" + "".join(parts)
    try:
        path_qs = upstream_path(raw_path, query, mount="/support")
    except BadTargetError:
        return
    url = upstream_url(BASE, path_qs)
    assert (url.scheme, url.host, url.port, url.user, url.password) == (
        "http", "10.0.0.7", 8443, None, None
    )  # fmt: skip
    assert url.raw_path.startswith("/cc/")
    # What a call center's framework would see after decoding once: no way up.
    segments = url.path.split("/")
    assert ".." not in segments
    assert "." not in segments
    # Nor after a Java framework drops path parameters (`..;x` is `..` there).
    assert not any(s.partition(";")[0] in (".", "..") for s in segments)
