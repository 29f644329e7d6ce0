"""Pages rendered ahead, for the load-shedding stages (failover/overload.py).

- Bulletin pages, the last one rendered of each bulletin (whatever its banner or age),
  kept by id (`ShedPages.by_id`, bounded, least recently used out first): every page the
  slow path renders lands here, and a background job (`prerender`, every
  `PRERENDER_EVERY` s) renders the `prerender_top` most-read ones ahead, one at a time
  with the event loop free between them. A page already rendered for the same copy and
  banner is not rendered again, so in steady state the job renders nothing.
- The static page: the `static_top` most-read bulletins in full on one page. The same
  job rebuilds it when the bulletins or the outage banner changed; in the static stage
  only a banner change rebuilds it (one render per change of where customers go).

What each stage answers with them (cache/web.py): from memory_only on, a bulletin page
comes from `by_id`, or is the static page when it was never rendered; in the static
stage the landing, search and authors pages are the static page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, Protocol

from cachetools import LRUCache, TTLCache

from cache.freshness import age
from cache.rendered import Outage, Page, outage_key
from cache.service import SelfHelpService, Served
from failover.overload import Stage

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

    def render(self, template: str, **context: Any) -> Page: ...


class ShedPages:
    def __init__(self, *, prerender_top: int = 50, static_top: int = 20) -> None:
        self.prerender_top = prerender_top
        self.static_top = static_top
        self.by_id: LRUCache[int, Page] = LRUCache(maxsize=PAGE_CACHE_SIZE)
        self.static: Page | None = None
        self._static_for: tuple[int, tuple[bool, str]] | None = None  # (version, banner)

    def static_page(self, site: Site) -> Page:
        """The static page, rebuilt first if it is missing or out of date (see above)."""
        made_for = (site.service.version, outage_key(site.outage()))
        old = self._static_for
        stale = (
            self.static is None
            or old is None
            or old[1] != made_for[1]
            or (old[0] != made_for[0] and not site.stage.at_least(Stage.STATIC))
        )
        if stale or self.static is None:
            self.static = site.render(
                "static.html",
                bulletins=site.service.top(self.static_top),
                query="",
                continue_to=None,
                stale_age=None,
            )
            self._static_for = made_for
        return self.static


def bulletin_page(site: Site, served: Served, *, voted: bool) -> Page:
    """The bulletin page for this copy and banner: from the page cache, or rendered and
    kept there (and by id, for the shedding stages)."""
    b = served.bulletin
    key = ("bulletin", b.id, served.stored_at, outage_key(site.outage()), voted)
    page = site.pages.get(key)
    if page is None:
        service = site.service
        now_age = age(served.stored_at, site.now())
        page = site.render(
            "bulletin.html",
            bulletin=b,
            body=b.body_html,  # sanitized at ingest (cache/sanitize.py)
            related=service.related(b, 5),
            views=service.hit_counts.get(b.id, 0),
            voted=voted,
            query="",
            continue_to=None,
            stale_age=human(now_age) if now_age > service.policy.max_age else None,
        )
        site.pages[key] = page
    if not voted:
        site.shed.by_id[b.id] = page
    return page


def human(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


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
