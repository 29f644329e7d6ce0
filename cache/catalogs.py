"""Catalog maintenance (issue 19; docs/pages.md): extract the customer-facing messages
(babel.cfg: the page templates and the Python that writes customer messages) and bring
every `cache/locale/<lang>/LC_MESSAGES/messages.po` up to date, or start a new one.

    python -m cache.catalogs            # what `make i18n` runs
    python -m cache.catalogs --init it  # a new language; then translate its .po

Entries are written sorted and without source locations, so that a template edit
elsewhere does not touch every catalog. New messages arrive untranslated and are never
guessed from similar ones (no fuzzy matching): the catalog test fails until a
translator fills them in. Not used at run time (cache/languages.py compiles the .po).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from cache.languages import DEFAULT, DOMAIN, LOCALE_DIR, shipped

ROOT: Final = Path(__file__).resolve().parent.parent
CONFIG: Final = ROOT / "babel.cfg"
PROJECT: Final = "switchboard"


def extract(root: Path = ROOT, config: Path = CONFIG) -> Catalog:
    """Every message babel.cfg points at, as a template catalog."""
    with config.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename=str(config))  # type: ignore[no-untyped-call]
    template = Catalog(project=PROJECT, domain=DOMAIN, fuzzy=False)
    for _file, lineno, message, comments, context in extract_from_dir(
        root, method_map, options_map, comment_tags=("Translators:",), strip_comment_tags=True
    ):
        template.add(message, None, [], auto_comments=comments, context=context)
        del lineno
    return template


def po_path(lang: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    with po_path(lang, locale_dir).open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, no_location=True, sort_output=True, ignore_obsolete=True)


def update(locale_dir: Path = LOCALE_DIR, init: str | None = None) -> list[str]:
    """Brings every catalog (and `init`'s, new) in line with the sources; returns the
    languages written."""
    template = extract()
    langs = [lang for lang in shipped(locale_dir) if lang != DEFAULT]
    if init is not None and init not in langs:
        new = Catalog(locale=init, project=PROJECT, domain=DOMAIN, fuzzy=False)
        write(new, po_path(init, locale_dir))
        langs.append(init)
    for lang in langs:
        catalog = read(lang, locale_dir)
        before, created = _entries(catalog), catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        if _entries(catalog) == before:  # nothing new: no date churn in the diff
            catalog.creation_date = created
        write(catalog, po_path(lang, locale_dir))
    return langs


def _entries(catalog: Catalog) -> set[tuple[object, object]]:
    return {(m.id, m.string) for m in catalog if m.id}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cache.catalogs", description=__doc__)
    parser.add_argument("--init", metavar="LANG", help="start a catalog for a new language")
    args = parser.parse_args(argv)
    for lang in update(init=args.init):
        print(f"updated {po_path(lang).relative_to(ROOT)}")  # noqa: T201 - a maintainer's tool
    return 0


if __name__ == "__main__":
    sys.exit(main())
