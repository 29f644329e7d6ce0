"""Parsing Discourse JSON into values: recorded samples, tolerance, named shape errors, text."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.discourse import ShapeError
from cache.origin import (
    EXCERPT_CHARS,
    LatestPage,
    excerpt_of,
    html_to_text,
    parse_categories,
    parse_latest,
    parse_topic,
)
from sims.community_text import HOSTILE

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "discourse"
CATEGORIES = {1: "Uncategorized", 5: "Internet & Wi-Fi", 11: "Billing & Account"}


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


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


def test_parsing_leaves_the_document_untouched() -> None:
    doc = sample("topic.json")
    before = copy.deepcopy(doc)
    parse_topic(doc, CATEGORIES)
    assert doc == before


# --- HTML to text ----------------------------------------------------------------------------


def test_text_keeps_visible_words_and_unescapes_entities() -> None:
    cooked = '<p>Use <code>192.168.1.1</code> &amp; <a href="https://x.example">this</a>.</p>'
    assert html_to_text(cooked) == "Use 192.168.1.1 & this."


def test_text_separates_blocks_and_list_items() -> None:
    assert html_to_text("<p>One</p><ul><li>two</li><li>three</li></ul>four<br>five") == (
        "One two three four five"
    )


def test_text_drops_the_lightbox_meta_under_an_upload() -> None:
    text = html_to_text(sample("topic.json")["post_stream"]["posts"][0]["cooked"])
    assert "Set the 2.4 GHz channel to 1" in text
    assert "142 KB" not in text
    assert "wireless-settings" not in text


@pytest.mark.parametrize("payload", HOSTILE)
def test_text_of_hostile_html_carries_no_script(payload: str) -> None:
    text = html_to_text(f"<p>Before.</p>{payload}<p>After.</p>")
    assert text.startswith("Before.")
    for marker in ("alert(", "fetch(", "document.", "display:none", "<", "javascript:"):
        assert marker not in text


def test_excerpt_of_short_text_is_the_whole_text() -> None:
    assert excerpt_of("<p>Reboot   the\nrouter.</p>") == "Reboot the router."


def test_excerpt_of_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    excerpt = excerpt_of(f"<p>{words}</p>", limit=50)
    assert excerpt == "word0 word1 word2 word3 word4 word5 word6 word7…"


@given(st.text(max_size=400))
def test_text_of_any_markup_is_collapsed_and_never_raises(markup: str) -> None:
    text = html_to_text(markup)
    assert text == text.strip()
    assert "  " not in text
    assert "\n" not in text


@given(st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=40))
def test_script_and_style_content_never_becomes_text(secret: str) -> None:
    markup = f"<p>ok</p><script>{secret}</script><style>{secret}</style><svg>{secret}</svg>"
    assert html_to_text(markup) == "ok"


@given(st.text(max_size=2000), st.integers(min_value=10, max_value=400))
def test_excerpt_never_exceeds_its_limit_plus_the_ellipsis(markup: str, limit: int) -> None:
    assert len(excerpt_of(markup, limit=limit)) <= limit + 1
