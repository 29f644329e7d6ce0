"""The self-help pages' state, built once by the app (switchboard/selfhelp_wiring.py) and
kept under `SELF_HELP` on the self-help app (cache/web.py `new_app`, mounted at /help by
switchboard/app.py): the runtime and its clock, the outage banner, the languages, the
rendered-page caches, and the overload stage. `render` writes a page with its banner.

The pages are that app's handlers (`request.app` is the self-help app: `on_pages`); the
JSON API and the callback pages are the main app's, and reach the same `SelfHelp`
through the main app's handle, `SELF_HELP_APP` (`via_handle`, `self_help_of`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from cachetools import TTLCache
from multidict import CIMultiDictProxy

from cache.encoding import page_of
from cache.freshness import cache_control
from cache.hotpage import FreshPage
from cache.languages import DEFAULT, Language, Languages
from cache.negotiate import Negotiator
from cache.pagelang import language_of
from cache.pages import PAGE_HEADERS, Brand, Logo, templates_loader
from cache.prerender import ShedPages
from cache.rendered import OutageInfo, Page, outage_key
from cache.runtime import SelfHelpRuntime
from cache.service import SelfHelpService
from cache.when import outage_step
from kernel.limits.limiter import Limiter
from kernel.overload import Stage
from kernel.overload_monitor import InFlight

PAGE_CACHE_SIZE: Final = 4096
LIST_TTL: Final = 5.0  # seconds a rendered landing or list page is reused


@dataclass(slots=True, kw_only=True)
class SelfHelp:
    """What the handlers need; built once by the app."""

    runtime: SelfHelpRuntime
    outage: OutageInfo
    # Whom a request counts against (kernel/limits/identity), and the per-client
    # limits (issue 14): views and votes count once per client per bulletin per window.
    client_of: Callable[[web.BaseRequest], str]
    limiter: Limiter
    on_helped: Callable[[], None] = lambda: None  # a "yes, this helped" during an outage
    callbacks_enabled: bool = False
    brand: Brand = field(default_factory=Brand)  # [branding] (cache/pages.py)
    # The pages' security headers, with the CSP for this brand's style and logo.
    page_headers: CIMultiDictProxy[str] = field(default_factory=lambda: PAGE_HEADERS)
    logo: Logo | None = None  # the logo file's bytes, served at /help/logo
    # One jinja2 Environment per shipped language, built once (cache/languages.py).
    languages: Languages = field(default_factory=lambda: Languages.load(templates_loader()))
    # Rendered pages, and landing and list pages for LIST_TTL s, on the runtime's clock.
    pages: TTLCache[tuple[Any, ...], Page] = field(init=False)
    lists: TTLCache[tuple[Any, ...], Page] = field(init=False)
    # Per language, by the id as in the path (`fresh` is the default language's).
    fresh_by_lang: dict[str, dict[str, FreshPage]] = field(default_factory=dict)
    shed: ShedPages = field(default_factory=ShedPages)  # pages for the shedding stages
    in_flight: InFlight = field(default_factory=InFlight)  # the overload monitor's
    stage: Stage = Stage.NORMAL  # set by the overload monitor (set_stage)
    memory_only: bool = False  # stage >= memory_only, read on the hot path
    negotiator: Negotiator = field(init=False)

    def __post_init__(self) -> None:
        timer = self.runtime.clock.monotonic
        self.pages = TTLCache(maxsize=PAGE_CACHE_SIZE, ttl=3600, timer=timer)
        self.lists = TTLCache(maxsize=256, ttl=LIST_TTL, timer=timer)
        self.negotiator = Negotiator(self.languages, self.languages.default)
        for code in self.languages:
            self.fresh_by_lang.setdefault(code, {})

    @property
    def fresh(self) -> dict[str, FreshPage]:
        return self.fresh_by_lang[self.languages.default]

    def language(self, request: web.Request) -> Language:
        return self.languages[language_of(request, self.negotiator)]

    def banner_key(self) -> tuple[bool, str, int, str]:
        return outage_key(self.outage(), self.now())

    @property
    def service(self) -> SelfHelpService:
        return self.runtime.service

    def now(self) -> float:
        return self.runtime.clock.epoch()

    def set_stage(self, stage: Stage) -> None:
        self.stage = stage
        self.memory_only = stage.at_least(Stage.MEMORY_ONLY)

    @property
    def cache_control(self) -> str:
        return cache_control(self.service.policy)

    def render(
        self, template: str, *, lang: str = DEFAULT, compress: bool = True, **context: Any
    ) -> Page:
        """The page in `lang`, and its gzip copy unless `compress` is off
        (cache/encoding.py). `here`, for the language switcher, is the page's address
        without ?lang=; "" (the default) where the page is its own address, as a
        relative link keeps it whatever the path (the static page is sent for many)."""
        outage = self.outage()
        context.setdefault("here", "")
        body = (
            self.languages[lang]
            .env.get_template(template)
            .render(
                outage=outage,
                outage_for=outage_step(outage.since, self.now()),
                callbacks=self.callbacks_enabled,
                brand=self.brand,
                **context,
            )
            .encode()
        )
        return page_of(body, compress=compress)


# The self-help app's own key: never on the main app.
SELF_HELP: Final[web.AppKey[SelfHelp]] = web.AppKey("self_help", SelfHelp)
# The main app's handle on the self-help app (its one key about self-help).
SELF_HELP_APP: Final[web.AppKey[web.Application]] = web.AppKey("self_help_app", web.Application)
# How a handler finds the `SelfHelp`: `on_pages` (mounted in the self-help app) or
# `via_handle` (mounted in the main app).
HelperOf = Callable[[web.Request], SelfHelp]


def on_pages(request: web.Request) -> SelfHelp:
    return request.app[SELF_HELP]


def via_handle(request: web.Request) -> SelfHelp:
    return request.app[SELF_HELP_APP][SELF_HELP]


def self_help_of(app: web.Application) -> SelfHelp | None:
    """The main app's `SelfHelp`, through its handle: None until start-up has built it."""
    return app[SELF_HELP_APP].get(SELF_HELP)
