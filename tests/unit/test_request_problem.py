"""`request_problem`, the checks made before routing, with its memo of good Host values:
a value is checked by the regex once, and the memo changes no verdict."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from failover import server
from failover.server import request_problem


def problem(host: str | None, *, extra: list[tuple[str, str]] | None = None) -> object:
    headers = CIMultiDict[str]([] if host is None else [("Host", host)])
    for name, value in extra or []:
        headers.add(name, value)
    return request_problem(make_mocked_request("GET", "/help", headers=headers), "/support")


def test_a_good_host_is_remembered_and_a_bad_one_never_is() -> None:
    server._good_hosts.clear()
    assert problem("support.example.com") is None
    assert "support.example.com" in server._good_hosts
    assert problem("support.example.com") is None  # from the memo
    assert problem("bad host") == ("bad_host", 400, "invalid Host header")
    assert problem("bad host") == ("bad_host", 400, "invalid Host header")  # checked again
    assert "bad host" not in server._good_hosts


def test_a_remembered_host_sent_twice_is_still_refused() -> None:
    server._good_hosts.clear()
    assert problem("a.example") is None
    twice = problem("a.example", extra=[("Host", "a.example")])
    assert twice == ("bad_host", 400, "more than one Host header")


def test_a_missing_host_on_http11_is_refused() -> None:
    assert problem(None) == ("bad_host", 400, "missing Host header")


def test_the_memo_is_bounded() -> None:
    server._good_hosts.clear()
    for i in range(server._GOOD_HOSTS_MAX * 3):
        assert problem(f"h{i}.example") is None
    assert 0 < len(server._good_hosts) <= server._GOOD_HOSTS_MAX
