"""Header rules of the proxy (pure).

Hop-by-hop headers are the connection's, not the message's: RFC 9110 section 7.6.1
lists Connection and the headers it names; RFC 2616 section 13.5.1 adds Keep-Alive,
Proxy-Authenticate, Proxy-Authorization, TE, Trailer(s), Transfer-Encoding, Upgrade.
`Proxy-Connection` is a non-standard one that clients still send.

X-Forwarded-For/-Proto/-Host (and RFC 7239 `Forwarded`) from the client are kept
only when the peer is a configured trusted proxy; otherwise a client could claim any
address. Compare nginx's `real_ip` module and its `set_real_ip_from`.

Other headers that name a client's address, a scheme, a host or a path are in common
use by proxies and frameworks (nginx's X-Real-IP, Akamai's True-Client-IP,
Cloudflare's CF-Connecting-IP, IIS/Symfony's X-Original-URL and X-Rewrite-URL, ...): a
client could claim any of them, so they are dropped unless the peer is a trusted proxy,
which may have set them itself. Method overrides (X-HTTP-Method-Override) are always
dropped: a GET that a call center would run as a DELETE must not be retried as a GET.
`Expect` is dropped: the body is already read, there is nothing left to wait for.

`X-Request-ID` is never copied: the call center gets the id we log under (the
client's, once checked, or ours; `kernel/logs.py`), so both sides' logs line up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

from kernel.logs import REQUEST_ID_HEADER

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
# Kept only from a trusted proxy (see the module's docstring).
CLIENT_CLAIMS: Final = frozenset(
    {
        "x-real-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-client-ip",
        "client-ip",
        "x-cluster-client-ip",
        "x-originating-ip",
        "x-remote-ip",
        "x-remote-addr",
        "x-proxyuser-ip",
        "x-original-forwarded-for",
        "x-forwarded",
        "forwarded-for",
        "x-forwarded-server",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-scheme",
        "x-forwarded-ssl",
        "front-end-https",
        "x-url-scheme",
        "x-original-url",
        "x-rewrite-url",
        "x-original-host",
        "x-host",
    }
)
_ALWAYS_DROPPED: Final = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override", "expect"}
)


_NOTHING_NAMED: Final = frozenset[str]()
# The `Connection` value that names no header beyond the hop-by-hop ones (dropped
# anyway): nearly every answer carries it, and skips the parsing below. Not "close": a
# header named `Close` is then one the connection names, and must go too.
_PLAIN_CONNECTION: Final = "keep-alive"


def _connection_named(
    headers: Mapping[str, str] | CIMultiDict[str] | CIMultiDictProxy[str],
) -> frozenset[str]:
    if "Connection" not in headers:
        return _NOTHING_NAMED
    getall = getattr(headers, "getall", None)
    values: list[str] = getall("Connection", []) if getall else [headers.get("Connection", "")]
    if len(values) == 1 and values[0].strip().lower() == _PLAIN_CONNECTION:
        return _NOTHING_NAMED
    named: set[str] = set()
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
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # what a dual-stack socket reports for an IPv4 peer
    return any(address in net for net in trusted)


def _without(
    headers: CIMultiDict[str] | CIMultiDictProxy[str] | Mapping[str, str],
    names: frozenset[str],
) -> CIMultiDict[str]:
    """A copy without `names` (lower case) and what `Connection` names. Copy everything,
    then pop those of `names` that are there, found by one C-level set intersection with
    the headers' names: no Python loop over `names` (about 50 from an untrusted client)
    or over every header."""
    out: CIMultiDict[str] = CIMultiDict(headers)
    for name in names.intersection(map(str.lower, headers.keys())):
        out.popall(name)
    for named in _connection_named(headers):
        out.popall(named, None)
    return out


_UPSTREAM_DROP: Final = (
    HOP_BY_HOP | _FORWARDING | _REQUEST_OWNED | _ALWAYS_DROPPED | {REQUEST_ID_HEADER.lower()}
)
_UPSTREAM_DROP_KEEP_LENGTH: Final = _UPSTREAM_DROP - {"content-length"}
# From a client that is not a trusted proxy, its address and path claims go too.
_UNTRUSTED_DROP: Final = _UPSTREAM_DROP | CLIENT_CLAIMS
_UNTRUSTED_DROP_KEEP_LENGTH: Final = _UPSTREAM_DROP_KEEP_LENGTH | CLIENT_CLAIMS
_DOWNSTREAM_DROP: Final = HOP_BY_HOP | {"content-length"}
_UPSTREAM_KEYS: Final = {
    (True, True): _UPSTREAM_DROP_KEEP_LENGTH,
    (True, False): _UPSTREAM_DROP,
    (False, True): _UNTRUSTED_DROP_KEEP_LENGTH,
    (False, False): _UNTRUSTED_DROP,
}
_DOWNSTREAM_KEYS: Final = {True: HOP_BY_HOP, False: _DOWNSTREAM_DROP}


def upstream_request_headers(
    incoming: CIMultiDict[str] | CIMultiDictProxy[str],
    *,
    peer: str | None,
    scheme: str,
    host: str | None,
    trusted: Sequence[IPNetwork],
    keep_content_length: bool,
    request_id: str | None = None,
) -> CIMultiDict[str]:
    """Headers to send to the call center for one customer request."""
    trusted_peer = is_trusted(peer, trusted)
    out = _without(incoming, _UPSTREAM_KEYS[trusted_peer, keep_content_length])
    if request_id is not None:
        out.add(REQUEST_ID_HEADER, request_id)
    if not trusted_peer:
        # `add`, not item assignment: `_without` removed them all, nothing to replace.
        if peer:
            out.add("X-Forwarded-For", peer)
        out.add("X-Forwarded-Proto", scheme)
        if host:
            out.add("X-Forwarded-Host", host)
        return out
    chain = ", ".join(incoming.getall("X-Forwarded-For", []))
    if peer:
        chain = f"{chain}, {peer}" if chain else peer
    if chain:
        out["X-Forwarded-For"] = chain
    out["X-Forwarded-Proto"] = incoming.get("X-Forwarded-Proto") or scheme
    fwd_host = incoming.get("X-Forwarded-Host") or host
    if fwd_host:
        out["X-Forwarded-Host"] = fwd_host
    if "Forwarded" in incoming:
        out["Forwarded"] = incoming["Forwarded"]
    return out


def downstream_response_headers(
    upstream: CIMultiDict[str] | CIMultiDictProxy[str] | Mapping[str, str],
    *,
    upstream_base: str,
    mount: str,
    keep_content_length: bool,
    request_id: str | None = None,
) -> CIMultiDict[str]:
    """Headers to send back to the customer; a Location pointing at the call center is
    rewritten to go through the front door again (nginx's `proxy_redirect default`).
    `request_id` replaces whatever id the call center sent back."""
    out = _without(upstream, _DOWNSTREAM_KEYS[keep_content_length])
    if request_id is not None:
        out[REQUEST_ID_HEADER] = request_id
    location = out.get("Location")
    if location is not None:
        base = upstream_base.rstrip("/")
        if location == base or location.startswith(base + "/"):
            out["Location"] = mount + (location[len(base) :] or "/")
    return out
