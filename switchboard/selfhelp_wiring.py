"""Building the self-help layer (cache/) from the front door's settings, and what the
front door's status reads of it (`SelfHelpFacts`).

Part of the composition root (switchboard/): the settings are failover's, the parts
cache's, and neither package imports the other. Kept apart from app.py so that it stays
readable: this is the one place that knows how the self-help parts fit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer, HitFlusher
from cache.languages import Languages
from cache.local import Snapshot
from cache.origin import DiscourseClient
from cache.pages import (
    LOGO_ROUTE,
    Brand,
    FooterLink,
    Logo,
    environment,
    read_logo,
    styles,
    templates_loader,
)
from cache.prerender import PRERENDER_EVERY, ShedPages, prerender
from cache.ranking import TrendingGate
from cache.runtime import SelfHelpRuntime
from cache.service import SelfHelpService
from cache.store import RedisStore
from cache.web import Outage, SelfHelp
from failover.limits_wiring import ClientOf
from failover.settings import Settings
from failover.settings.branding import FOOTER_LINKS, LOGO_TYPES, resolve
from kernel.clock import Clock
from kernel.limits.limiter import Limiter
from kernel.overload_monitor import OverloadMonitor
from kernel.security_headers import csp, page_headers
from monitoring.degraded import DegradedMetrics
from monitoring.metrics import Metrics


def build_self_help(
    settings: Settings,
    *,
    redis: Redis | None,
    session: aiohttp.ClientSession,
    metrics: Metrics,
    outage: Callable[[], Outage],
    limiter: Limiter,
    client_of: ClientOf,
    clock: Clock,
    writes_snapshot: bool = True,
    degraded: DegradedMetrics | None = None,
    callbacks_enabled: bool = False,
) -> SelfHelp:
    s = settings.selfhelp
    origin = None
    if s.origin:
        seconds = s.origin_timeout_ms / 1000
        origin = DiscourseClient(
            session,
            s.origin,
            timeout=aiohttp.ClientTimeout(
                total=seconds * 2, sock_connect=seconds, sock_read=seconds
            ),
        )
    degraded = degraded or DegradedMetrics(metrics.registry)
    store = RedisStore(redis) if redis is not None else None
    hits = HitBuffer()
    o = settings.overload
    overload = OverloadMonitor(
        o.policy(), interval=o.sample_interval_ms / 1000, measure=o.enabled,
        on_transition=degraded.count_transition, monotonic=clock.monotonic,
    )  # fmt: skip
    service = SelfHelpService(
        origin=origin,
        store=store,
        policy=FreshnessPolicy(
            max_age=s.max_age_s,
            stale_while_revalidate=s.stale_while_revalidate_s,
            stale_if_error=s.stale_if_error_s,
        ),
        count_lookup=metrics.count_cache_lookup,
        hits=hits,
        limiter=limiter,
        count_bad_origin=degraded.count_bad_response,
        site_url=str(s.origin) if s.origin else None,
        clock=clock,
    )
    runtime = SelfHelpRuntime(
        service,
        store=store,
        snapshot=Snapshot(Path(s.snapshot_path)) if s.snapshot_path else None,
        flusher=HitFlusher(store, hits, clock=clock) if store is not None else None,
        snapshot_every=float(s.snapshot_every_s),
        warm_top=s.warm_top,
        writes_snapshot=writes_snapshot,
        overload=overload,
        shed_flush_every=o.flush_every_ms / 1000,
        gate=TrendingGate(min_views=s.trending_min_views, min_chars=s.trending_min_chars),
        clock=clock,
    )
    helper = SelfHelp(
        runtime=runtime,
        outage=outage,
        client_of=client_of,
        limiter=limiter,
        on_helped=metrics.count_helped,
        shed=ShedPages(prerender_top=o.prerender_top, static_top=o.static_top),
        in_flight=overload.in_flight,
        languages=page_languages(settings),
        callbacks_enabled=callbacks_enabled,  # the pages offer the callback form
    )
    brand, helper.logo = brand_of(settings)
    helper.brand = brand
    css = styles(environment(templates_dir(settings)), brand)
    helper.page_headers = page_headers(csp(css, img=_image_sources(brand)))
    overload.listen(helper.set_stage)

    async def prerender_pages() -> None:
        await prerender(helper)

    runtime.add_job("prerender", PRERENDER_EVERY, prerender_pages)
    return helper


@dataclass(frozen=True, slots=True)
class SelfHelpFacts:
    """Self-help as the status shows it (failover/status.py `SelfHelpFacts`)."""

    helper: SelfHelp

    def cache(self) -> dict[str, Any]:
        service = self.helper.service
        return {
            "redis_breaker_open": service.redis_dep.open,
            "origin_breaker_open": service.origin_dep.open,
            "bulletins_known": len(service.known()),
            "l1_entries": service.l1_size,
            "snapshot_error": self.helper.runtime.snapshot_error,
        }

    @property
    def overload(self) -> OverloadMonitor | None:
        return self.helper.runtime.overload


def brand_of(settings: Settings) -> tuple[Brand, Logo | None]:
    """The pages' `Brand` from `[branding]` (checked by the settings), and the logo file's
    bytes when the logo is a file (read once, here: a missing file fails the start)."""
    b = settings.branding
    logo = None
    src = b.logo_url or ""
    if b.logo_file is not None:
        path = resolve(b.logo_file, settings.source)
        logo = read_logo(path, LOGO_TYPES[path.suffix.lower()])
        src = LOGO_ROUTE
    links = tuple(
        FooterLink(kind=kind, url=url, label=getattr(b, f"{kind}_label") or "")
        for kind in FOOTER_LINKS
        if (url := getattr(b, f"{kind}_url")) is not None
    )
    brand = Brand(
        name=b.company_name, logo_src=src, logo_width=b.logo_width, logo_height=b.logo_height,
        accent=b.accent or "", accent_dark=b.accent_dark or "", links=links, message=b.message,
    )  # fmt: skip
    return brand, logo


def _image_sources(brand: Brand) -> tuple[str, ...]:
    """Where the logo may come from (the CSP's img-src): this site, or the URL's origin."""
    if not brand.logo_src:
        return ()
    if brand.logo_src.startswith("/"):
        return ("'self'",)
    scheme, _, rest = brand.logo_src.partition("://")
    return (f"{scheme}://{rest.split('/', 1)[0]}",)


def page_languages(settings: Settings) -> Languages:
    """The customer pages' languages (cache/languages.py), writing times in the
    configured zone (`[languages] timezone`), from the operator's templates first
    (`[branding] templates_dir`), the built-in ones after (cache/pages.py)."""
    return Languages.load(templates_loader(templates_dir(settings)), zone=settings.languages.zone())


def templates_dir(settings: Settings) -> Path | None:
    folder = settings.branding.templates_dir
    return None if folder is None else resolve(folder, settings.source)
