"""Parsing a Discourse topic (/t/{id}.json) into a bulletin: samples, tolerance, shape errors."""

from __future__ import annotations

import copy
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cache.discourse import ShapeError
from cache.origin import (
    EXCERPT_CHARS,
    parse_topic,
)
from tests.support.discourse_samples import CATEGORIES, sample, utc

# --- /t/{id}.json ----------------------------------------------------------------------------


def test_topic_sample_becomes_a_bulletin() -> None:
    doc = sample("topic.json")
    bulletin = parse_topic(doc, CATEGORIES)
    assert bulletin.id == 4127
    assert bulletin.title == "Router keeps dropping Wi-Fi every evening — fixed by changing channel"
    assert bulletin.slug == "router-keeps-dropping-wi-fi-every-evening-fixed-by-changing-channel"
    assert (bulletin.author, bulletin.author_name) == ("routerwhisperer", "Dave Hughes")
    assert bulletin.category == "Internet & Wi-Fi"
    assert bulletin.tags == ("wifi", "router")
    assert bulletin.body_html == doc["post_stream"]["posts"][0]["cooked"]
    assert bulletin.created_at == utc("2025-06-11T19:42:03.551000")
    assert bulletin.updated_at == utc("2025-06-12T08:03:51.044000")
    assert (bulletin.origin_views, bulletin.like_count) == (1312, 48)


def test_topic_excerpt_is_plain_text_of_the_body_cut_at_a_word() -> None:
    excerpt = parse_topic(sample("topic.json"), CATEGORIES).excerpt
    assert excerpt.startswith("Posting this in case it saves someone else a weekend. Our router")
    assert "<" not in excerpt
    assert excerpt.endswith("…")
    assert len(excerpt) <= EXCERPT_CHARS + 1


def test_topic_author_name_falls_back_to_the_username_when_the_member_set_none() -> None:
    doc = sample("topic.json")
    doc["post_stream"]["posts"][0]["name"] = None
    doc["details"]["created_by"]["name"] = ""
    bulletin = parse_topic(doc, CATEGORIES)
    assert (bulletin.author, bulletin.author_name) == ("routerwhisperer", "routerwhisperer")


def test_topic_author_comes_from_details_created_by_when_the_post_lacks_it() -> None:
    doc = sample("topic.json")
    del doc["post_stream"]["posts"][0]["username"]
    del doc["post_stream"]["posts"][0]["name"]
    bulletin = parse_topic(doc, CATEGORIES)
    assert (bulletin.author, bulletin.author_name) == ("routerwhisperer", "Dave Hughes")


def test_topic_body_is_the_first_post_even_when_the_stream_starts_later() -> None:
    doc = sample("topic.json")
    posts = doc["post_stream"]["posts"]
    posts.reverse()
    bulletin = parse_topic(doc, CATEGORIES)
    assert bulletin.author == "routerwhisperer"
    assert bulletin.body_html == posts[1]["cooked"]


@pytest.mark.parametrize("category_id", [99, None, "5"])
def test_topic_in_an_unknown_or_missing_category_is_uncategorized(category_id: object) -> None:
    doc = sample("topic.json")
    doc["category_id"] = category_id
    assert parse_topic(doc, CATEGORIES).category == "Uncategorized"


def test_topic_tolerates_missing_optional_fields() -> None:
    doc = sample("topic.json")
    for key in ("slug", "tags", "views", "like_count", "created_at", "details"):
        del doc[key]
    del doc["post_stream"]["posts"][0]["updated_at"]
    bulletin = parse_topic(doc, CATEGORIES)
    assert bulletin.slug == doc["post_stream"]["posts"][0]["topic_slug"]
    assert (bulletin.tags, bulletin.origin_views, bulletin.like_count) == ((), 0, 0)
    # Without the topic's own time, the first post's creation time stands in for both.
    assert bulletin.created_at == bulletin.updated_at == utc("2025-06-11T19:42:03.718000")


def test_naive_timestamps_are_read_as_utc() -> None:
    doc = sample("topic.json")
    doc["created_at"] = "2025-06-11T19:42:03"
    assert parse_topic(doc, CATEGORIES).created_at == utc("2025-06-11T19:42:03")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("post_stream"), r"missing field topic\.post_stream"),
        (lambda d: d["post_stream"].update(posts=[]), r"topic\.post_stream\.posts\[0\]"),
        (
            lambda d: d["post_stream"]["posts"][0].pop("cooked"),
            r"missing field topic\.post_stream\.posts\[0\]\.cooked",
        ),
        (lambda d: d["post_stream"]["posts"][0].update(cooked=7), r"cooked: expected a string"),
        (lambda d: d.pop("title"), r"missing field topic\.title"),
        (lambda d: d.pop("id"), r"missing field topic\.id"),
        (
            lambda d: (d["post_stream"]["posts"][0].pop("username"), d.pop("details")),
            r"missing field topic\.post_stream\.posts\[0\]\.username",
        ),
        (
            lambda d: (d.pop("created_at"), d["post_stream"]["posts"][0].pop("created_at")),
            r"missing field topic\.post_stream\.posts\[0\]\.created_at",
        ),
    ],
)
def test_topic_of_the_wrong_shape_names_the_field(mutate: Any, message: str) -> None:
    doc = sample("topic.json")
    mutate(doc)
    with pytest.raises(ShapeError, match=message):
        parse_topic(doc, CATEGORIES)


def test_parsing_leaves_the_document_untouched() -> None:
    doc = sample("topic.json")
    before = copy.deepcopy(doc)
    parse_topic(doc, CATEGORIES)
    assert doc == before


@pytest.mark.parametrize("topic_id", [0, -7, 2**31, 2**63])
def test_a_topic_id_no_page_can_have_is_refused(topic_id: int) -> None:
    doc = sample("topic.json")
    doc["id"] = topic_id
    with pytest.raises(ShapeError, match=r"topic\.id: an id is within 1\.\.2147483647"):
        parse_topic(doc, CATEGORIES)


def test_the_largest_id_a_page_can_have_is_read() -> None:
    doc = sample("topic.json")
    doc["id"] = 2**31 - 1
    assert parse_topic(doc, CATEGORIES).id == 2**31 - 1


@pytest.mark.parametrize(
    "created_at",
    [
        "9999-12-31T23:59:59-12:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T12:00:00+00:00",  # at +14:00 it is past year 9999
        "1800-01-01T00:00:00Z",
    ],
)
def test_a_time_that_cannot_be_shown_in_every_zone_is_refused(created_at: str) -> None:
    doc = sample("topic.json")
    doc["created_at"] = created_at
    with pytest.raises(ShapeError, match=r"topic\.created_at: out of range \(years 1900\.\.9998"):
        parse_topic(doc, CATEGORIES)


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Pacific/Kiritimati"])
@pytest.mark.parametrize("created_at", ["9998-12-31T23:59:59+00:00", "1900-01-01T00:00:00Z"])
def test_the_edge_years_are_read_and_shown_in_the_farthest_zones(
    created_at: str, zone: str
) -> None:
    doc = sample("topic.json")
    doc["created_at"] = created_at
    created = parse_topic(doc, CATEGORIES).created_at
    assert created.astimezone(ZoneInfo(zone)).year in {1899, 1900, 9998, 9999}
