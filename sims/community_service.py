"""Community simulator service listener: fault modes, shared state and the API routes.

Routes: ``GET /latest.json?page=N``, ``/t/{id}.json``, ``/t/{slug}/{id}.json``,
``/categories.json`` (shapes in ``sims.community_api``); anything else is a JSON 404, as
Discourse answers. Faults (``Mode``) apply before routing, so every path meets them.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from sims import community_faults as bad
from sims.base import Gate, chosen_mode, number, status_param
from sims.community_api import JSONDict, categories_json, latest_json, not_found_json, topic_json
from sims.community_model import Seed


class Mode(StrEnum):
    UP = "up"
    DOWN = "down"  # the service listener is closed: connections are refused
    SLOW = "slow"  # every answer waits delay_ms first
    ERROR = "error"  # every answer is `status` (an nginx-style HTML error page)
    HANG = "hang"  # requests are accepted and never answered
    # Bad payloads, all answered 200 (sims/community_faults.py):
    GARBAGE = "garbage"  # a body that is not JSON (cut off), typed application/json
    WRONG_TYPES = "wrong_types"  # the right answer with every value's type swapped
    HUGE = "huge"  # a JSON body of `megabytes` MB (default 50), chunked
    DEEP = "deep"  # JSON arrays nested `depth` deep (default 100,000)
    NESTED_HTML = "nested_html"  # a topic's first post nested `depth` deep (default 20,000)
    BIG_HTML = "big_html"  # a topic's first post of `kilobytes` KB (default 1,024)
    LONE_SURROGATE = "lone_surrogate"  # every string ends in a lone surrogate escape
    HUGE_ID = "huge_id"  # every topic's id is 2**63
    FAR_DATE = "far_date"  # every topic was created at 9999-12-31T23:59:59-12:00


_MODE_PARAMS: Final[Mapping[Mode, frozenset[str]]] = {
    Mode.SLOW: frozenset({"delay_ms", "count"}),
    Mode.ERROR: frozenset({"status", "count"}),
    Mode.HANG: frozenset({"count"}),
    Mode.GARBAGE: frozenset({"count"}),
    Mode.WRONG_TYPES: frozenset({"count"}),
    Mode.HUGE: frozenset({"megabytes", "count"}),
    Mode.DEEP: frozenset({"depth", "count"}),
    Mode.NESTED_HTML: frozenset({"depth", "count"}),
    Mode.BIG_HTML: frozenset({"kilobytes", "count"}),
    Mode.LONE_SURROGATE: frozenset({"count"}),
    Mode.HUGE_ID: frozenset({"count"}),
    Mode.FAR_DATE: frozenset({"count"}),
}
_DEFAULT_DEPTH: Final = {Mode.DEEP: 100_000, Mode.NESTED_HTML: 20_000}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeSettings:
    """A fault mode; with ``count`` only the next ``count`` requests meet it, then ``up``."""

    mode: Mode = Mode.UP
    delay_ms: float = 500.0
    status: int = 503
    count: int | None = None
    megabytes: float = 50.0
    depth: int = 100_000
    kilobytes: float = 1024.0

    @classmethod
    def parse(cls, mode: Mode | str, params: Mapping[str, object]) -> ModeSettings:
        chosen = chosen_mode(Mode, mode, params, _MODE_PARAMS)
        status = status_param(params)
        count = number(params, "count", 1) if "count" in params else None
        if count is not None and (not count.is_integer() or count < 1):
            raise ValueError(f"count must be a positive integer, got {count}")
        depth = number(params, "depth", _DEFAULT_DEPTH.get(chosen, 100_000))
        if not depth.is_integer() or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth}")
        return cls(
            mode=chosen,
            delay_ms=number(params, "delay_ms", 500.0),
            status=status,
            count=None if count is None else int(count),
            megabytes=number(params, "megabytes", 50.0),
            depth=int(depth),
            kilobytes=number(params, "kilobytes", 1024.0),
        )

    def as_json(self) -> JSONDict:
        out: JSONDict = {"mode": self.mode.value}
        for key in sorted(_MODE_PARAMS.get(self.mode, frozenset())):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


class CommunityState(Gate[ModeSettings]):
    """What the service handlers share, across listener restarts (down, then up); as a
    ``Gate``, the mode requests meet: ``admit`` counts a counted fault down."""

    def __init__(self, seed: Seed) -> None:
        super().__init__(ModeSettings())
        self.seed = seed
        self.requests: Counter[str] = Counter()


STATE_KEY: Final = web.AppKey("community_state", CommunityState)


def _not_found() -> web.Response:
    return web.json_response(not_found_json(), status=404)


Rewrite = Callable[["ModeSettings", str, bytes], bytes]  # (mode, path, body) -> new body


def _first_post(html: Callable[[ModeSettings], str]) -> Rewrite:
    """A topic answer's first post replaced by `html(settings)` (other answers as they are)."""

    def rewrite(settings: ModeSettings, path: str, body: bytes) -> bytes:
        return bad.with_first_post(body, html(settings)) if path.startswith("/t/") else body

    return rewrite


