"""The callback pages: the form (again, with what the customer typed and a message per
field, when refused) and the accepted page, in the customer's language.

They are self-help pages: rendered by the self-help pages' environment (cache/pages.py:
one loader with the operator's templates first, one brand, the catalogs), from
cache/templates/callback_form.html and callback_accepted.html, which extend base.html
like every customer page. Hence here, in the composition root, above both the callback
machinery (failover/callbacks/) and the page machinery (cache/).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from cache import web as selfhelp
from cache.languages import Language
from cache.pagelang import answered_in
from failover.callbacks import formtoken
from failover.callbacks.intake import INTAKE
from failover.callbacks.queue import Receipt
from failover.callbacks.request import LIMITS, CallbackRequest
from kernel.messages import N_, translate

COOKIE: Final = "sb_cb"
RETRY_AFTER_S: Final = "30"


def form_page(
    request: web.Request,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: tuple[str, str] | None = None,
    retry_after: int | None = None,
) -> web.Response:
    """The form, in the customer's language: `problem` (title, text) and the field
    errors are English messages marked for the catalog (cache/messages.py); with
    `retry_after`, the problem says how long to wait, in the customer's words."""
    intake = request.app[INTAKE]
    sh = selfhelp.via_handle(request)
    language = sh.language(request)
    gettext = language.gettext
    cookie = request.cookies.get(COOKIE)
    fresh_cookie = not formtoken.is_cookie(cookie)
    if cookie is None or fresh_cookie:
        cookie = formtoken.new_cookie()
    page = sh.render(
        "callback_form.html",
        lang=language.code,
        here="/help/callbacks/new",
        form_token=formtoken.issue(intake.secrets.current, cookie, intake.clock.wall().timestamp()),
        values=values or {},
        errors={name: translate(error, gettext) for name, error in (errors or {}).items()},
        problem=None if problem is None else _problem(language, *problem, retry_after),
        limits=LIMITS,
        region=intake.region,
        forms=True,  # the form pages' CSS (cache/templates/_style.css)
        compress=False,  # the form token next to what was typed: BREACH (cache/encoding.py)
        query="",
        continue_to=None,
        stale_age=None,
    )
    response = web.Response(
        body=page.body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
    if fresh_cookie:
        response.set_cookie(
            COOKIE, cookie, path="/help", httponly=True, samesite="Strict", secure=request.secure
        )
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_S
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    answered_in(request, response, language.code, sh.negotiator)
    return response


def _problem(language: Language, title: str, text: str, retry_after: int | None) -> dict[str, str]:
    gettext = language.gettext
    shown = translate(text, gettext)
    if retry_after is not None:
        wait = language.clock.age(retry_after)
        shown += " " + gettext(N_("Please try again in %(wait)s.")) % {"wait": wait}
    return {"title": gettext(title) + " ", "text": shown}


def disabled(request: web.Request) -> web.HTTPNotFound:
    text = N_("Callbacks are not available here.")
    if (sh := selfhelp.self_help_of(request.app)) is not None:
        text = sh.language(request).gettext(text)
    return web.HTTPNotFound(text=text + "\n")


def accepted_page(
    request: web.Request, callback: CallbackRequest, receipt: Receipt
) -> web.Response:
    sh = selfhelp.via_handle(request)
    lang = sh.language(request).code
    page = sh.render(
        "callback_accepted.html",
        lang=lang,
        here="/help",  # this page answers a POST: no address of its own to switch
        ticket=receipt.ticket,
        contact=callback.phone or callback.email,
        preferred_time=callback.preferred_time,
        forms=True,
        compress=False,
        query="",
        continue_to=None,
        stale_age=None,
    )
    response = web.Response(
        body=page.body,
        status=202,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
    answered_in(request, response, lang, sh.negotiator)
    return response
