"""The request hygiene of the rendered haproxy.cfg (pure): the aiohttp front door's rules
(failover/target.py, failover/server.py's `request_problem`, kernel/headers.py,
kernel/logs.py) as HAProxy rules, for failover/haproxy_config.py.

On every request, before anything else (the aiohttp door checks every route too), with
the aiohttp door's 400 and reason:

- the request target: origin form (`/...`), or absolute form with scheme http or https
  and no userinfo (`absolute_form_problem`); `*`, authority form and other schemes are
  "unsupported request target", `http://u:p@host/...` is "userinfo in request target";
- the Host header: missing on HTTP/1.1, or not `host[:port]` by target.py's `_HOST`
  (`HOST_REGEX`; two different Host headers are HAProxy's own 400);
- the framing: Transfer-Encoding in an HTTP/1.0 request (`framing_problem`).

Then the request id (kernel/logs.py's `accept_request_id`): the client's first
`X-Request-ID` if it is sane, else HAProxy's `unique-id` (a UUID); sent on as the only
`X-Request-ID` (Switchboard's own pages accept it, so both logs line up) and set on the
answer. The client's claims (kernel/headers.py's CLIENT_CLAIMS, `X-Forwarded-For`,
`Forwarded`) are dropped unless the peer is a trusted proxy.

Towards a call center (`backend_rules`): the target becomes the origin form `<base>/<tail>
[?query]` (`set-uri`: an absolute-form target's scheme and authority never go upstream),
and the hop-by-hop names and kernel/headers.py's always-dropped ones (method overrides,
`Expect`) are deleted. A body announced with `Expect: 100-continue` is waited for first
(`wait-for-body`), so that HAProxy sends the `100 Continue` itself, as aiohttp does.
"""

from __future__ import annotations

from typing import Final

from failover.settings import Settings
from kernel.headers import CLIENT_CLAIMS, HOP_BY_HOP

# failover/target.py's `_HOST`, anchored, for PCRE. `[[]` and `[]]` are '[' and ']' with
# no backslash (HAProxy's config parser has its own backslash rules); no quotes needed:
# `$` is expanded only inside double quotes.
HOST_REGEX: Final = r"^([A-Za-z0-9._-]{1,253}|[[][0-9A-Fa-f:.]{2,45}[]])(:[0-9]{1,5})?$"
# target.py's `absolute_form_problem`: a scheme of http or https (any case) ...
ABSOLUTE_FORM_REGEX: Final = r"^https?://"
# ... and no '@' in the authority (what comes before the first '/' or '?').
USERINFO_REGEX: Final = r"^[^/]*//[^/?]*@"
# kernel/logs.py's `_SANE_ID`.
REQUEST_ID_REGEX: Final = r"^[A-Za-z0-9._:-]{1,128}$"
# kernel/headers.py's `_ALWAYS_DROPPED` (tests/integration/test_haproxy_hygiene.py checks
# that they agree).
ALWAYS_DROPPED: Final = frozenset(
    {"x-http-method-override", "x-http-method", "x-method-override", "expect"}
)
UNTRUSTED_DROPPED: Final = CLIENT_CLAIMS | {"x-forwarded-for", "forwarded"}


def names_regex(names: frozenset[str]) -> str:
    """One anchored regex over header names (HAProxy keeps them in lower case): one
    rule per request instead of one per name."""
    return "^(" + "|".join(sorted(names)) + ")$"


# `Transfer-Encoding` is HAProxy's own framing, left to it; `Expect` goes only after
# HAProxy has answered it (`backend_rules`).
HOP_REGEX: Final = names_regex(HOP_BY_HOP - {"transfer-encoding"})
UPSTREAM_DROP_REGEX: Final = names_regex((HOP_BY_HOP - {"transfer-encoding"}) | ALWAYS_DROPPED)
UNTRUSTED_REGEX: Final = names_regex(UNTRUSTED_DROPPED)


def refuse(reason: str, condition: str) -> str:
    """The aiohttp door's 400 (failover/admission.py's `refusal`): plain text, no-store,
    and the connection closed (HAProxy keeps it open after a deny unless told)."""
    return (
        f'    http-request deny deny_status 400 content-type text/plain string "{reason}" '
        f"hdr Cache-Control no-store hdr Connection close if {condition}"
    )


