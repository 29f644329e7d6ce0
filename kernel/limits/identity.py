"""Who a request comes from, for per-client limits and counting (pure).

The one rule everything that counts per client uses (issue 14, point 6):

- the peer address, unless the peer is a trusted proxy (`server.trusted_proxies`,
  `kernel.headers.is_trusted`);
- behind trusted proxies, the right-most X-Forwarded-For entry that is not itself a
  trusted proxy. Each proxy appends the address it saw, so entries right of the first
  untrusted one were written by our proxies, and everything left of it by whoever the
  client is: never believed. (nginx `real_ip_recursive on`; MDN, "X-Forwarded-For",
  "Selecting an IP address".)
- an entry that is not an IP address (a proxy that writes "unknown", or garbage) ends
  the walk: the client is the trusted hop that handed it to us. That groups its
  customers together rather than let any string mint a fresh identity;
- every entry trusted (a request from inside our own network): the left-most one.

Identities are normalised so that one client cannot look like many: an IPv4-mapped
IPv6 address is its IPv4 address, and IPv6 clients are grouped by network
(`ipv6_prefix`, /64 by default: one home or phone usually gets a /64 to itself, so
one address per request is free for it to take). Ports and brackets some proxies add
(`[2001:db8::1]:443`, `203.0.113.7:5555`) are dropped. An identity is at most
`MAX_IDENTITY` characters, so keys built from it are bounded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

from multidict import CIMultiDictProxy, istr

from kernel.headers import IPNetwork, is_trusted

__all__ = ["MAX_HOPS", "MAX_IDENTITY", "UNKNOWN", "Identities", "client_identity", "normalise"]

UNKNOWN: Final = "unknown"  # no usable peer address (a Unix socket): one shared client
MAX_HOPS: Final = 16  # X-Forwarded-For entries looked at, from the right
MAX_IDENTITY: Final = 48  # "6:" + a full IPv6 network with its prefix is 45 at most
_MAX_ENTRY: Final = 64  # longer is not an address (with brackets and a port)
_XFF: Final = istr("X-Forwarded-For")  # a CIMultiDict takes an istr key faster


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a peer or an X-Forwarded-For entry writes it, or None."""
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _unmapped(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports
    for an IPv4 peer) as the IPv4 address it is; anything else as it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]
) -> bool:
    return is_trusted(str(_unmapped(address)), trusted)


def normalise(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, ipv6_prefix: int = 64
) -> str:
    """The identity of one address: "4:<address>" or "6:<network>/<prefix>"."""
    address = _unmapped(address)
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, ipv6_prefix), strict=False)
        return f"6:{network}"
    return f"4:{address}"


def _entries(forwarded_for: Iterable[str]) -> list[str]:
    """X-Forwarded-For header lines as one list, in order (RFC 9110 5.3: repeated field
    lines combine with commas); only the right-most `MAX_HOPS` are kept."""
    entries: list[str] = []
    for line in forwarded_for:
        entries.extend(line.split(","))
        if len(entries) > 4 * MAX_HOPS:  # a header stuffed with commas: keep the tail
            entries = entries[-MAX_HOPS:]
    return entries[-MAX_HOPS:]


def client_identity(
    peer: str | None,
    forwarded_for: Sequence[str],
    trusted: Sequence[IPNetwork],
    *,
    ipv6_prefix: int = 64,
) -> str:
    """The client a request counts against (see the module docstring). Never raises."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return UNKNOWN
    if not trusted or not forwarded_for or not _trusted(peer_address, trusted):
        return normalise(peer_address, ipv6_prefix=ipv6_prefix)
    nearest = peer_address  # the closest hop known to be ours
    for entry in reversed(_entries(forwarded_for)):
        address = _address(entry)
        if address is None:
            break
        if not _trusted(address, trusted):
            return normalise(address, ipv6_prefix=ipv6_prefix)
        nearest = address
    return normalise(nearest, ipv6_prefix=ipv6_prefix)


class Identities:
    """`client_identity` under one configuration, memoised by what it depends on (the
    peer and the X-Forwarded-For lines; bounded, cleared when full): the hot paths ask on
    every request, and working one out parses addresses (about 11 us; 0.2 us from the
    memo)."""

    __slots__ = ("_memo", "_prefix", "_size", "_trusted")

    def __init__(
        self, trusted: Sequence[IPNetwork], *, ipv6_prefix: int = 64, size: int = 4096
    ) -> None:
        self._trusted = tuple(trusted)
        self._prefix = ipv6_prefix
        self._size = size
        self._memo: dict[tuple[str | None, tuple[str, ...]], str] = {}

    @property
    def trusted(self) -> bool:
        """Whether X-Forwarded-For is read at all (some proxy is trusted)."""
        return bool(self._trusted)

    def of_request(self, peer: str | None, headers: CIMultiDictProxy[str]) -> str:
        """`of` a request from `peer` with these headers: its X-Forwarded-For lines are
        read only when some proxy is trusted (otherwise they cannot matter)."""
        forwarded = tuple(headers.getall(_XFF, ())) if self._trusted else ()
        return self.of(peer, forwarded)

    def of(self, peer: str | None, forwarded_for: tuple[str, ...] = ()) -> str:
        key = (peer, forwarded_for)
        found = self._memo.get(key)
        if found is None:
            found = client_identity(peer, forwarded_for, self._trusted, ipv6_prefix=self._prefix)
            if len(self._memo) >= self._size:
                self._memo.clear()
            self._memo[key] = found
        return found
