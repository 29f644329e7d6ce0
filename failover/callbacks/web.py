"""Callback intake over HTTP: `GET /help/callbacks/new` (the form) and
`POST /help/callbacks` (the form, or JSON).

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
lost); 413 for an oversized body; 429 with Retry-After when the client is over its
`[limits]` callbacks limit (the form shown again, nothing lost); 503 with Retry-After,
saying plainly that nothing was saved, when neither Redis nor the spool could take it.
Never a false success.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from cache import web as selfhelp
from failover.callbacks import formtoken
from failover.callbacks.formsecret import FormSecrets
from failover.callbacks.queue import CallbackQueue, NotSaved, Receipt
from failover.callbacks.request import FIELDS, LIMITS, CallbackRequest, Invalid, validate
from failover.clock import Clock
from failover.jsonbody import JsonBodyError, loads_object
from failover.limits.gcra import Verdict
from failover.limits.limiter import Action, Limiter
from failover.limits.wiring import too_many_json, wait_text
from monitoring.callbacks import CallbackMetrics
from monitoring.http import Wrap

log = logging.getLogger("switchboard.callbacks")

COOKIE: Final = "sb_cb"
TOKEN_FIELD: Final = "form_token"  # noqa: S105 - a field name, not a secret
MAX_BODY: Final = 16 * 1024
MAX_KEY: Final = 200
RETRY_AFTER_S: Final = "30"


@dataclass(slots=True, kw_only=True)
class Intake:
    queue: CallbackQueue
    secrets: FormSecrets  # shared by the replicas (formsecret.py)
    form_max_age: float
    region: str
    clock: Clock
    metrics: CallbackMetrics
    limiter: Limiter  # per-client limit on submissions (issue 14)
    client_of: Callable[[web.Request], str]


INTAKE: Final[web.AppKey[Intake]] = web.AppKey("callback_intake", Intake)


def _form_page(
    request: web.Request,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: dict[str, str] | None = None,
    retry_after: int | None = None,
) -> web.Response:
    intake = request.app[INTAKE]
    sh = request.app[selfhelp.SELF_HELP]
    cookie = request.cookies.get(COOKIE)
    fresh_cookie = not formtoken.is_cookie(cookie)
    if cookie is None or fresh_cookie:
        cookie = formtoken.new_cookie()
    page = sh.render(
        "callback_form.html",
        form_token=formtoken.issue(intake.secrets.current, cookie, intake.clock.wall().timestamp()),
        values=values or {},
        errors=errors or {},
        problem=problem,
        limits=LIMITS,
        region=intake.region,
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
    return response


def _disabled() -> web.HTTPNotFound:
    return web.HTTPNotFound(text="Callbacks are not available here.\n")


async def form(request: web.Request) -> web.StreamResponse:
    if INTAKE not in request.app:
        raise _disabled()
    topic = request.query.get("topic", "").strip()[: LIMITS["topic"]]
    return _form_page(request, values={"topic": topic} if topic else None)


async def submit(request: web.Request) -> web.StreamResponse:
    intake = request.app.get(INTAKE)
    if intake is None:
        raise _disabled()
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
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _too_large(request)
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _too_large(request)
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


def _too_large(request: web.Request) -> web.Response:
    request.app[INTAKE].metrics.refused_total.labels("invalid").inc()
    return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)


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
        return _form_page(
            request, status=400, problem={"title": "We could not read that form. ", "text": ""}
        )
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
        return _form_page(
            request,
            status=403,
            values=values,
            problem={"title": "Please send the form again. ", "text": verdict.message},
        )
    result = validate(data, default_region=intake.region)
    if isinstance(result, Invalid):
        intake.metrics.refused_total.labels("invalid").inc()
        return _form_page(request, status=422, values=values, errors=result.errors)
    if (limited := await _over_limit(request, intake)) is not None:
        return _form_page(
            request,
            status=429,
            values=values,
            problem={
                "title": "Sorry: too many callback requests from your network. ",
                "text": "Nothing was sent, and what you typed is kept below. Please try again "
                f"in {wait_text(limited)}.",
            },
            retry_after=limited.retry_after_s,
        )
    try:
        receipt = await intake.queue.submit("form:" + str(data[TOKEN_FIELD]), result)
    except NotSaved:
        intake.metrics.refused_total.labels("unavailable").inc()
        return _form_page(
            request,
            status=503,
            values=values,
            problem={
                "title": "Sorry: we could not save your request. ",
                "text": "Nothing was sent, and what you typed is kept below. Please try "
                "again in a minute.",
            },
        )
    _count(intake, receipt)
    return _accepted_page(request, result, receipt)


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


def _accepted_page(
    request: web.Request, callback: CallbackRequest, receipt: Receipt
) -> web.Response:
    sh = request.app[selfhelp.SELF_HELP]
    page = sh.render(
        "callback_accepted.html",
        ticket=receipt.ticket,
        contact=callback.phone or callback.email,
        preferred_time=callback.preferred_time,
        query="",
        continue_to=None,
        stale_age=None,
    )
    return web.Response(
        body=page.body,
        status=202,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application, wrap: Wrap) -> None:
    """Routes now; the `Intake` is set under INTAKE at start-up."""
    app.router.add_get("/help/callbacks/new", wrap("help_callback_form", form))
    app.router.add_post("/help/callbacks", wrap("help_callbacks", submit))
