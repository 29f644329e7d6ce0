"""What the customer pages carry of the company (issue 19): the brand, the templates, the
logo served from a file.

- `Brand`: the company's name, logo, accent colours and footer links, as the templates
  use them (built from `[branding]` by switchboard/selfhelp_wiring.py; checked there).
- `environment`: the Jinja2 environment. Templates are looked up in the operator's folder
  first and in the built-in ones after (a `ChoiceLoader`), so an operator overrides one
  template by name without forking the others. The i18n extension is on with null
  translations: every customer string is written `{{ _("...") }}`, ready for a catalogue.
- `logo`: `GET /help/logo`, the logo file's bytes read once at start, with a fixed safe
  content type (from the file name, never sniffed), an ETag and a day of caching; an SVG
  is sandboxed (its scripts never run, even opened on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from cache.conditional import etag_of, not_modified
from kernel.security_headers import csp, page_headers

TEMPLATES: Final = Path(__file__).parent / "templates"
LOGO_ROUTE: Final = "/help/logo"
LOGO_CACHE: Final = "public, max-age=86400"
SVG_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True, slots=True, kw_only=True)
class FooterLink:
    kind: str  # status | privacy | contact: the built-in label when `label` is empty
    url: str
    label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Logo:
    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Brand:
    name: str = ""
    logo_src: str = ""  # a URL, or LOGO_ROUTE when the logo is a file
    logo_width: int = 120
    logo_height: int = 32
    accent: str = ""  # #rrggbb, or "" for the built-in colours
    accent_dark: str = ""
    links: tuple[FooterLink, ...] = ()
    message: str = ""  # the outage banner's line from the config (the admin API's wins)
    logo: Logo | None = None  # when the logo is a file

    @property
    def header(self) -> bool:
        return bool(self.name or self.logo_src)


def read_logo(path: Path, content_type: str) -> Logo:
    body = path.read_bytes()
    return Logo(body=body, content_type=content_type, etag=etag_of(body))


def templates_loader(templates_dir: Path | None = None) -> jinja2.BaseLoader:
    """The operator's templates first, the built-in ones after."""
    builtin = jinja2.FileSystemLoader(TEMPLATES)
    if templates_dir is None:
        return builtin
    return jinja2.ChoiceLoader([jinja2.FileSystemLoader(templates_dir), builtin])


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """An Environment with null translations, for what needs no language: the stylesheet
    whose hash goes into the CSP (each language's own: cache/languages.py)."""
    env = jinja2.Environment(
        loader=templates_loader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def styles(env: jinja2.Environment, brand: Brand) -> list[str]:
    """The pages' CSS as base.html includes it in its one <style> element, what the CSP
    hashes are computed from (kernel/security_headers.py): the pages', and the form
    pages' (with `forms` set: the callback pages' rules, left out of the others to keep
    the hot bulletin page small)."""
    template = env.get_template("_style.css")
    return [template.render(brand=brand), template.render(brand=brand, forms=True)]


async def logo(request: web.Request) -> web.Response:
    from cache.web import SELF_HELP  # noqa: PLC0415 - cache.web imports this module

    found = request.app[SELF_HELP].logo
    if found is None:
        raise web.HTTPNotFound(text="No logo here.\n")
    headers = {"ETag": found.etag, "Cache-Control": LOGO_CACHE, "X-Content-Type-Options": "nosniff"}
    if found.content_type == "image/svg+xml":
        headers["Content-Security-Policy"] = SVG_POLICY
    if not_modified(request.headers.get("If-None-Match"), found.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers=headers, content_type=found.content_type)


# The pages' security headers with the built-in brand (kernel/security_headers.py); with
# a `[branding]` (colours, a logo, templates of the operator's), the app's own, built at
# start (switchboard/selfhelp_wiring.py).
PAGE_HEADERS: Final = page_headers(csp(styles(environment(), Brand())))
