"""Building blocks of the section models: the frozen base, field types, URL/network checks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)
from pydantic_core import PydanticCustomError

from failover.settings.render import _toml_type
from failover.target import parse_base

_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")
_SENTINEL_FORM = "redis+sentinel://host:port[,host:port]/service[/db]"

Loc = tuple[str | int, ...]  # a key path: ('callcenters', 1, 'priority')


def _invalid(key: Loc, message: str) -> PydanticCustomError:
    # Cross-field checks run on the whole model; "key" points the message at one field.
    return PydanticCustomError("invalid_setting", "{message}", {"key": key, "message": message})


def _not_below(key: str, value: int, least: int, floor: str, *, why: str = "") -> None:
    """The cross-field check "`key` must be >= `floor`", `least` being what `floor` comes
    to (a field, or a multiple of one: "3 x delivery_timeout_ms")."""
    if value < least:
        raise _invalid((key,), f"must be >= {floor} ({least}), got {value}{why}")


def _network(value: object) -> object:
    if isinstance(value, IPv4Network | IPv6Network):
        return value
    if not isinstance(value, str):  # pydantic reports ValueError, not TypeError, as invalid input
        raise ValueError(f"expected a string like '10.0.0.0/8', got {_toml_type(value)}")  # noqa: TRY004
    try:
        return ipaddress.ip_network(value, strict=True)  # host bits set is a typo, not a range
    except ValueError as exc:
        raise ValueError(f"not an IP address or CIDR network: {exc}") from None


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # e.g. "'1::2::3' does not appear to be an IPv4 or IPv6 address"
        raise ValueError(f"URL {value!r} cannot be parsed ({exc})") from None
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("URL must not contain whitespace or control characters")
    if "@" in parts.netloc:  # checked first so no message below echoes a password
        raise ValueError("URL must not contain credentials (secrets do not go into files)")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http:// or https:// URL, got {value!r}")
    try:
        parts.port  # noqa: B018 - evaluated for its ValueError on a bad port
    except ValueError:
        raise ValueError(f"URL {value!r} has a bad port") from None
    if not parts.hostname:
        raise ValueError(f"URL {value!r} has no host")
    if "?" in value or "#" in value:
        raise ValueError(f"URL {value!r} must not have a query (?...) or fragment (#...)")
    try:  # as the proxy will parse it and build on it (yarl, not urlsplit)
        parse_base(value)
    except ValueError as exc:
        raise ValueError(f"URL {value!r} {exc}") from None
    return value


def _path(value: str) -> str:
    if not value.startswith("/") or value.startswith("//"):
        raise ValueError(f"must be a path starting with a single '/', got {value!r}")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"path {value!r} must not contain whitespace or control characters")
    return value


Millis = Annotated[StrictInt, Field(gt=0)]
NonNegativeMillis = Annotated[StrictInt, Field(ge=0)]
NonNegativeSeconds = Annotated[StrictInt, Field(ge=0, le=2**31)]
PositiveSeconds = Annotated[StrictInt, Field(gt=0, le=2**31)]
AtLeastOne = Annotated[StrictInt, Field(ge=1)]
Network = Annotated[IPv4Network | IPv6Network, BeforeValidator(_network)]
HttpUrl = Annotated[StrictStr, AfterValidator(_http_url)]
UrlPath = Annotated[StrictStr, AfterValidator(_path)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True, kw_only=True)
class SentinelTarget:
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def _parse_sentinel(url: str) -> SentinelTarget:
    rest = url.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    if "?" in path or "#" in path:
        raise ValueError(f"sentinel URL must not have a query or fragment; use {_SENTINEL_FORM}")
    sentinels: list[tuple[str, int]] = []
    for item in hosts.split(","):
        parts = urlsplit(f"//{item}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(f"sentinel {item!r} needs host:port; use {_SENTINEL_FORM}")
        sentinels.append((parts.hostname, port))
    segments = path.split("/")
    if not segments[0] or len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError(f"sentinel URL needs /service or /service/db; use {_SENTINEL_FORM}")
    username, _, password = userinfo.partition(":")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=segments[0],
        db=int(segments[1]) if len(segments) == 2 else 0,
        username=username or None,
        password=password or None,
    )


def _redis_url(url: str) -> str:
    # The URL may carry a password, so messages name the problem, never the URL.
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _REDIS_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in _REDIS_SCHEMES)
        raise ValueError(f"URL scheme must be one of {allowed}")
    if scheme.lower() == "redis+sentinel":
        _parse_sentinel(url)
        return url
    parts = urlsplit(url)
    if scheme.lower() == "unix":
        if not parts.path.startswith("/"):
            raise ValueError(
                "unix:// URL needs an absolute socket path, e.g. unix:///run/redis.sock"
            )
        return url
    try:
        parts.port  # noqa: B018 - evaluated for its ValueError on a bad port
    except ValueError:
        raise ValueError("redis URL has a bad port") from None
    if not parts.hostname:
        raise ValueError("redis URL has no host, e.g. redis://127.0.0.1:6379/0")
    return url
