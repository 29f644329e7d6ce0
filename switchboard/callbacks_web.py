"""Callback intake over HTTP: `GET /help/callbacks/new` (the form) and
`POST /help/callbacks` (the form, or JSON). The pages are switchboard/callback_pages.py.
`GET /help/callbacks` (the ticket page or a refused form reloaded) leads to the form.

Form: protected by a signed double-submit token (`formtoken`), which is also the
submission's idempotency key, so a re-sent form gets the ticket it was first given.
A refused form is shown again with what the customer typed and a message per field.

JSON (`Content-Type: application/json`): an object with the fields of
`request.FIELDS`; `Idempotency-Key` header recommended (one is made up when absent).
A browser cannot send this content type cross-site without a CORS preflight, which we
never grant, so JSON needs no form token.

Answers: 202 with the ticket once the callback is durable (Redis, or the local spool);
400 for a body that is not a JSON object (nested deeper than 32 levels included);
422 naming each bad field; 403 for a forged or expired form (shown again, nothing
lost); 413 for a body over 16 KiB, 408 for one not whole within 10 s, 400 for one cut
off (a body is read to its end, however it is split on the way); 429 with Retry-After
when the client is over its `[limits]` callbacks limit (the form shown again, nothing
lost); 503 with Retry-After, saying plainly that nothing was saved, when neither Redis
nor the spool could take it. Never a false success.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from cache import web as selfhelp
from failover.callbacks.intake import INTAKE, Intake
from failover.callbacks.queue import NotSaved, Receipt
from failover.callbacks.request import FIELDS, LIMITS, Invalid, validate
from failover.jsonbody import JsonBodyError, loads_object
from failover.limits_wiring import too_many_json
from kernel.body import ClientFaultError, read_body
from kernel.limits.gcra import Verdict
from kernel.limits.limiter import Action
from kernel.messages import N_
from monitoring.http import Wrap
from switchboard.callback_pages import (
    COOKIE,
    RETRY_AFTER_S,
    accepted_page,
    disabled,
    form_page,
)

log = logging.getLogger("switchboard.callbacks")

TOKEN_FIELD: Final = "form_token"  # noqa: S105 - a field name, not a secret
MAX_BODY: Final = 16 * 1024
BODY_TIMEOUT_S: Final = 10.0  # for the whole body, as `proxy.body_timeout_ms` by default
MAX_KEY: Final = 200
FORM: Final = "/help/callbacks/new"


async def form(request: web.Request) -> web.StreamResponse:
    if INTAKE not in request.app:
        raise disabled(request)
    topic = request.query.get("topic", "").strip()[: LIMITS["topic"]]
    return form_page(request, values={"topic": topic} if topic else None)


async def again(request: web.Request) -> web.StreamResponse:
    """`GET /help/callbacks`: the address of the ticket page and of a refused form, when
    a customer reloads, bookmarks or reopens it. The ticket is not stored to be shown
    again, so this is the form (303), in the language `?lang=` asks for if it is one we
    speak (otherwise the cookie's or the browser's, as on every page)."""
    sh = selfhelp.self_help_of(request.app)
    lang = None if sh is None else sh.negotiator.chosen(request.query.get("lang"))
    raise web.HTTPSeeOther(FORM + ("" if lang is None else "?" + urlencode({"lang": lang})))


async def submit(request: web.Request) -> web.StreamResponse:
    intake = request.app.get(INTAKE)
    if intake is None:
        raise disabled(request)
    try:
        return await _submit(request, intake)
    except web.HTTPException:
        raise
    except Exception:
        # A fault of ours (a bug): say plainly nothing was saved, never a 500 page. Not
        # "unavailable": that reason means Redis and the spool both refused, and pages
        # someone about storage (SwitchboardCallbacksRefused). Client input never gets
        # here: every parse is guarded above and answered with a 4xx (issue 14).
        log.exception("callbacks: intake failed")
        intake.metrics.refused_total.labels("error").inc()
        return _not_saved()


async def _submit(request: web.Request, intake: Intake) -> web.StreamResponse:
    # The whole body, however it arrives (read(n) would return only what is buffered).
    deadline = asyncio.get_running_loop().time() + BODY_TIMEOUT_S
    try:
        body = await read_body(request, limit=MAX_BODY, deadline=deadline)
    except ClientFaultError as fault:
        intake.metrics.refused_total.labels("invalid").inc()
        return _body_refused(fault)
    if request.content_type == "application/json":
        return await _submit_json(request, intake, body)
    if request.content_type in ("application/x-www-form-urlencoded", ""):
        return await _submit_form(request, intake, body)
    return web.json_response(
        {"error": "send the form, or JSON with Content-Type: application/json"}, status=415
    )


def _not_saved() -> web.Response:
    return web.json_response(
        {"error": "your callback request could not be saved; nothing was stored. "
                  "Please try again in a minute."},
        status=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )  # fmt: skip


def _body_refused(fault: ClientFaultError) -> web.Response:
    """413 over MAX_BODY, 408 not whole within BODY_TIMEOUT_S, 400 cut off; the
    connection is closed (what is left of the request is not worth reading)."""
    response = web.json_response({"error": fault.text}, status=fault.status)
    response.force_close()
    return response


async def _submit_json(request: web.Request, intake: Intake, body: bytes) -> web.Response:
    try:
        fields = loads_object(body)
    except JsonBodyError as exc:  # not JSON, not an object, or nested too deep: the client's
        intake.metrics.refused_total.labels("invalid").inc()
        return web.json_response({"error": str(exc)}, status=400)
    key = request.headers.get("Idempotency-Key")
    if key is None:
        key = "generated:" + uuid.uuid4().hex
    elif not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        intake.metrics.refused_total.labels("invalid").inc()
        return web.json_response(
            {"error": f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters"},
            status=400,
        )
    result = validate(fields, default_region=intake.region)
    if isinstance(result, Invalid):
        intake.metrics.refused_total.labels("invalid").inc()
        return web.json_response(
            {"error": "invalid callback request", "fields": result.errors}, status=422
        )
    if (limited := await _over_limit(request, intake)) is not None:
        return too_many_json(limited, "callback requests")
    try:
        receipt = await intake.queue.submit("api:" + key, result)
    except NotSaved:
        intake.metrics.refused_total.labels("unavailable").inc()
        return _not_saved()
    _count(intake, receipt)
    return web.json_response(
        {"ticket": receipt.ticket, "status": "accepted", "duplicate": not receipt.new,
         "next": "we call you back as soon as a call center is available, oldest requests "
                 "first"},
        status=202,
    )  # fmt: skip


async def _submit_form(request: web.Request, intake: Intake, body: bytes) -> web.Response:
    try:
        data = _parse_form(body)
    except ValueError:
        intake.metrics.refused_total.labels("invalid").inc()
        return form_page(request, status=400, problem=(N_("We could not read that form."), ""))
    values = {name: data.get(name, "") for name in FIELDS}
    verdict = intake.secrets.verify(
        request.cookies.get(COOKIE),
        data.get(TOKEN_FIELD),
        intake.clock.wall().timestamp(),
        max_age=intake.form_max_age,
    )
    if not verdict.ok:
        intake.metrics.refused_total.labels("forged").inc()
        log.info("callbacks: form refused: %s", verdict.reason)
        return form_page(
            request,
            status=403,
            values=values,
            problem=(N_("Please send the form again."), verdict.message),
        )
    result = validate(data, default_region=intake.region)
    if isinstance(result, Invalid):
        intake.metrics.refused_total.labels("invalid").inc()
        return form_page(request, status=422, values=values, errors=result.errors)
    if (limited := await _over_limit(request, intake)) is not None:
        return form_page(
            request,
            status=429,
            values=values,
            problem=(
                N_("Sorry: too many callback requests from your network."),
                N_("Nothing was sent, and what you typed is kept below."),
            ),
            retry_after=limited.retry_after_s,
        )
    try:
        receipt = await intake.queue.submit("form:" + str(data[TOKEN_FIELD]), result)
    except NotSaved:
        intake.metrics.refused_total.labels("unavailable").inc()
        return form_page(
            request,
            status=503,
            values=values,
            problem=(
                N_("Sorry: we could not save your request."),
                N_(
                    "Nothing was sent, and what you typed is kept below. Please try again "
                    "in a minute."
                ),
            ),
        )
    _count(intake, receipt)
    return accepted_page(request, result, receipt)


async def _over_limit(request: web.Request, intake: Intake) -> Verdict | None:
    """The verdict when this client is over its callbacks limit, else None. Checked
    once the request is valid (a typo does not use up a customer's allowance) and
    before it is stored, so a 429 never follows a 202: nothing is lost silently."""
    verdict = await intake.limiter.check(Action.CALLBACK, intake.client_of(request))
    if verdict.allowed:
        return None
    intake.metrics.refused_total.labels("rate_limited").inc()
    return verdict


def _parse_form(body: bytes) -> dict[str, Any]:
    from urllib.parse import parse_qsl  # noqa: PLC0415 - only the form path needs it

    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    data: dict[str, Any] = {}
    for name, value in pairs:
        data.setdefault(name, value)  # the first of a repeated field counts
    return data


def _count(intake: Intake, receipt: Receipt) -> None:
    if receipt.new:
        intake.metrics.accepted_total.labels(receipt.stored).inc()


def add_routes(app: web.Application, wrap: Wrap) -> None:
    """Routes now; the `Intake` is set under INTAKE at start-up."""
    app.router.add_get(FORM, wrap("help_callback_form", form))
    app.router.add_post("/help/callbacks", wrap("help_callbacks", submit))
    app.router.add_get("/help/callbacks", wrap("help_callbacks_again", again))
