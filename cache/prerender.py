"""Pages rendered ahead, for the load-shedding stages (kernel/overload.py).

- Bulletin pages, the last one rendered of each bulletin in each language (whatever its
  banner or age), kept by (id, language) (`ShedPages.by_id`, bounded, least recently
  used out first): every page the slow path renders lands here, and a background job
  (`prerender`, every `PRERENDER_EVERY` s) renders the `prerender_top` most-read ones
  ahead in the default language, one at a time with the event loop free between them.
  A page already rendered for the same copy and banner is not rendered again, so in
  steady state the job renders nothing (during an outage, once per step of the
  banner's duration: cache/when.py).
- The static page, per language: the `static_top` most-read bulletins in full on one
  page. The same job rebuilds the default language's when the bulletins or the outage
  banner changed; in the static stage only a banner change rebuilds one (one render per
  change of where customers go, per language asked for).

What each stage answers with them (cache/web.py): from memory_only on, a bulletin page
comes from `by_id` (in the customer's language, else the default one), or is the static
page when it was never rendered; in the static stage the landing, search and authors
pages are the static page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, Protocol

from cachetools import LRUCache, TTLCache

from cache.freshness import age
from cache.languages import DEFAULT
from cache.rendered import Outage, Page, outage_key
from cache.service import SelfHelpService, Served
from kernel.overload import Stage

PRERENDER_EVERY: Final = 5.0
PAGE_CACHE_SIZE: Final = 4096
# The static page may be kept by a CDN or browser a few seconds: that is the point of it.
STATIC_CACHE_CONTROL: Final = "public, max-age=5"


class Site(Protocol):
    """What rendering needs of cache.web.SelfHelp."""

    @property
    def outage(self) -> Callable[[], Outage]: ...

    @property
    def pages(self) -> TTLCache[tuple[Any, ...], Page]: ...

    @property
    def stage(self) -> Stage: ...

    @property
    def shed(self) -> ShedPages: ...

    @property
    def service(self) -> SelfHelpService: ...

    def now(self) -> float: ...

    def render(self, template: str, *, lang: str, **context: Any) -> Page: ...


class ShedPages:
    def __init__(self, *, prerender_top: int = 50, static_top: int = 20) -> None:
        self.prerender_top = prerender_top
        self.static_top = static_top
        self.by_id: LRUCache[tuple[int, str], Page] = LRUCache(maxsize=PAGE_CACHE_SIZE)
        self.static: dict[str, Page] = {}  # by language
        # (version, banner)
        self._static_for: dict[str, tuple[int, tuple[bool, str, int, str]]] = {}

    def static_page(self, site: Site, lang: str = DEFAULT) -> Page:
        """The static page, rebuilt first if it is missing or out of date (see above)."""
        made_for = (site.service.version, outage_key(site.outage(), site.now()))
        old = self._static_for.get(lang)
        page = self.static.get(lang)
        stale = (
            page is None
            or old is None
            or old[1] != made_for[1]
            or (old[0] != made_for[0] and not site.stage.at_least(Stage.STATIC))
        )
        if stale or page is None:
            page = site.render(
                "static.html",
                lang=lang,
                bulletins=site.service.top(self.static_top),
                query="",
                continue_to=None,
                stale_age=None,
            )
            self.static[lang] = page
            self._static_for[lang] = made_for
        return page

    def shed_page(self, bulletin_id: int, lang: str) -> Page | None:
        """A bulletin page rendered before: in `lang`, else in the default language."""
        page = self.by_id.get((bulletin_id, lang))
        if page is None and lang != DEFAULT:
            page = self.by_id.get((bulletin_id, DEFAULT))
        return page


def bulletin_page(site: Site, served: Served, *, voted: bool, lang: str = DEFAULT) -> Page:
    """The bulletin page for this copy, banner and language: from the page cache, or
    rendered and kept there (and by id, for the shedding stages)."""
    b = served.bulletin
    key = ("bulletin", b.id, served.stored_at, outage_key(site.outage(), site.now()), voted, lang)
    page = site.pages.get(key)
    if page is None:
        service = site.service
        now_age = age(served.stored_at, site.now())
        page = site.render(
            "bulletin.html",
            lang=lang,
            bulletin=b,
            body=b.body_html,  # sanitized at ingest (cache/sanitize.py)
            related=service.related(b, 5),
            views=service.hit_counts.get(b.id, 0),
            voted=voted,
            query="",
            continue_to=None,
            stale_age=now_age if now_age > service.policy.max_age else None,
        )
        site.pages[key] = page
    if not voted:
        site.shed.by_id[b.id, lang] = page
    return page


async def prerender(site: Site) -> None:
    """The background job: the most-read bulletin pages and the static page, ready."""
    if site.stage.at_least(Stage.STATIC):  # no rendering now; a banner change is
        return  # handled by the first request that needs the static page
    service = site.service
    for bulletin in service.top(site.shed.prerender_top):
        served = service.from_memory(bulletin.id)
        if served is not None:
            bulletin_page(site, served, voted=False)
        await asyncio.sleep(0)  # requests go first between two renders
    site.shed.static_page(site)
