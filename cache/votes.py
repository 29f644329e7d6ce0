"""`POST /help/bulletins/<id>/vote`: "did this help?".

A vote counts (the votes hashes in Redis, and `switchboard_selfhelp_helped_total`
during an outage) once per client per bulletin per `[limits] vote_window_s`, only for a
bulletin that exists, and only within the client's vote limit: past it, a 429 page
that says when to try again (issue 14, point 6). A repeat is thanked like the first
and not counted. The form is read here, small and URL-encoded only, so that no body
a client sends can end in the page's catch-all (issue 14, point 5).
"""

from __future__ import annotations

import asyncio
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from cache.answers import answer, bulletin_id_of, not_found
from cache.languages import N_
from cache.service import NotInCatalog
from cache.site import SELF_HELP, SelfHelp
from kernel.body import ClientFaultError, read_body
from kernel.limits.gcra import Outcome, Verdict
from kernel.limits.limiter import Action

MAX_VOTE_BODY: Final = 1024  # the vote form sends "helpful=yes"
VOTE_BODY_TIMEOUT_S: Final = 10.0  # for the whole body


async def vote(request: web.Request) -> web.StreamResponse:
    """A "did this help?" vote. Counted (votes, and the "helped" metric during an
    outage) once per client per bulletin per `[limits] vote_window_s`, only for a
    bulletin that exists, and only within the client's vote limit (else 429). A repeat
    is thanked like the first and not counted (issue 14)."""
    sh = request.app[SELF_HELP]
    bulletin_id = bulletin_id_of(request, sh)
    helpful = await _vote_field(request) == "yes"
    if not await _exists(sh, bulletin_id):  # before the limiter: it would remember the id
        return not_found(request, sh, here=f"/help/bulletins/{bulletin_id}")
    verdict = await sh.limiter.check(Action.VOTE, sh.client_of(request), bulletin_id)
    if verdict.outcome is Outcome.LIMITED:
        return _too_many_votes(request, sh, verdict, bulletin_id)
    if verdict.allowed:
        sh.service.hits.add_vote(bulletin_id, helpful)
        if helpful and sh.outage().active:
            sh.on_helped()
    if sh.memory_only:  # shedding: the "thanks" page is not rendered ahead; the bulletin's is
        raise web.HTTPSeeOther(f"/help/bulletins/{bulletin_id}")
    raise web.HTTPSeeOther(f"/help/bulletins/{bulletin_id}?voted=1")


async def _vote_field(request: web.Request) -> str:
    """The form's `helpful`, or a 4xx: only a small urlencoded form is read (not
    `request.post()`, which takes multipart and any charset, and raises on bad ones)."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType(text="Send the vote form (URL-encoded).")
    # The whole body, however it arrives (read(n) would return only what is buffered).
    deadline = asyncio.get_running_loop().time() + VOTE_BODY_TIMEOUT_S
    try:
        body = await read_body(request, limit=MAX_VOTE_BODY, deadline=deadline)
    except ClientFaultError as fault:
        raise _body_refused(fault) from None
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except ValueError:  # not UTF-8 (UnicodeDecodeError), or too many fields
        raise web.HTTPBadRequest(text="We could not read that form.") from None
    helpful = next((value for name, value in fields if name == "helpful"), None)
    if helpful not in ("yes", "no"):
        raise web.HTTPBadRequest(text="Field 'helpful' must be 'yes' or 'no'.")
    return helpful


def _body_refused(fault: ClientFaultError) -> web.HTTPException:
    """413 over MAX_VOTE_BODY, 408 not whole in time, 400 cut off: text saying why."""
    if fault.status == 413:  # actual_size: at least one byte over, all that was read
        return web.HTTPRequestEntityTooLarge(MAX_VOTE_BODY, MAX_VOTE_BODY + 1, text=fault.text)
    if fault.status == 408:
        return web.HTTPRequestTimeout(text=fault.text)
    return web.HTTPBadRequest(text=fault.text)


async def _exists(sh: SelfHelp, bulletin_id: int) -> bool:
    if sh.service.is_known(bulletin_id):
        return True
    if sh.memory_only:  # shedding: nothing is fetched to find out; unknown is unknown
        return False
    try:
        await sh.service.bulletin(bulletin_id)
    except NotInCatalog:
        return False
    return True


def _too_many_votes(
    request: web.Request, sh: SelfHelp, verdict: Verdict, bulletin_id: int
) -> web.Response:
    language = sh.language(request)
    message = N_(
        "Thank you, but this vote was not counted: we received many votes from your "
        "network in a short time. Please try again in %(wait)s."
    )
    page = sh.render(
        "unavailable.html",
        lang=language.code,
        here=f"/help/bulletins/{bulletin_id}",  # not the vote's address: that is a POST
        title=language.gettext(N_("Too many votes from your network")),
        message=language.gettext(message) % {"wait": language.clock.age(verdict.retry_after_s)},
        query="",
        continue_to=None,
        stale_age=None,
    )
    response = answer(request, page, cache="no-store", status=429, lang=language.code)
    response.headers["Retry-After"] = str(verdict.retry_after_s)
    return response
