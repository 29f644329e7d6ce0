"""The haproxy.cfg of the HAProxy data plane, rendered from Switchboard's settings (pure).

`switchboard haproxy-config --config FILE` prints it; docs/dataplane.md explains it.
HAProxy follows Switchboard's decision, not its own (issue 18):

- Every call center is a server of `be_callcenters`, weight 100, with an agent check
  answered by Switchboard (failover/agentcheck.py, `agent-send "<name>\\n"` says which one
  is asked about). The chosen call center is `up 100%`, the one a failed GET is retried
  on is `up 1%`, every other one `down` (HAProxy manual, "agent-check").
- `use-server <chosen> if { srv_weight(...) gt 1 }` sends every new request to the chosen
  one; the weight-1 server takes no new customer, only the retry: `retries 1` with
  `option redispatch 1` makes the retry pick "another server than the last one" (manual,
  "option redispatch"), and a server of weight 0 (`drain`) would be out of the farm.
- `retry-on` retries a failed idempotent request once; `http-request disable-l7-retry`
  keeps POST and friends from being replayed after they were sent.
- No server up (self-help, a degraded call center, hold-down, emergency...): `/support`
  goes to Switchboard, whose handler issues the same 303 as in aiohttp mode. A 5xx on
  `/support` (both attempts failed, or Switchboard itself unreachable) becomes the 303 to
  `/help/search?q=<topic words>` here, built with converters (ASCII words only).
- The aiohttp door's request hygiene (the target's form, Host, framing, request id, the
  client's claims, hop-by-hop and always-dropped headers, the origin form upstream) is
  failover/haproxy_hygiene.py's.
- The health check of each server is a TCP connect to the agent port: the question it
  answers is "is Switchboard there", so with Switchboard gone every server goes down and
  `/support` gets the self-help redirect rather than unsupervised routing.

HAProxy has no whole-request budget, so each of the two attempts gets half of
`request_budget_ms` (connect and server timeouts scaled down together if needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from failover.haproxy_hygiene import backend_rules, frontend_rules, trusted_acl
from failover.settings import Settings

BACKEND = "be_callcenters"
# Weights: the chosen call center, and the one kept in the farm only for the retry.
FULL_WEIGHT = 100
RETRY_WEIGHT = 1
# Status codes a customer never sees on /support (501 and 505 are the request's fault and
# are passed on, as kernel/breaker.py counts them).
FAILED_STATUSES = "500 502:504 506:599"
# The refusals of failover/target.py, on the raw (still encoded) path under /support:
# dot segments (plain or encoded, also before a ';' path parameter: `..;`), encoded '/'
# or '\', a double-encoded '.', '/', '\' or '%' (and, stricter than Switchboard, '%25'
# before any other encoded byte), encoded control characters, a raw backslash (four
# backslashes: HAProxy's config parser turns two into one, the regex two into a literal one).
BAD_PATH_REGEX = r"(^|/)(\.|%2e){1,2}(/|;|%3b|$)|%2f|%5c|%25(2e|2f|5c|25|%)|%[01][0-9a-f]|%7f|\\\\"


def topic_expression(mount: str) -> str:
    r"""The sample expression for the topic words of `q`, as failover/web.py's
    `topic_words` finds them for ASCII paths (tests/integration/test_haproxy_config.py
    checks both on the same inputs): percent-decoded, lower-case, split on anything but
    letters and digits, at most 8 words of at most 40 characters, at most 120 characters
    in all, cut at a word. Non-ASCII letters are dropped here, kept by Switchboard.

    Written for HAProxy's config parser inside double quotes: `\$` is a literal `$`,
    `\\1` a back-reference, single quotes keep commas and parentheses in an argument."""
    return (
        f"var(txn.sb_path),regsub(^{mount}/?,),url_dec,lower,regsub([^a-z0-9]+,+,g),regsub(^[+]+,),"
        r"regsub('^(([a-z0-9]+[+]){7}[a-z0-9]+).*\$','\\1'),"
        r"regsub('([a-z0-9]{40})[a-z0-9]+','\\1',g),"
        r"regsub('^(.{0,120})([+]|\$).*\$','\\1'),regsub([+]+\$,)"
    )


class DataPlaneConfigError(ValueError):
    """The settings cannot be expressed as an HAProxy config; the message names the key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptTimeouts:
    connect_ms: int
    server_ms: int


def attempt_timeouts(*, connect_ms: int, read_ms: int, budget_ms: int) -> AttemptTimeouts:
    """Each of the two attempts gets half the budget: connect + server <= budget / 2."""
    half = budget_ms // 2
    if connect_ms + read_ms <= half:
        return AttemptTimeouts(connect_ms=connect_ms, server_ms=read_ms)
    scale = half / (connect_ms + read_ms)
    connect = max(1, int(connect_ms * scale))
    return AttemptTimeouts(connect_ms=connect, server_ms=max(1, half - connect))


def server_name(callcenter: str) -> str:
    return f"cc_{callcenter}"