def trusted_acl(settings: Settings) -> str:
    nets = " ".join(str(n) for n in settings.server.trusted_proxies)
    return f"    acl sb_trusted src {nets}" if nets else "    acl sb_trusted always_false"


def frontend_rules() -> list[str]:
    """The frontend's checks of the target and Host, the request id and the client's
    claims, in that order; `sb_trusted` must be declared before."""
    return [
        # Named ACLs: a regex with '{n,m}' cannot sit between the braces of an
        # anonymous one. Each is evaluated only when a rule needs it.
        "    acl sb_origin_form url_beg /",
        f"    acl sb_absolute_form url -i -m reg {ABSOLUTE_FORM_REGEX}",
        f"    acl sb_userinfo url -m reg {USERINFO_REGEX}",
        "    acl sb_has_host req.hdr_cnt(host) gt 0",
        f"    acl sb_host_ok req.fhdr(host) -m reg {HOST_REGEX}",
        refuse("unsupported request target", "!sb_origin_form !sb_absolute_form"),
        refuse("userinfo in request target", "!sb_origin_form sb_userinfo"),
        refuse("missing Host header", "!sb_has_host HTTP_1.1"),
        refuse("invalid Host header", "sb_has_host !sb_host_ok"),
        # target.py's framing_problem (RFC 9112 6.1); HAProxy 2.6 forwards it as chunked.
        "    acl sb_has_te req.hdr_cnt(transfer-encoding) gt 0",
        refuse("Transfer-Encoding in an HTTP/1.0 request", "HTTP_1.0 sb_has_te"),
        # kernel/logs.py's accept_request_id: the client's first one if sane, else ours.
        "    unique-id-format %[uuid()]",
        f"    acl sb_rid_ok req.fhdr(x-request-id,1) -m reg {REQUEST_ID_REGEX}",
        "    http-request set-var(txn.sb_rid) req.fhdr(x-request-id,1) if sb_rid_ok",
        "    http-request set-var(txn.sb_rid) unique-id if !sb_rid_ok",
        "    http-request set-header X-Request-ID %[var(txn.sb_rid)]",
        "    http-after-response set-header X-Request-ID %[var(txn.sb_rid)] "
        "if { var(txn.sb_rid) -m found }",
        # The customer's claims are kept only from trusted proxies (kernel/headers.py);
        # `option forwardfor` then adds the peer's address.
        f"    http-request del-header {UNTRUSTED_REGEX} -m reg if !sb_trusted",
        "    http-request set-header X-Forwarded-Proto http if !sb_trusted",
        "    http-request set-header X-Forwarded-Host %[req.hdr(host)] if !sb_trusted sb_has_host",
        "    option forwardfor",
    ]


def backend_rules(settings: Settings, *, base: str, mount: str) -> list[str]:
    """The call centers' backend: the origin-form target and the headers it must not see.
    `/support/x?q` -> `<base>/x?q`, `/support` -> `<base>/` (target.py's upstream_path):
    a cut at a fixed offset of the path, cheaper than a regex; an empty query is dropped
    as the aiohttp door drops it."""
    tail = f"{base}/%[path,bytes({len(mount) + 1})]"
    return [
        "    acl sb_query query -m len gt 0",
        f"    http-request set-uri {tail}?%[query] if sb_query",
        f"    http-request set-uri {tail} if !sb_query",
        # HAProxy answers `100 Continue` while waiting for the body (manual,
        # "wait-for-body"), and removes `Expect`; without a body there is nothing to wait for.
        f"    http-request wait-for-body time {settings.server.header_timeout_ms}ms at-least 1 "
        "if { req.hdr(expect) -m found }",
        # Hop-by-hop headers, both ways (RFC 9110 7.6.1), and the always-dropped ones. A
        # header the client named in `Connection` passes: del-header takes no dynamic names.
        f"    http-request del-header {UPSTREAM_DROP_REGEX} -m reg",
        f"    http-response del-header {HOP_REGEX} -m reg",
    ]
