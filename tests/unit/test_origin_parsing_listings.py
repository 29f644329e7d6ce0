"""Parsing Discourse listings into values: /latest.json pages and /categories.json names."""

from __future__ import annotations

from typing import Any

import pytest

from cache.discourse import ShapeError
from cache.origin import (
    LatestPage,
    parse_categories,
    parse_latest,
)
from tests.support.discourse_samples import sample, utc

# --- /latest.json ----------------------------------------------------------------------------


def test_latest_sample_parses_topics_in_order_with_the_original_poster_as_author() -> None:
    page = parse_latest(sample("latest.json"))
    assert [t.id for t in page.topics] == [8, 4127, 4119]
    assert [t.author for t in page.topics] == ["system", "routerwhisperer", "grumpy_gran"]
    router = page.topics[1]
    assert router.title == "Router keeps dropping Wi-Fi every evening — fixed by changing channel"
    assert router.slug == "router-keeps-dropping-wi-fi-every-evening-fixed-by-changing-channel"
    assert router.created_at == utc("2025-06-11T19:42:03.551000")
    assert router.bumped_at == utc("2025-06-28T07:15:22.906000")
    assert (router.views, router.like_count, router.category_id) == (1312, 48, 5)
    assert router.tags == ("wifi", "router")


def test_latest_sample_with_more_topics_url_says_there_is_more() -> None:
    assert parse_latest(sample("latest.json")).more is True


def test_latest_without_more_topics_url_is_the_last_page() -> None:
    doc = sample("latest.json")
    del doc["topic_list"]["more_topics_url"]
    assert parse_latest(doc).more is False


def test_list_excerpt_is_plain_text_and_absent_when_the_site_sends_none() -> None:
    welcome, router, _ = parse_latest(sample("latest.json")).topics
    assert welcome.excerpt is not None
    assert welcome.excerpt.endswith("office hours & outages…")
    assert router.excerpt is None


def test_latest_topic_without_tags_has_no_tags() -> None:
    assert parse_latest(sample("latest.json")).topics[2].tags == ()


def test_latest_tolerates_missing_optional_fields() -> None:
    doc = sample("latest.json")
    del doc["users"]
    for topic in doc["topic_list"]["topics"]:
        for key in ("slug", "bumped_at", "views", "like_count", "category_id", "posters", "tags"):
            topic.pop(key, None)
    page = parse_latest(doc)
    router = page.topics[1]
    assert (router.slug, router.views, router.like_count, router.category_id) == ("", 0, 0, None)
    assert router.bumped_at == router.created_at
    assert router.author == ""
    assert router.tags == ()


def test_latest_author_falls_back_to_the_first_poster_without_descriptions() -> None:
    doc = sample("latest.json")
    for poster in doc["topic_list"]["topics"][1]["posters"]:
        poster["description"] = None
    assert parse_latest(doc).topics[1].author == "routerwhisperer"


def test_malformed_users_do_not_sink_the_page() -> None:
    doc = sample("latest.json")
    doc["users"].append({"id": "not-a-number"})
    doc["users"].append("garbage")
    assert parse_latest(doc).topics[1].author == "routerwhisperer"


def test_tags_sent_as_objects_are_read_by_name() -> None:
    doc = sample("latest.json")
    doc["topic_list"]["topics"][1]["tags"] = [
        {"id": 3, "name": "wifi", "slug": "wifi"},
        {"id": 9, "name": "router", "slug": "router"},
        17,
    ]
    assert parse_latest(doc).topics[1].tags == ("wifi", "router")


def test_empty_topic_list_is_an_empty_last_page() -> None:
    assert parse_latest({"topic_list": {"topics": []}}) == LatestPage(topics=(), more=False)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("topic_list"), r"missing field response\.topic_list"),
        (lambda d: d["topic_list"].pop("topics"), r"missing field topic_list\.topics"),
        (lambda d: d["topic_list"].update(topics={}), r"topic_list\.topics: expected a JSON array"),
        (lambda d: d["topic_list"]["topics"][1].pop("id"), r"topic_list\.topics\[1\]\.id"),
        (lambda d: d["topic_list"]["topics"][2].pop("title"), r"topic_list\.topics\[2\]\.title"),
        (
            lambda d: d["topic_list"]["topics"][0].update(id="8"),
            r"topics\[0\]\.id: expected an int",
        ),
        (
            lambda d: d["topic_list"]["topics"][0].update(id=True),
            r"topics\[0\]\.id: expected an int",
        ),
        (lambda d: d["topic_list"]["topics"][1].update(created_at="June"), r"not an ISO 8601"),
        (lambda d: d["topic_list"]["topics"][2].update(id=2**63), r"topics\[2\]\.id: an id is"),
        (lambda d: d["topic_list"]["topics"][0].update(id=0), r"topics\[0\]\.id: an id is"),
        (lambda d: d["topic_list"]["topics"].append([]), r"topics\[3\]: expected a JSON object"),
    ],
)
def test_latest_of_the_wrong_shape_names_the_field(mutate: Any, message: str) -> None:
    doc = sample("latest.json")
    mutate(doc)
    with pytest.raises(ShapeError, match=message):
        parse_latest(doc)


@pytest.mark.parametrize("doc", [None, [], "topic_list", 42])
def test_latest_that_is_not_an_object_is_a_shape_error(doc: object) -> None:
    with pytest.raises(ShapeError, match="response: expected a JSON object"):
        parse_latest(doc)


# --- /categories.json ------------------------------------------------------------------------


def test_categories_sample_maps_ids_to_names_including_subcategories() -> None:
    assert parse_categories(sample("categories.json")) == {
        1: "Uncategorized",
        5: "Internet & Wi-Fi",
        11: "Billing & Account",
        15: "Mesh & Extenders",
    }


def test_categories_without_subcategory_list_are_read_as_a_flat_list() -> None:
    doc = sample("categories.json")
    for category in doc["category_list"]["categories"]:
        category.pop("subcategory_list", None)
    assert sorted(parse_categories(doc)) == [1, 5, 11]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("category_list"), r"missing field response\.category_list"),
        (
            lambda d: d["category_list"]["categories"][1].pop("name"),
            r"missing field category_list\.categories\[1\]\.name",
        ),
        (
            lambda d: d["category_list"]["categories"][0]["subcategory_list"][0].pop("id"),
            r"category_list\.categories\[0\]\.subcategory_list\[0\]\.id",
        ),
    ],
)
def test_categories_of_the_wrong_shape_name_the_field(mutate: Any, message: str) -> None:
    doc = sample("categories.json")
    mutate(doc)
    with pytest.raises(ShapeError, match=message):
        parse_categories(doc)
