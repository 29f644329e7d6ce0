"""The shipped message catalogs are complete and current (issue 19): every message the
templates and Python mark (extracted with Babel's API from babel.cfg, as `make i18n`
does) is in every catalog, translated, not fuzzy, with the same placeholders; and the
page's text direction comes from CLDR."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog, Message

from cache.catalogs import extract, po_path, read, update, write
from cache.languages import DEFAULT, Languages, load_translations, shipped, text_direction
from kernel.messages import Message as Text
from kernel.messages import translate

LANGUAGES = [lang for lang in shipped() if lang != DEFAULT]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def _ids(message: Message) -> tuple[str, ...]:
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    return tuple(str(i) for i in ids)


def _strings(message: Message) -> tuple[str, ...]:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return tuple(str(s or "") for s in strings)


def test_at_least_three_languages_besides_english_are_shipped() -> None:
    assert {"fr", "es", "de"} <= set(LANGUAGES)
    assert shipped()[0] == DEFAULT


def test_extraction_finds_the_customer_messages(template: Catalog) -> None:
    ids = {_ids(m)[0] for m in template if m.id}
    assert "Did this help?" in ids  # a template
    assert "required" in ids  # the form's validation (failover/callbacks/request.py)
    assert "at most %(limit)d characters" in ids  # a message with values
    assert "This form has expired. Please reload the page and submit again." in ids
    assert len(ids) > 80


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_has_every_extracted_message_and_no_stale_ones(
    lang: str, template: Catalog
) -> None:
    catalog = read(lang)
    wanted = {_ids(m) for m in template if m.id}
    have = {_ids(m) for m in catalog if m.id}
    assert not wanted - have, f"{po_path(lang)}: missing, run `make i18n` and translate"
    assert not have - wanted, f"{po_path(lang)}: no longer used, run `make i18n`"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_translated_completely_without_fuzzy_entries(lang: str) -> None:
    catalog = read(lang)
    assert not catalog.fuzzy
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{lang}: fuzzy: {message.id!r}"
        strings = _strings(message)
        assert all(s.strip() for s in strings), f"{lang}: untranslated: {message.id!r}"
        if isinstance(message.id, tuple):
            assert len(strings) == catalog.num_plurals, f"{lang}: plural forms: {message.id!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders_and_markup(lang: str) -> None:
    catalog = read(lang)
    assert not list(catalog.check()), f"{lang}: Babel's checks failed"
    for message in catalog:
        if not message.id:
            continue
        source = _ids(message)[-1]
        for text in _strings(message):
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (
                f"{lang}: placeholders differ: {message.id!r} -> {text!r}"
            )
            assert TAG.findall(text) == TAG.findall(source), f"{lang}: markup: {text!r}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_translates(lang: str) -> None:
    gettext = load_translations(lang).gettext
    assert gettext("Did this help?") != "Did this help?"
    limit = translate(Text("at most %(limit)d characters", limit=100), gettext)
    assert "100" in limit
    assert limit != "at most 100 characters"


def test_a_message_with_values_reads_as_english_for_json_clients() -> None:
    text = Text("at most %(limit)d characters", limit=40)
    assert text == "at most 40 characters"
    assert (text.msgid, text.values) == ("at most %(limit)d characters", {"limit": 40})
    assert translate("required", lambda s: s.upper()) == "REQUIRED"


@pytest.mark.parametrize(
    ("lang", "direction"), [("en", "ltr"), ("fr", "ltr"), ("ar", "rtl"), ("he", "rtl")]
)
def test_text_direction_comes_from_cldr(lang: str, direction: str) -> None:
    assert text_direction(lang) == direction


def test_a_right_to_left_language_gets_dir_rtl_on_the_page(tmp_path: Path) -> None:
    """Shipping a language is adding its .po: an Arabic catalog (empty here) makes pages
    with lang="ar" dir="rtl", and a switcher entry named in Arabic."""
    (tmp_path / "ar" / "LC_MESSAGES").mkdir(parents=True)
    po_path("ar", tmp_path).write_text('msgid ""\nmsgstr ""\n"Language: ar\\n"\n', encoding="utf-8")
    loader = jinja2.DictLoader(
        {"page.html": '<html lang="{{ lang }}" dir="{{ dir }}">{% include "_languages.html" %}'}
    )
    templates = Path(__file__).parents[2] / "cache" / "templates"
    languages = Languages.load(
        jinja2.ChoiceLoader([loader, jinja2.FileSystemLoader(templates)]), locale_dir=tmp_path
    )
    assert list(languages) == ["en", "ar"]
    html = languages["ar"].env.get_template("page.html").render(here="")
    assert html.startswith('<html lang="ar" dir="rtl">')
    assert 'href="?lang=en" lang="en">English</a>' in html
    assert '<span aria-current="page">العربية</span>' in html
    assert (
        languages["en"]
        .env.get_template("page.html")
        .render(here="")
        .startswith('<html lang="en" dir="ltr">')
    )


def test_make_i18n_starts_a_new_language_with_every_message_empty(
    tmp_path: Path, template: Catalog
) -> None:
    assert update(locale_dir=tmp_path, init="it") == ["it"]
    started = read("it", tmp_path)
    assert {_ids(m) for m in started if m.id} == {_ids(m) for m in template if m.id}
    assert not any(any(_strings(m)) for m in started if m.id)
    assert shipped(tmp_path) == ("en", "it")


def test_make_i18n_drops_what_the_sources_no_longer_say_and_keeps_translations(
    tmp_path: Path,
) -> None:
    update(locale_dir=tmp_path, init="de")
    catalog = read("de", tmp_path)
    catalog["Yes"].string = "Ja"
    catalog.add("A message nobody writes any more", "Weg damit")
    write(catalog, po_path("de", tmp_path))
    written = po_path("de", tmp_path).read_bytes()
    update(locale_dir=tmp_path)
    again = read("de", tmp_path)
    assert again["Yes"].string == "Ja"
    assert again.get("A message nobody writes any more") is None
    update(locale_dir=tmp_path)
    assert po_path("de", tmp_path).read_bytes() != written  # the stale entry went
    before = po_path("de", tmp_path).read_bytes()
    update(locale_dir=tmp_path)
    assert po_path("de", tmp_path).read_bytes() == before  # nothing new: no churn


def test_the_catalogs_go_with_an_install_as_the_templates_do() -> None:
    """Else an installed front door (the container image) would serve English only."""
    root = Path(__file__).parents[2]
    with (root / "pyproject.toml").open("rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["cache"]
    packaged = {p for pattern in patterns for p in (root / "cache").glob(pattern)}
    for lang in LANGUAGES:
        assert po_path(lang).resolve() in {p.resolve() for p in packaged}, lang
