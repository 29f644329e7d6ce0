"""The self-help redirect target: same-site, relative, topic kept, bounded."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from failover.web import MAX_TOPIC_CHARS, MAX_TOPIC_WORDS, self_help_location, topic_words


def test_topic_words_come_from_the_path_segments_and_separators() -> None:
    assert topic_words("/router/wifi-keeps_dropping") == ["router", "wifi", "keeps", "dropping"]
    assert topic_words("/Modem/Firmware%20Update.html") == ["modem", "firmware", "update", "html"]


def test_location_keeps_the_topic_as_a_search() -> None:
    assert self_help_location("/router/setup") == "/help/search?q=router+setup"


def test_no_topic_lands_on_the_help_home() -> None:
    assert self_help_location("") == "/help"
    assert self_help_location("/--/") == "/help"


def test_degraded_offer_carries_the_original_page_to_continue_to() -> None:
    location = self_help_location("/account/password-reset", offer_continue=True)
    query = parse_qs(urlsplit(location).query)
    assert query["continue"] == ["/support/account/password-reset"]


@given(st.text(max_size=400))
def test_any_path_gives_a_same_site_relative_bounded_target(tail: str) -> None:
    location = self_help_location(tail, offer_continue=True)
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("", "")
    assert location.startswith("/help")
    assert not location.startswith("//")
    words = topic_words(tail)
    assert len(words) <= MAX_TOPIC_WORDS
    assert len(" ".join(words)) <= MAX_TOPIC_CHARS
    continue_to = parse_qs(parts.query).get("continue", ["/support/"])[0]
    assert continue_to.startswith("/support/")
