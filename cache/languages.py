"""Customer pages in several languages (issue 19): the message catalogs, and one jinja2
Environment per language, built once at start-up.

Catalogs are `cache/locale/<lang>/LC_MESSAGES/messages.po` (gettext, maintained with
Babel: `make i18n`, docs/pages.md). They are compiled in memory when the app starts,
so no generated binary is committed; a language is shipped by adding its `.po`. The
source language, English, needs none. Each Environment has jinja2's i18n extension
with that language's translations installed ("newstyle" gettext: `{{ _("...") }}`
autoescapes and formats with `%(name)s`), plus what every page needs to say where it
is: `lang`, `dir` (from CLDR, `Locale.text_direction`), the language switcher's
entries, and the time formatting of `cache.when`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, Final

import jinja2
from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from cache.when import Clockface
from kernel.messages import N_

__all__ = ["DEFAULT", "N_", "Language", "Languages", "load_translations", "shipped"]

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DEFAULT: Final = "en"  # the source language of the templates and messages
DOMAIN: Final = "messages"


def text_direction(lang: str) -> str:
    """ "ltr" or "rtl", for `<html dir>` (CLDR character order)."""
    return Locale.parse(lang).text_direction


def own_name(lang: str) -> str:
    """The language's name in itself, capitalised for a link: "Français"."""
    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


def shipped(locale_dir: Path = LOCALE_DIR) -> tuple[str, ...]:
    """The default language, then every language with a catalog, in code order."""
    found = sorted(p.parent.parent.name for p in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT, *(lang for lang in found if lang != DEFAULT))


def load_translations(lang: str, locale_dir: Path = LOCALE_DIR) -> NullTranslations:
    """The language's catalog, compiled in memory; fuzzy entries are left out, as
    msgfmt does (a test keeps the shipped catalogs free of them)."""
    if lang == DEFAULT:
        return NullTranslations()
    path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str  # in itself, for the switcher
    dir: str
    env: jinja2.Environment
    translations: NullTranslations
    clock: Clockface

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)


def page_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The customer pages' Environment (autoescape on, undefined names are errors)."""
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )


class Languages(Mapping[str, Language]):
    """Every shipped language by code, each with its own Environment."""

    def __init__(self, by_code: dict[str, Language], default: str = DEFAULT) -> None:
        self._by_code = by_code
        self.default = default
        self.switcher: tuple[tuple[str, str], ...] = tuple(
            (lang.code, lang.name) for lang in by_code.values()
        )

    @classmethod
    def load(
        cls,
        loader: jinja2.BaseLoader,
        *,
        zone: tzinfo = UTC,
        locale_dir: Path = LOCALE_DIR,
    ) -> Languages:
        by_code: dict[str, Language] = {}
        for code in shipped(locale_dir):
            translations = load_translations(code, locale_dir)
            env = page_environment(loader)
            env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
            language = Language(
                code=code,
                name=own_name(code),
                dir=text_direction(code),
                env=env,
                translations=translations,
                clock=Clockface(Locale.parse(code), zone),
            )
            by_code[code] = language
        languages = cls(by_code)
        for language in by_code.values():
            language.env.globals.update(languages.page_globals(language))
        return languages

    def page_globals(self, language: Language) -> dict[str, Any]:
        clock = language.clock
        return {
            "lang": language.code,
            "dir": language.dir,
            "languages": self.switcher,
            "format_date": clock.date,
            "format_time": clock.time,
            "zone_name": clock.zone_name,
            "format_duration": clock.duration,
            "format_age": clock.age,
        }

    def __getitem__(self, code: str) -> Language:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)
