"""Only what an anonymous visitor of the community site would see becomes a bulletin:
private messages, unlisted and deleted topics, hidden or withdrawn posts never do (issue 19).

Field names and values are Discourse's: lib/archetype.rb (regular, private_message, banner),
spec/requests/api/schemas/json/topic_show_response.json (``archetype``, ``visible``,
``deleted_at``; a post's ``hidden``, ``user_deleted``, ``deleted_at``) and
app/serializers/basic_post_serializer.rb (``cooked_hidden``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cache.discourse import ShapeError, parse_latest, parse_topic
from cache.visibility import (
    FieldTypeError,
    NotPublicError,
    not_public,
    post_not_public,
    restricted_categories,
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "discourse"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"archetype": "regular"}, None),
        ({"archetype": "banner"}, None),  # a public topic shown atop every page
        ({}, None),  # older sites and trimmed samples send no archetype
        ({"archetype": "private_message"}, "archetype 'private_message'"),
        ({"archetype": "chat_channel"}, "archetype 'chat_channel'"),  # a plugin's: unknown
        ({"visible": False}, "unlisted"),
        ({"visible": None}, None),
        ({"deleted_at": "2025-06-30T10:00:00.000Z"}, "deleted"),
    ],
)
def test_a_topic_is_public_only_as_discourse_shows_it_to_anyone(
    fields: dict[str, Any], reason: str | None
) -> None:
    assert not_public({"id": 1, "archetype": "regular", **fields} if fields else {"id": 1}) == (
        reason
    )


@pytest.mark.parametrize(
    "fields",
    [{"archetype": ["regular"]}, {"visible": "false"}, {"deleted_at": 0}, {"visible": 1}],
)
def test_a_visibility_field_of_another_type_is_a_malformed_answer_not_a_private_topic(
    fields: dict[str, Any],
) -> None:
    """Refused and counted as a bad answer (its content never shown), with our copy kept:
    tests/attacks/test_faults_origin.py "wrong_types"; not a topic gone private, whose
    copy would be dropped."""
    with pytest.raises(FieldTypeError):
        not_public({"id": 1, **fields})
    doc = sample("topic.json")
    doc.update(fields)
    with pytest.raises(ShapeError, match=next(iter(fields))):
        parse_topic(doc, {})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"hidden": False, "user_deleted": False, "deleted_at": None}, None),
        ({"hidden": True}, "first post hidden"),
        ({"cooked_hidden": True}, "first post hidden"),
        ({"user_deleted": True}, "first post deleted"),
        ({"deleted_at": "2025-06-30T10:00:00.000Z"}, "first post deleted"),
    ],
)
def test_a_first_post_that_is_hidden_or_withdrawn_is_not_a_bulletin(
    fields: dict[str, Any], reason: str | None
) -> None:
    assert post_not_public(fields) == reason
    doc = sample("topic.json")
    doc["post_stream"]["posts"][0].update(fields)
    if reason is None:
        assert parse_topic(doc, {}).id == doc["id"]
    else:
        with pytest.raises(NotPublicError, match=reason):
            parse_topic(doc, {})


@pytest.mark.parametrize(
    "fields",
    [{"archetype": "private_message"}, {"visible": False}, {"deleted_at": "2025-06-30T10:00Z"}],
)
def test_a_topic_that_is_not_public_is_refused_before_its_body_is_read(
    fields: dict[str, Any],
) -> None:
    doc = sample("topic.json")
    doc.update(fields)
    if doc.get("archetype") == "private_message":  # as Discourse sends a message
        doc["category_id"] = None
        doc["details"]["allowed_users"] = [doc["details"]["created_by"]]
        doc["details"]["allowed_groups"] = []
    with pytest.raises(NotPublicError):
        parse_topic(doc, {})


def test_lists_leave_out_private_messages_unlisted_and_deleted_topics() -> None:
    doc = sample("latest.json")
    topics = doc["topic_list"]["topics"]
    public = [t["id"] for t in topics]
    extra = []
    hidden: list[dict[str, Any]] = [
        {"archetype": "private_message"},
        {"visible": False},
        {"deleted_at": "2025-06-30"},
    ]
    for n, fields in enumerate(hidden):
        twin = copy.deepcopy(topics[1])
        twin.update({"id": 90_000 + n, **fields})
        extra.append(twin)
    topics[1:1] = extra
    page = parse_latest(doc)
    assert [t.id for t in page.topics] == public
    assert page.more is True


def test_read_restricted_categories_are_found_at_any_depth_and_junk_is_skipped() -> None:
    doc = sample("categories.json")
    categories = doc["category_list"]["categories"]
    assert restricted_categories(doc) == frozenset()
    categories[0]["read_restricted"] = True
    child = copy.deepcopy(categories[0])
    child.update({"id": 77, "read_restricted": True})
    categories[1]["subcategory_list"] = [child, "junk", {"id": "78", "read_restricted": True}]
    assert restricted_categories(doc) == {categories[0]["id"], 77}
    junks: list[object] = [None, [], {"category_list": None}, {"category_list": {"categories": 5}}]
    for junk in junks:
        assert restricted_categories(junk) == frozenset()
