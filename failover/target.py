"""What of a request's target and framing a call center may see (pure).

The upstream URL is built from parts: scheme, host and port from the configured base
only, then the base's own path, then the customer's path under the mount, then the query.
Nothing a client sends can carry a scheme, an authority or userinfo into it: the path
comes from the parsed origin-form path (`request.rel_url.raw_path`), never from the raw
request target, which in absolute form (RFC 9112 3.2.2, `GET http://host:port/x`) is a
whole URL.

Paths that would resolve outside the call center's mount are refused with a 400, not
normalised: a browser removes dot segments before sending (RFC 3986 5.2.4), so only
tools and attackers send them, and a call center mounted under a path would resolve
`%2e%2e`, `..%2f` or a double-encoded `%252e` outside it (the "path confusion" class,
e.g. Orange Tsai, "Breaking Parser Logic", Black Hat 2018). A segment is judged by what
comes before its first `;` too: Tomcat, Jetty and Spring drop path parameters before
resolving dot segments, so `..;` (or `%2e%2e%3b`) is `..` to them. Control characters and
backslashes are refused for the same reason.

`host_problem`, `framing_problem` and `absolute_form_problem` are the RFC 9112 checks
that aiohttp's parser leaves to us: a Host that is not `host[:port]` (3.2), an HTTP/1.0
message with Transfer-Encoding (6.1: its framing is faulty), and an absolute-form target
that is not http(s) or carries userinfo (3.2.2).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from yarl import URL

_DOTS: Final = frozenset({".", ".."})
# Still an encoded '.', '/', '\' or '%' after one decoding: a second decoder (the call
# center's framework, or a proxy behind it) would turn it into a dot segment or a slash.
_DOUBLE_ENCODED: Final = re.compile(r"%(?:2e|2f|5c|25)", re.IGNORECASE)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
# RFC 3986 3.2.2: IP-literal, IPv4 or reg-name (unreserved / pct-encoded / sub-delims),
# then an optional port. Host names in practice: letters, digits, '-', '.', '_' (seen in
# internal names), so reg-name is held to those; an IP-literal holds hex, ':' and '.'.
_HOST: Final = re.compile(r"(?:[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """A configured call-center base URL, taken apart once."""

    scheme: str
    host: str
    port: int | None
    path: str  # without its trailing "/"

    @classmethod
    def of(cls, base: URL) -> Origin:
        # The host as it goes into a URL: an IPv6 literal keeps its brackets.
        return cls(scheme=base.scheme, host=base.host_subcomponent or "",
                   port=base.explicit_port, path=base.raw_path.rstrip("/"))  # fmt: skip


def upstream_url(origin: Origin, path_qs: str) -> URL:
    """The call center's URL for a checked path and query (`upstream_path`):
    scheme, host and port from the configuration only, never from the request."""
    path, _, query = path_qs.partition("?")
    return URL.build(scheme=origin.scheme, host=origin.host, port=origin.port,
                     path=origin.path + path, query_string=query, encoded=True)  # fmt: skip


def parse_base(base: str) -> Origin:
    """A configured base URL as the proxy takes it apart and builds on it, or ValueError
    whose message completes "URL '...' " (settings validation calls this, so that a URL
    that passes `check-config` is one the proxy can send to)."""
    try:
        url = URL(base)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot be parsed ({exc})") from None
    host = url.raw_host
    if not url.absolute or not host:
        raise ValueError("has no host")
    authority = base.partition("://")[2].partition("/")[0]
    if authority.startswith("["):  # an IPv6 address; not IPvFuture (yarl drops its brackets)
        if "%" in host:  # RFC 6874 zone, `[fe80::1%eth0]`: not routable, nor sendable
            raise ValueError("has an IPv6 zone identifier (%...): give a routable address "
                             "or a host name")  # fmt: skip
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"has a bad IPv6 address [{host}]") from None
    elif "%" in host:
        raise ValueError("has a percent-encoded host")
    if url.explicit_port == 0:
        raise ValueError("has a bad port (0)")
    origin = Origin.of(url)
    try:
        upstream_url(origin, "/")
    except ValueError as exc:
        raise ValueError(f"cannot be built on ({exc})") from None
    return origin


class BadTargetError(ValueError):
    """The request target cannot be sent on; the message is the 400's reason."""


def upstream_path(raw_path: str, raw_query: str, *, mount: str) -> str:
    """`/support/a/b` with query `x=1` -> `/a/b?x=1`: the part that goes after the call
    center's base path. `raw_path` is the origin-form path, still percent-encoded."""
    if not raw_path.startswith(mount):
        raise BadTargetError(f"path outside {mount}")
    tail = raw_path[len(mount) :] or "/"
    if not tail.startswith("/"):
        raise BadTargetError(f"path outside {mount}")
    check_path(tail)
    return f"{tail}?{raw_query}" if raw_query else tail


def check_path(path: str) -> None:
    if "\\" in path:
        raise BadTargetError("backslash in path")
    if "?" in path or "#" in path:  # never in a parsed path: the query is apart
        raise BadTargetError("query or fragment delimiter in path")
    if "%" not in path and "." not in path:
        return  # the usual path: nothing to decode, no dot segment possible
    for segment in path.split("/"):
        if not segment:
            continue
        decoded = unquote(segment) if "%" in segment else segment
        if decoded in _DOTS or decoded.partition(";")[0] in _DOTS:  # `..;x` is `..` in Java
            raise BadTargetError("dot segment in path")
        if "/" in decoded or "\\" in decoded:
            raise BadTargetError("encoded slash in path")
        if _CONTROL.search(decoded):
            raise BadTargetError("control character in path")
        if "%" in decoded and _DOUBLE_ENCODED.search(decoded):
            raise BadTargetError("double-encoded character in path")


def host_problem(host: str | None, *, http11: bool) -> str | None:
    """Why a Host header value is refused, or None. RFC 9112 3.2: a 1.1 request without
    Host, or with an invalid one, gets a 400."""
    if host is None:
        return "missing Host header" if http11 else None
    if not _HOST.fullmatch(host):
        return "invalid Host header"
    return None


def framing_problem(*, http10: bool, has_transfer_encoding: bool) -> str | None:
    if http10 and has_transfer_encoding:
        return "Transfer-Encoding in an HTTP/1.0 request"
    return None


def absolute_form_problem(raw: str) -> str | None:
    """RFC 9112 3.2.2: a server must accept the absolute form; only its path and query
    are used here (the upstream URL never takes an authority from a client). Userinfo
    is refused (RFC 9110 4.2.4: treat it as an error)."""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "unsupported request target"
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if "@" in authority:
        return "userinfo in request target"
    return None
