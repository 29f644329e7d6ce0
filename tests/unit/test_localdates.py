"""Discourse's local dates read as dates on a page that runs no script (issue 19).

Samples are shaped as discourse/discourse plugins/discourse-local-dates cooks them
(lib/discourse-markdown/discourse-local-dates.js, spec/integration/local_dates_spec.rb):
the span's text is the moment in UTC in the author's format, ISO 8601 by default.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.cooked import plain
from cache.localdates import LocalDate, english, parse, render


def _span(text: str, **attrs: str) -> str:
    cooked = " ".join(f'data-{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<span class="discourse-local-date" {cooked}>{text}</span>'


@pytest.mark.parametrize(
    ("attrs", "fallback", "expected"),
    [
        # [date=2026-12-05 time=05:32 timezone="Europe/Paris"]: shown in the author's zone
        ({"data-date": "2026-12-05", "data-time": "05:32:00", "data-timezone": "Europe/Paris"},
         "2026-12-05T04:32:00Z", "5 Dec 2026, 05:32 CET"),
        ({"data-date": "2026-07-05", "data-time": "05:32", "data-timezone": "Europe/Paris"},
         "2026-07-05T03:32:00Z", "5 Jul 2026, 05:32 CEST"),
        # no zone: the plugin's default, UTC
        ({"data-date": "2018-11-01", "data-time": "12:00"}, "2018-11-01T12:00:00Z",
         "1 Nov 2018, 12:00 UTC"),
        # an all-day date
        ({"data-date": "2022-01-06", "data-range": "from"}, "2022-01-06T00:00:00Z", "6 Jan 2022"),
        # the author asked everyone to see another zone
        ({"data-date": "2019-10-16", "data-time": "14:00:00", "data-timezone": "America/New_York",
          "data-displayed-timezone": "Asia/Kolkata", "data-format": "LLLL"},
         "Wednesday, October 16, 2019 6:00 PM", "16 Oct 2019, 23:30 IST"),
        # a zone without a letter abbreviation
        ({"data-date": "2026-03-01", "data-time": "09:00", "data-timezone": "America/Sao_Paulo"},
         "2026-03-01T12:00:00Z", "1 Mar 2026, 09:00 UTC-03"),
        # crossing midnight into the displayed zone's next day
        ({"data-date": "2026-12-31", "data-time": "23:30", "data-timezone": "UTC",
          "data-displayed-timezone": "Pacific/Auckland"}, "x", "1 Jan 2027, 12:30 NZDT"),
        # malformed or hostile: the element's own text
        ({"data-date": "2026-02-30", "data-time": "10:00"}, "fallback", "fallback"),
        ({"data-date": "tomorrow"}, "fallback", "fallback"),
        ({"data-date": "2026-12-05", "data-time": "25:00"}, "fallback", "fallback"),
        ({"data-date": "2026-12-05", "data-time": "noon"}, "fallback", "fallback"),
        ({"data-date": "2026-12-05", "data-timezone": "Mars/Olympus_Mons"}, "fb", "fb"),
        ({"data-date": "2026-12-05", "data-timezone": "../../../etc/passwd"}, "fb", "fb"),
        ({"data-date": "2026-12-05", "data-timezone": "/etc/localtime"}, "fb", "fb"),
        ({"data-date": "2026-12-05", "data-timezone": "Europe/" + "P" * 5000}, "fb", "fb"),
        ({"data-date": "9999-12-31", "data-time": "23:59", "data-timezone": "Etc/GMT+12",
          "data-displayed-timezone": "Pacific/Kiritimati"}, "fb", "fb"),  # past year 9999
        ({}, "fb", "fb"),
        ({"data-date": None}, "fb", "fb"),
        # an unknown displayed zone is ignored: the author's zone is shown
        ({"data-date": "2026-12-05", "data-time": "05:32", "data-timezone": "Europe/Paris",
          "data-displayed-timezone": "Nowhere/Land"}, "fb", "5 Dec 2026, 05:32 CET"),
    ],
)  # fmt: skip
def test_a_local_date_renders_with_its_zone_or_falls_back_to_its_text(
    attrs: dict[str, str | None], fallback: str, expected: str
) -> None:
    assert render(attrs, fallback) == expected


def test_a_range_is_two_dates_around_the_arrow_discourse_cooks() -> None:
    cooked = (
        "<p>Works "
        + _span("2022-01-06T02:00:00Z", date="2022-01-06", time="13:00", range="from",
                timezone="Australia/Sydney")
        + "→"
        + _span("2022-01-08T02:00:00Z", date="2022-01-08", time="17:00", range="to",
                timezone="Australia/Sydney")
        + "</p>"
    )  # fmt: skip
    assert plain(cooked) == "<p>Works 6 Jan 2022, 13:00 AEDT→8 Jan 2022, 17:00 AEDT</p>"


def test_the_text_inside_is_escaped_and_unclosed_spans_still_end() -> None:
    hostile = '<span class="discourse-local-date" data-date="x">&lt;script&gt;</span>'
    assert plain(hostile) == "&lt;script&gt;"
    assert plain('<p><span class="discourse-local-date" data-date="2026-01-02">x') == (
        "<p>2 Jan 2026"
    )


def test_the_formatter_is_a_parameter_so_another_language_can_render_it() -> None:
    def french(value: LocalDate) -> str:
        return f"{value.day:%d/%m/%Y} ({value.zone})"

    attrs = {"data-date": "2026-12-05", "data-time": "05:32", "data-timezone": "Europe/Paris"}
    assert render(attrs, "fb", french) == "05/12/2026 (Europe/Paris)"
    assert plain(_span("fb", date="2026-12-05"), lambda a, f: render(a, f, french)) == (
        "05/12/2026 (UTC)"
    )


_ATTR = st.sampled_from(
    ["data-date", "data-time", "data-timezone", "data-displayed-timezone", "data-range"]
)
_VALUE = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(["2026-12-05", "0001-01-01", "9999-12-31", "23:59:59", "00:00", "UTC",
                     "Etc/GMT-14", "Etc/GMT+12", "Europe/Paris", "../x", "Pacific/Kiritimati"]),
)  # fmt: skip


@given(st.dictionaries(_ATTR, _VALUE), st.text(max_size=20))
def test_any_attributes_render_as_text_without_raising(
    attrs: dict[str, str | None], fallback: str
) -> None:
    out = render(attrs, fallback)
    assert isinstance(out, str)
    if parse(attrs) is None:
        assert out == fallback
    else:
        assert out == english(parse(attrs))  # type: ignore[arg-type]
