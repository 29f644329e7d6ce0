"""Header rules of the proxy (pure).

Hop-by-hop headers are the connection's, not the message's: RFC 9110 section 7.6.1
lists Connection and the headers it names; RFC 2616 section 13.5.1 adds Keep-Alive,
Proxy-Authenticate, Proxy-Authorization, TE, Trailer(s), Transfer-Encoding, Upgrade.
`Proxy-Connection` is a non-standard one that clients still send.

X-Forwarded-For/-Proto/-Host (and RFC 7239 `Forwarded`) from the client are kept
only when the peer is a configured trusted proxy; otherwise a client could claim any
address. Compare nginx's `real_ip` module and its `set_real_ip_from`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the client library for the upstream connection itself.
_REQUEST_OWNED: Final = frozenset({"host", "content-length"})
_FORWARDING: Final = frozenset(
    {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"}
)


def _connection_named(
    headers: Mapping[str, str] | CIMultiDict[str] | CIMultiDictProxy[str],
) -> frozenset[str]:
    if "Connection" not in headers:
        return frozenset()
    named: set[str] = set()
    getall = getattr(headers, "getall", None)
    values: Iterable[str] = getall("Connection", []) if getall else [headers.get("Connection", "")]
    for value in values:
        named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return frozenset(named)


def is_trusted(peer: str | None, trusted: Sequence[IPNetwork]) -> bool:
    if not peer or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def upstream_request_headers(
    incoming: CIMultiDict[str] | CIMultiDictProxy[str],
    *,
    peer: str | None,
    scheme: str,
    host: str | None,
    trusted: Sequence[IPNetwork],
    keep_content_length: bool,
) -> CIMultiDict[str]:
    """Headers to send to the call center for one customer request."""
    drop = HOP_BY_HOP | _connection_named(incoming) | _FORWARDING | _REQUEST_OWNED
    if keep_content_length:
        drop = drop - {"content-length"}
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in incoming.items() if k.lower() not in drop
    )
    trusted_peer = is_trusted(peer, trusted)
    chain = ", ".join(incoming.getall("X-Forwarded-For", [])) if trusted_peer else ""
    if peer:
        chain = f"{chain}, {peer}" if chain else peer
    if chain:
        out["X-Forwarded-For"] = chain
    proto = incoming.get("X-Forwarded-Proto") if trusted_peer else None
    out["X-Forwarded-Proto"] = proto or scheme
    fwd_host = incoming.get("X-Forwarded-Host") if trusted_peer else None
    if fwd_host or host:
        out["X-Forwarded-Host"] = fwd_host or host or ""
    if trusted_peer and "Forwarded" in incoming:
        out["Forwarded"] = incoming["Forwarded"]
    return out


def downstream_response_headers(
    upstream: CIMultiDict[str] | CIMultiDictProxy[str] | Mapping[str, str],
    *,
    upstream_base: str,
    mount: str,
    keep_content_length: bool,
) -> CIMultiDict[str]:
    """Headers to send back to the customer; a Location pointing at the call center is
    rewritten to go through the front door again (nginx's `proxy_redirect default`)."""
    drop = HOP_BY_HOP | _connection_named(upstream)
    if not keep_content_length:
        drop = drop | {"content-length"}
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in upstream.items() if k.lower() not in drop
    )
    location = out.get("Location")
    base = upstream_base.rstrip("/")
    if location is not None and (location == base or location.startswith(base + "/")):
        rest = location[len(base) :] or "/"
        out["Location"] = mount + rest
    return out
