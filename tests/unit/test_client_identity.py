"""Whom a request counts against: the peer, or behind trusted proxies the right-most
X-Forwarded-For entry that is not one of them; IPv6 per /64 (issue 14, point 6)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.headers import IPNetwork
from kernel.limits.identity import (
    MAX_HOPS,
    MAX_IDENTITY,
    UNKNOWN,
    Identities,
    client_identity,
    normalise,
)

LB: tuple[IPNetwork, ...] = (ipaddress.ip_network("10.0.0.0/8"),)
BOTH: tuple[IPNetwork, ...] = (*LB, ipaddress.ip_network("fd00::/8"))


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims() -> None:
    assert client_identity("203.0.113.7", ["198.51.100.1"], ()) == "4:203.0.113.7"


def test_an_untrusted_peer_cannot_choose_its_identity_with_x_forwarded_for() -> None:
    assert client_identity("203.0.113.7", ["198.51.100.1"], LB) == "4:203.0.113.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() -> None:
    # The client claimed 1.2.3.4; our proxy appended what it saw (198.51.100.9), then a
    # second proxy of ours (10.0.0.5) appended the first one.
    chain = ["1.2.3.4, 198.51.100.9, 10.0.0.5"]
    assert client_identity("10.0.0.6", chain, LB) == "4:198.51.100.9"


def test_repeated_header_lines_combine_in_order() -> None:
    assert client_identity("10.0.0.6", ["1.2.3.4", "198.51.100.9"], LB) == "4:198.51.100.9"


def test_a_trusted_peer_without_the_header_is_itself_the_client() -> None:
    assert client_identity("10.0.0.6", [], LB) == "4:10.0.0.6"


def test_all_entries_trusted_means_the_left_most_one() -> None:
    assert client_identity("10.0.0.6", ["10.1.1.1, 10.2.2.2"], LB) == "4:10.1.1.1"


@pytest.mark.parametrize("junk", ["unknown", "", "not-an-ip", "999.1.1.1", "x" * 200])
def test_an_entry_that_is_no_address_stops_at_the_nearest_trusted_hop(junk: str) -> None:
    assert client_identity("10.0.0.6", [f"198.51.100.9, {junk}, 10.0.0.5"], LB) == "4:10.0.0.5"


@pytest.mark.parametrize(
    ("entry", "identity"),
    [
        ("198.51.100.9:5555", "4:198.51.100.9"),
        ("[2001:db8:1:2::7]:443", "6:2001:db8:1:2::/64"),
        ("[2001:db8:1:2::7]", "6:2001:db8:1:2::/64"),
        ("  198.51.100.9  ", "4:198.51.100.9"),
        ("::ffff:198.51.100.9", "4:198.51.100.9"),
    ],
)
def test_ports_brackets_spaces_and_mapped_addresses_are_normalised(
    entry: str, identity: str
) -> None:
    assert client_identity("10.0.0.6", [entry], LB) == identity


def test_one_ipv6_network_is_one_client_whichever_address_it_takes() -> None:
    a = client_identity("2001:db8:1:2::1", [], ())
    b = client_identity("2001:db8:1:2:ffff:ffff:ffff:fffe", [], ())
    other = client_identity("2001:db8:1:3::1", [], ())
    assert a == b == "6:2001:db8:1:2::/64" != other
    assert client_identity("2001:db8:1:2::1", [], (), ipv6_prefix=128) == "6:2001:db8:1:2::1/128"


def test_a_dual_stack_peer_of_an_ipv4_proxy_is_trusted() -> None:
    assert client_identity("::ffff:10.0.0.6", ["198.51.100.9"], LB) == "4:198.51.100.9"


@pytest.mark.parametrize("peer", [None, "", "/run/switchboard.sock", "garbage"])
def test_no_usable_peer_is_one_shared_unknown_client(peer: str | None) -> None:
    assert client_identity(peer, ["198.51.100.9"], LB) == UNKNOWN


def test_a_header_stuffed_with_entries_is_read_from_the_right_only() -> None:
    stuffed = ", ".join(f"10.9.{i // 256}.{i % 256}" for i in range(5000))
    # Every one trusted: the walk stops after MAX_HOPS, at the left-most one it looked at.
    assert client_identity("10.0.0.6", [stuffed, "10.0.0.5"], LB) == (
        f"4:10.9.{(5000 - MAX_HOPS + 1) // 256}.{(5000 - MAX_HOPS + 1) % 256}"
    )
    assert client_identity("10.0.0.6", [stuffed, "198.51.100.9"], LB) == "4:198.51.100.9"


addresses = st.ip_addresses().map(str)
entries = st.one_of(addresses, st.text(max_size=80), st.just("unknown"))


@given(st.one_of(st.none(), addresses, st.text(max_size=80)),
       st.lists(st.text(max_size=200), max_size=30))  # fmt: skip
def test_any_input_gives_a_short_identity_and_never_raises(
    peer: str | None, forwarded: list[str]
) -> None:
    for trusted in ((), BOTH, (ipaddress.ip_network("0.0.0.0/0"),)):
        identity = client_identity(peer, forwarded, trusted)
        assert len(identity) <= MAX_IDENTITY
        assert identity == UNKNOWN or identity[:2] in ("4:", "6:")


@given(st.lists(entries, max_size=20), st.ip_addresses(v=4).filter(lambda a: a.is_global))
def test_what_the_client_writes_left_of_our_proxy_never_changes_who_it_is(
    claimed: list[str], real: ipaddress.IPv4Address
) -> None:
    # The proxy (10.0.0.5) appends the address it saw to whatever the client sent.
    header = [", ".join([*claimed, str(real)])]
    assert client_identity("10.0.0.5", header, LB) == f"4:{real}"


@given(st.ip_addresses(v=6), st.integers(min_value=32, max_value=128))
def test_ipv6_identities_are_the_network_containing_the_address(
    address: ipaddress.IPv6Address, prefix: int
) -> None:
    identity = normalise(address, ipv6_prefix=prefix)
    if address.ipv4_mapped is not None:
        assert identity == f"4:{address.ipv4_mapped}"
    else:
        network = ipaddress.ip_network(identity[2:])
        assert address in network
        assert network.prefixlen == prefix


peers = st.sampled_from(["203.0.113.7", "10.0.0.6", "fd00::1", "2001:db8::5", "junk", ""])
chains = st.lists(st.sampled_from(["1.2.3.4", "10.0.0.5", "198.51.100.9, 10.0.0.7", "x"]),
                  max_size=3).map(tuple)  # fmt: skip


@given(st.lists(st.tuples(peers, chains), min_size=1, max_size=30))
def test_the_memo_answers_what_client_identity_answers(
    asked: list[tuple[str, tuple[str, ...]]],
) -> None:
    identities = Identities(BOTH, ipv6_prefix=48, size=4)  # small: cleared often
    for peer, chain in asked:
        assert identities.of(peer, chain) == client_identity(peer, chain, BOTH, ipv6_prefix=48)


def test_the_memo_is_bounded_and_says_whether_forwarded_for_is_read() -> None:
    identities = Identities((), size=8)
    assert identities.trusted is False
    assert Identities(LB).trusted is True
    for i in range(100):
        assert identities.of(f"203.0.113.{i}") == f"4:203.0.113.{i}"
    assert 0 < len(identities._memo) <= 8