def _every(change: Callable[[bytes], bytes]) -> Rewrite:
    return lambda _settings, _path, body: change(body)


# The bad payloads made from a good answer (the modes above replace it).
_REWRITES: Final[Mapping[Mode, Rewrite]] = {
    Mode.WRONG_TYPES: _every(lambda b: json.dumps(bad.scrambled(json.loads(b))).encode()),
    Mode.NESTED_HTML: _first_post(lambda m: bad.nested_html(m.depth)),
    Mode.BIG_HTML: _first_post(lambda m: bad.big_html(m.kilobytes)),
    Mode.LONE_SURROGATE: _every(lambda b: json.dumps(bad.unpaired(json.loads(b))).encode()),
    Mode.HUGE_ID: _every(lambda b: bad.with_topics(b, id=2**63)),
    Mode.FAR_DATE: _every(lambda b: bad.with_topics(b, created_at=bad.FAR_DATE)),
}


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.requests[request.path] += 1
    settings = state.admit()
    if settings.mode is Mode.HANG:
        await state.park()
    elif settings.mode is Mode.SLOW:
        await asyncio.sleep(settings.delay_ms / 1000)
    elif settings.mode is Mode.ERROR:
        # What sits in front of a struggling Discourse answers: nginx's HTML error page.
        text = f"<html><body><center><h1>{settings.status} Error</h1></center></body></html>\n"
        return web.Response(text=text, status=settings.status, content_type="text/html")
    elif settings.mode is Mode.GARBAGE:
        return web.Response(body=bad.GARBAGE, content_type=bad.JSON_TYPE)
    elif settings.mode is Mode.HUGE:
        return await bad.stream_huge(request, settings.megabytes)
    elif settings.mode is Mode.DEEP:
        return web.Response(body=bad.deep_json(settings.depth), content_type=bad.JSON_TYPE)
    response = await handler(request)
    if response.status != 200 or not isinstance(response, web.Response):
        return response
    body = response.body
    if not isinstance(body, bytes):
        return response
    rewrite = _REWRITES.get(settings.mode)
    if rewrite is None:
        return response
    body = rewrite(settings, request.path, body)
    return web.Response(body=body, content_type=bad.JSON_TYPE)


async def _latest(request: web.Request) -> web.Response:
    raw = request.query.get("page", "0")
    if not raw.isdigit():
        body = {"errors": ["page is invalid"], "error_type": "invalid_parameters"}
        return web.json_response(body, status=400)
    return web.json_response(latest_json(request.app[STATE_KEY].seed, int(raw)))


async def _topic(request: web.Request) -> web.Response:
    topic = request.app[STATE_KEY].seed.topic(int(request.match_info["id"]))
    return _not_found() if topic is None else web.json_response(topic_json(topic))


async def _categories(request: web.Request) -> web.Response:
    return web.json_response(categories_json(request.app[STATE_KEY].seed))


async def _unknown(request: web.Request) -> web.Response:
    return _not_found()


def service_app(state: CommunityState) -> web.Application:
    """The service listener's app, sharing ``state`` with every earlier and later one."""
    app = web.Application(middlewares=[_faults])
    app[STATE_KEY] = state
    app.router.add_get("/latest.json", _latest)
    app.router.add_get(r"/t/{id:\d+}.json", _topic)
    app.router.add_get(r"/t/{slug}/{id:\d+}.json", _topic)
    app.router.add_get("/categories.json", _categories)
    app.router.add_get("/{tail:.*}", _unknown)
    return app
