"""Mounting the self-help app (cache/web.py `new_app`) in the main app at /help, with the
main app's handle on it (`SELF_HELP_APP`).

aiohttp's `add_subapp` puts one resource in the main router, at the prefix: the main
router's walk over a path's parts, longest first (web_urldispatcher.py
`UrlDispatcher.resolve`), reaches it last, and it then walks the path again in the
sub-app's router. On the hot path (`/help/bulletins/<id>`, issue 18) that is two more
dictionary lookups and two more coroutines per request than one flat router; and every
path under the prefix that the sub-app does not know ends there as its 404, forgetting
what the main app's own routes there allow (the callback routes stay the main app's, so
`POST /help/callbacks/new` would turn from a 405, Allow: GET, HEAD, into a 404).

So the mount is aiohttp's own `PrefixedSubAppResource` (the sub-app's signals, its
routes in `app.router.routes()`, its freezing), plus a `_Door` in the main router's index
at each place where the sub-app's router indexes its resources ("/help/search",
"/help/bulletins", ...): the main router's one walk finds the sub-app's resources where
a flat router would have, and a resource that does not match lets the walk go on, with
the methods it allows, as a route of the main app's does. A match is the sub-app's: it
is in `match_info.apps`, `request.app` is the sub-app for its handlers, and the main
app's response-prepare hooks (the security headers) still run, as aiohttp runs those of
every app there. The main app is never mounted in another (the doors keep their paths).

Any other GET or HEAD under the prefix, which no route of either app knows, is the
sub-app's (its route named `UNKNOWN`: `/help/` redirected, else its branded not-found
page, in the customer's language); a path a route knows with other methods stays a 405,
and any other method on an unknown path a 404 (`SelfHelpMount`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import (
    AbstractResource,
    AbstractRoute,
    PrefixedSubAppResource,
    _InfoDict,
    _Resolve,
)
from yarl import URL

from cache.site import SELF_HELP_APP
from cache.web import UNKNOWN

_UNKNOWN_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD})


class _Door(AbstractResource):
    """The sub-app's resources indexed at `key`, in the main router's index: resolved as
    the main router does its own at one part of the path, in one coroutine (the hot
    path's only one more than a flat router's)."""

    def __init__(self, key: str, app: web.Application, resources: list[AbstractResource]):
        super().__init__()
        self._key, self._app, self._resources = key, app, resources

    @property
    def canonical(self) -> str:
        return self._key

    async def resolve(self, request: web.Request) -> _Resolve:
        allowed: set[str] = set()
        for candidate in self._resources:
            found, methods = await candidate.resolve(request)
            if found is not None:
                found.add_app(self._app)
                return found, methods
            allowed |= methods
        return None, allowed

    def url_for(self, **kwargs: str) -> URL:
        raise RuntimeError("a door into the self-help app has no URL of its own")

    def add_prefix(self, prefix: str) -> None:
        raise RuntimeError("the main app is not mounted in another")

    def get_info(self) -> _InfoDict:
        return {"app": self._app, "prefix": self._key}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0  # its routes are listed once, by the mount

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())


class SelfHelpMount(PrefixedSubAppResource):
    """aiohttp's sub-app resource, at the prefix itself: resolves as the door there
    would (the landing page, "/help"), and last, for a GET or HEAD of a path that no
    route of either app knows, the sub-app's route named `UNKNOWN` (its not-found page).

    The main router's walk reaches the prefix after every longer part of the path, and
    a resource that matches wins the walk, even where a longer one knew the path with
    other methods (which makes the router's 405). So the unknown route is tried only
    once the main router's resources at the longer parts of the path are asked again
    and none knows it: that costs something only on the way to a 404 or a 405."""

    def __init__(self, prefix: str, app: web.Application, router: web.UrlDispatcher) -> None:
        super().__init__(prefix, app)
        # Made once, at mount, like the doors at the other keys (the routes are all added).
        here = app.router._resource_index.get(prefix, [])
        self._door = _Door(prefix, app, [r for r in here if r.name != UNKNOWN])
        self._unknown = _Door(prefix, app, [r for r in here if r.name == UNKNOWN])
        self._at, self._index = prefix, router._resource_index

    async def resolve(self, request: web.Request) -> _Resolve:
        found, allowed = await self._door.resolve(request)
        if found is not None or allowed or request.method not in _UNKNOWN_METHODS:
            return found, allowed
        if await self._known_deeper(request):
            return None, set()  # the router answers 405 with what the others allow
        return await self._unknown.resolve(request)

    async def _known_deeper(self, request: web.Request) -> bool:
        """Whether a resource at a longer part of the path (as the main router's walk
        tried them) matches it with other methods."""
        part = request.rel_url.path_safe
        while len(part) > len(self._at):
            for candidate in self._index.get(part, ()):
                if (await candidate.resolve(request))[1]:
                    return True
            part = part.rpartition("/")[0]
        return False


def mount(app: web.Application, prefix: str, selfhelp: web.Application) -> None:
    """Mount `selfhelp` (its routes all added) at `prefix`, and keep the main app's
    handle on it. aiohttp has no public way to mount a sub-app through a resource class
    of one's own; `_add_subapp` is what `add_subapp` calls with its own."""
    prefix = prefix.rstrip("/")
    app._add_subapp(partial(SelfHelpMount, prefix, selfhelp, app.router), selfhelp)
    # The sub-app's index, its keys prefixed now (its router is frozen: no more routes).
    for key, resources in selfhelp.router._resource_index.items():
        if key != prefix:
            app.router.index_resource(_Door(key, selfhelp, resources))
    app[SELF_HELP_APP] = selfhelp
