"""What a right answer is, for every request the customers make (the rules: loadtests/README.md,
"The customers"). Pure: each check takes the status, the headers that matter and the body,
and returns a `Verdict`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from loadtests.spike.profile import Expect
from sims.callcenter_service import PAGES

SELF_HELP: Final = "self-help"
# What a call center serves (its pages but the root), by topic: `router/setup` -> title.
CALL_CENTER_TITLES: Final = {path[1:]: title for path, title in PAGES.items() if path != "/"}
CALL_CENTERS: Final = frozenset({"primary", "backup"})
_WORD: Final = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""  # why not, for locust's failure table (kept short: it groups by it)
    destination: str | None = None  # where a /support customer was sent

    @classmethod
    def fail(cls, reason: str, destination: str | None = None) -> Verdict:
        return cls(ok=False, reason=reason, destination=destination)


OK: Final = Verdict(ok=True)


def _transport_or_5xx(status: int, wanted: int | None = None, note: str = "") -> Verdict | None:
    """Why `status` is wrong (no answer, a 5xx, not `wanted` if given); None if it is not."""
    if status == 0:
        return Verdict.fail("no answer (connection error or timeout)")
    if status >= 500 or status != (wanted or status):
        return Verdict.fail(f"HTTP {status}{note if status < 500 else ''}")
    return None


def topic_query(topic: str) -> str:
    """The words of a topic path, as the self-help search gets them: `router/setup` ->
    `router setup`."""
    return " ".join(w.lower() for w in _WORD.findall(topic))


def self_help_target(topic: str) -> str:
    """The redirect the contract promises for `/support/<topic>`."""
    return "/help/search?" + urlencode({"q": topic_query(topic)})


def check_support(
    *, status: int, location: str | None, served_by: str | None, body: str, topic: str,
    expected: Expect,
) -> Verdict:  # fmt: skip
    """`GET /support/<topic>` without following redirects."""
    if (bad := _transport_or_5xx(status)) is not None:
        return bad
    if status == 303:
        if location != self_help_target(topic):
            return Verdict.fail(f"redirect to {location!r}, not the topic's self-help search")
        if expected is Expect.CALL_CENTER:
            return Verdict.fail("sent to self-help while the call centers were up", SELF_HELP)
        return Verdict(ok=True, destination=SELF_HELP)
    if status == 200:
        if served_by not in CALL_CENTERS:
            return Verdict.fail(f"200 not from a call center (X-Served-By {served_by!r})")
        if f"<h1>{CALL_CENTER_TITLES[topic]}</h1>" not in body:
            return Verdict.fail("wrong call-center page", served_by)
        if expected is Expect.SELF_HELP:
            return Verdict.fail("answered by a call center that is down", served_by)
        return Verdict(ok=True, destination=served_by)
    return Verdict.fail(f"HTTP {status}")


def check_page(*, status: int, body: str, marker: str) -> Verdict:
    """A self-help page: 200 and `marker` (its heading or a known part) in the body."""
    if (bad := _transport_or_5xx(status, 200)) is not None:
        return bad
    if marker not in body:
        return Verdict.fail("wrong page")
    return OK


def check_redirect(*, status: int, location: str | None, target: str) -> Verdict:
    """A `303 See Other` to exactly `target` (the vote's answer)."""
    if (bad := _transport_or_5xx(status, 303, ", not 303")) is not None:
        return bad
    if location != target:
        return Verdict.fail(f"redirect to {location!r}, not {target!r}")
    return OK


def check_callback(*, status: int, ticket: object) -> Verdict:
    """`POST /help/callbacks` as JSON: 202 with a ticket. A 503 ("could not be saved") is
    honest but still a customer who could not leave a callback: a failure here."""
    if (bad := _transport_or_5xx(status, 202, ", not 202")) is not None:
        return bad
    if not isinstance(ticket, str) or not ticket:
        return Verdict.fail("202 without a ticket")
    return OK