def _host_port(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise DataPlaneConfigError(f"{url!r}: haproxy mode carries plain http to call centers")
    port = parts.port or 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host, port, parts.path.rstrip("/")


def _switchboard_address(settings: Settings) -> str:
    host = settings.server.host
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - reach a wildcard bind on loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{settings.server.port}"


def _base_path(settings: Settings) -> str:
    paths = {_host_port(c.url)[2] for c in settings.callcenters}
    if len(paths) > 1:
        raise DataPlaneConfigError(
            "callcenters.url: in haproxy mode every call center needs the same base path "
            f"(HAProxy rewrites the path before it picks a server), got {sorted(paths)}"
        )
    return paths.pop()


def render(settings: Settings) -> str:
    """The whole haproxy.cfg, as text. Raises DataPlaneConfigError."""
    d, s, p = settings.dataplane, settings.server, settings.proxy
    base = _base_path(settings)
    t = attempt_timeouts(
        connect_ms=p.connect_timeout_ms, read_ms=p.read_timeout_ms, budget_ms=p.request_budget_ms
    )
    inter = d.agent_inter_ms
    errors = settings.outlier.consecutive_local_failures
    mount = "/support"
    lines = [
        "# Rendered by `switchboard haproxy-config`; edit Switchboard's config, not this file.",
        "global",
        # No global maxconn: HAProxy derives it from the file-descriptor limit it gets
        # (a fixed one above that limit refuses to start); the frontend's bounds customers.
        f"    stats socket {d.stats_socket} mode 600 level operator",
        "    nbthread 1",
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        "    http-reuse safe",
        f"    timeout client {s.keepalive_timeout_ms}ms",
        f"    timeout http-request {s.header_timeout_ms}ms",
        f"    timeout http-keep-alive {s.keepalive_timeout_ms}ms",
        f"    timeout connect {t.connect_ms}ms",
        f"    timeout server {t.server_ms}ms",
        f"    timeout queue {t.connect_ms}ms",
        "",
        "frontend fe_customers",
        f"    bind {d.listen_host}:{d.listen_port}",
        f"    maxconn {s.max_connections}",
        # Per-client connections (failover/connections.py's max_connections_per_client),
        # an IPv6 client by its network of `[limits] ipv6_prefix` (an IPv4 one whole).
        "    stick-table type ipv6 size 100k expire 60s store conn_cur",
        trusted_acl(settings),
        f"    tcp-request connection track-sc0 src,ipmask(32,{settings.limits.ipv6_prefix})",
        "    tcp-request connection reject if !sb_trusted "
        f"{{ sc0_conn_cur gt {s.max_connections_per_client} }}",
        # The target, Host, request id and the client's claims (failover/haproxy_hygiene.py).
        *frontend_rules(),
        f"    acl sb_support path {mount}",  # two lines of one ACL: OR
        f"    acl sb_support path_beg {mount}/",
        f"    acl sb_bad_target path -i -m reg {BAD_PATH_REGEX}",
        "    http-request deny deny_status 400 if sb_support sb_bad_target",
        "    http-request deny deny_status 413 if sb_support "
        f"{{ req.hdr_val(content-length) gt {p.max_body_bytes} }}",
        # Only the path is kept per request; its topic words are worked out only for
        # the rare failed answer (five regex substitutions: ~1 us a request otherwise).
        "    http-request set-var(txn.sb_path) path if sb_support",
        f"    use_backend {BACKEND} if sb_support {{ nbsrv({BACKEND}) gt 0 }}",
        "    default_backend be_switchboard",
        # A failed /support answer never reaches the customer: the self-help redirect.
        f"    acl sb_failed status {FAILED_STATUSES}",
        "    acl sb_on_support var(txn.sb_path) -m found",
        "    acl sb_has_q var(txn.sb_q) -m len gt 0",
        f'    http-after-response set-var(txn.sb_q) "{topic_expression(mount)}" '
        "if sb_on_support sb_failed",
        "    http-after-response del-header Set-Cookie if sb_on_support sb_failed",
        "    http-after-response set-header Cache-Control no-store if sb_on_support sb_failed",
        "    http-after-response set-header Location /help/search?q=%[var(txn.sb_q)] "
        "if sb_on_support sb_failed sb_has_q",
        "    http-after-response set-header Location /help if sb_on_support sb_failed !sb_has_q",
        "    http-after-response set-status 303 if sb_on_support sb_failed",
        "",
        "backend be_switchboard",
        f"    server switchboard {_switchboard_address(settings)}",
        "",
        f"backend {BACKEND}",
        "    balance roundrobin",
        "    retries 1",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response junk-response response-timeout 500 502 503 504",
        "    http-request disable-l7-retry unless METH_GET || METH_OPTIONS",
        *backend_rules(settings, base=base, mount=mount),
    ]
    for c in settings.callcenters_by_priority:
        name = server_name(c.name)
        weight = f"srv_weight({BACKEND}/{name})"
        lines.append(f"    use-server {name} if {{ {weight} gt {RETRY_WEIGHT} }}")
    for c in settings.callcenters_by_priority:
        host, port, _ = _host_port(c.url)
        lines.append(
            f"    server {server_name(c.name)} {host}:{port} weight {FULL_WEIGHT}"
            f" check addr {d.agent_host} port {d.agent_port} inter {inter}ms rise 1 fall 1"
            f" agent-check agent-addr {d.agent_host} agent-port {d.agent_port}"
            f' agent-inter {inter}ms agent-send "{c.name}\\n"'
            f" observe layer7 error-limit {errors} on-error fail-check"
        )
    return "\n".join(lines) + "\n"
