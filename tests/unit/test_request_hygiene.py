"""The pure rules of what a call center may see of a request: target, Host, framing,
headers, and who a request counts against (failover/target.py, kernel/headers.py,
failover/admission.py, failover/connections.py's Connections)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from failover.admission import InFlight
from failover.connections import Connections, ServerLimits
from failover.target import BadTargetError, framing_problem, host_problem, upstream_path
from kernel.headers import (
    CLIENT_CLAIMS,
    HOP_BY_HOP,
    downstream_response_headers,
    upstream_request_headers,
)

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("raw", "query", "expected"),
    [
        ("/support", "", "/"),
        ("/support/", "", "/"),
        ("/support/a/b", "x=1", "/a/b?x=1"),
        ("/support/caf%C3%A9", "", "/caf%C3%A9"),
        ("/support/..x/x../.x", "", "/..x/x../.x"),
    ],
)
def test_paths_under_the_mount_go_on_as_sent(raw: str, query: str, expected: str) -> None:
    assert upstream_path(raw, query, mount="/support") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/supportx/a", "outside"),
        ("/help/a", "outside"),
        ("/support/%2e%2e/a", "dot segment"),
        ("/support/a/..", "dot segment"),
        ("/support/%2F", "encoded slash"),
        ("/support/a%5Cb", "encoded slash"),
        ("/support/a%00", "control"),
        ("/support/%252e", "double-encoded"),
        ("/support/a\\b", "backslash"),
    ],
)
def test_paths_that_could_leave_the_mount_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(BadTargetError, match=reason):
        upstream_path(raw, "", mount="/support")


@given(st.text(max_size=80))
def test_an_accepted_host_has_no_delimiters_or_spaces(host: str) -> None:
    if host_problem(host, http11=True) is None:
        assert not set(host) & set("/?#@ \t\r\n<>\"'\\")
        assert host


def test_host_and_framing_rules() -> None:
    assert host_problem(None, http11=True) == "missing Host header"
    assert host_problem(None, http11=False) is None
    assert host_problem("[::1]:8080", http11=True) is None
    assert host_problem("support.example.com", http11=True) is None
    assert framing_problem(http10=True, has_transfer_encoding=True) is not None
    assert framing_problem(http10=False, has_transfer_encoding=True) is None


HEADER_NAMES = st.sampled_from(
    [*sorted(CLIENT_CLAIMS | HOP_BY_HOP), "Accept", "Cookie", "X-Forwarded-For", "Forwarded",
     "X-Request-ID", "Content-Length", "X-HTTP-Method-Override", "Expect", "Authorization"]
)  # fmt: skip
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=15))
def test_an_untrusted_clients_claims_never_reach_the_call_center(
    pairs: list[tuple[str, str]],
) -> None:
    incoming: CIMultiDict[str] = CIMultiDict(pairs)
    out = upstream_request_headers(
        incoming, peer="203.0.113.9", scheme="https", host="front.example",
        trusted=TRUSTED, keep_content_length=False, request_id="r-1",
    )  # fmt: skip
    names = {name.lower() for name in out}
    assert not names & CLIENT_CLAIMS
    assert not names & HOP_BY_HOP
    assert not names & {"x-http-method-override", "expect", "content-length"}
    assert out.getall("X-Forwarded-For") == ["203.0.113.9"]
    assert out.getall("X-Request-ID") == ["r-1"]
    assert "Forwarded" not in out


@given(
    st.lists(st.sampled_from(["close", "Close", "keep-alive", "X-Secret", "x-other"]),
             min_size=1, max_size=3),
    st.sampled_from(["", " ", "\t"]),
)  # fmt: skip
def test_every_header_the_connection_names_is_dropped_both_ways(names: list[str], pad: str) -> None:
    # RFC 9110 7.6.1; `Connection: close` with a header named `Close` too (a shortcut for
    # the usual values once let that one through).
    value = ",".join(f"{pad}{name}{pad}" for name in names)
    headers = CIMultiDict([("Connection", value), *((n, "v") for n in names), ("Accept", "x")])
    up = upstream_request_headers(headers, peer="203.0.113.9", scheme="http", host="h",
                                  trusted=(), keep_content_length=False)  # fmt: skip
    down = downstream_response_headers(headers, upstream_base="http://cc", mount="/support",
                                       keep_content_length=False)  # fmt: skip
    for out in (up, down):
        assert [n for n in names if n in out] == []
        assert out["Accept"] == "x"


def test_a_trusted_proxy_keeps_the_claims_it_may_have_set() -> None:
    incoming: CIMultiDict[str] = CIMultiDict({"X-Real-IP": "1.2.3.4", "X-Forwarded-For": "1.2.3.4"})
    out = upstream_request_headers(
        incoming, peer="10.1.1.1", scheme="http", host="a", trusted=TRUSTED,
        keep_content_length=False,
    )  # fmt: skip
    assert out["X-Real-IP"] == "1.2.3.4"
    assert out["X-Forwarded-For"] == "1.2.3.4, 10.1.1.1"


def test_in_flight_caps_each_key_and_frees_on_leave() -> None:
    held = InFlight(limit=2)
    assert held.enter("a")
    assert held.enter("a")
    assert not held.enter("a")
    assert held.enter("b")
    held.leave("a")
    assert held.enter("a")
    held.leave("a")
    held.leave("a")
    held.leave("b")
    assert held.by_key == {}


def _limits(per_client: int, total: int, ipv6_prefix: int = 64) -> ServerLimits:
    return ServerLimits(header_timeout=1, keepalive_timeout=1, max_connections=total,
                        max_connections_per_client=per_client, trusted=TRUSTED,
                        ipv6_prefix=ipv6_prefix)  # fmt: skip


def test_connections_are_capped_per_client_except_for_a_trusted_proxy_and_in_all() -> None:
    conns = Connections(limits=_limits(per_client=2, total=5))
    assert conns.admit("192.0.2.1")[1] is None
    assert conns.admit("192.0.2.1")[1] is None
    assert conns.admit("192.0.2.1") == (None, "client_connection_limit")
    for _ in range(3):
        assert conns.admit("10.0.0.1")[1] is None  # the load balancer: no per-client cap
    assert conns.admit("192.0.2.2") == (None, "connection_limit")
    conns.release("4:192.0.2.1")
    assert conns.admit("192.0.2.2")[1] is None


@pytest.mark.parametrize(("prefix", "key"), [(48, "6:2001:db8::/48"), (128, None)])
def test_an_ipv6_clients_connections_count_by_its_configured_network(
    prefix: int, key: str | None
) -> None:
    # Before: the connection cap grouped IPv6 peers per /64 whatever `ipv6_prefix` said.
    conns = Connections(limits=_limits(per_client=2, total=100, ipv6_prefix=prefix))
    peers = ["2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:0:3::1", "2001:db8:0:1::2"]
    answers = [conns.admit(peer) for peer in peers]
    if key is None:  # /128: each address is a client, two /64s share nothing
        assert all(refused is None for _, refused in answers)
        assert conns.by_client["6:2001:db8:0:1::1/128"] == 1
    else:  # /48: one client, whichever /64 its connections come from
        assert answers[:2] == [(key, None), (key, None)]
        assert answers[2:] == [(None, "client_connection_limit")] * 2
        assert conns.by_client == {key: 2}
