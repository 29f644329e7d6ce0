"""Discourse JSON API responses as values: pure parsing, no I/O (the client is cache/origin.py).

``parse_latest`` (``GET /latest.json``), ``parse_topic`` (``GET /t/{id}.json``: its first post
is the bulletin) and ``parse_categories`` (``GET /categories.json``) follow the shapes of
Discourse's API schemas (discourse/discourse spec/requests/api/schemas/json; samples in
tests/data/discourse). Parsing is defensive: optional fields may be missing or null; a missing
or mistyped required field raises ``ShapeError`` naming it (``topic_list.topics[3].id``).
The shape checks, and the size and nesting limits of a bulletin body, are in
``cache.jsonshape`` (re-exported here: ``ShapeError``, ``TooLargeError``, ``TooDeepError``,
``nesting``, ``MAX_*``).
``html_to_text`` and ``excerpt_of`` (cooked HTML to plain text, ``cache.text``) are re-exported.
Only what an anonymous visitor would see is a bulletin (``cache.visibility``, issue 19):
`parse_latest` leaves other topics out, `parse_topic` refuses them (`NotPublicError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cache import text
from cache.jsonshape import (
    MAX_COOKED_CHARS,
    MAX_NESTING,
    MAX_TITLE_CHARS,
    ShapeError,
    TooDeepError,
    TooLargeError,
    nesting,
)
from cache.jsonshape import array_of as _array
from cache.jsonshape import checked_html as _checked_html
from cache.jsonshape import field as _field
from cache.jsonshape import id_field as _id
from cache.jsonshape import int_field as _int
from cache.jsonshape import object_of as _object
from cache.jsonshape import str_field as _str
from cache.jsonshape import time_field as _time
from cache.model import Bulletin
from cache.visibility import FieldTypeError, NotPublicError, not_public, post_not_public

EXCERPT_CHARS: Final = text.EXCERPT_CHARS
excerpt_of = text.excerpt_of
html_to_text = text.html_to_text

UNCATEGORIZED: Final = "Uncategorized"
__all__ = [  # what cache.jsonshape gives this module's callers (its own names are public too)
    "MAX_COOKED_CHARS", "MAX_NESTING", "MAX_TITLE_CHARS", "ShapeError", "TooDeepError",
    "TooLargeError", "nesting",
]  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSummary:
    id: int
    title: str
    slug: str
    author: str  # the original poster's username; "" if the list does not say
    created_at: datetime
    bumped_at: datetime
    views: int = 0
    like_count: int = 0
    category_id: int | None = None
    tags: tuple[str, ...] = ()
    excerpt: str | None = None  # plain text; only some sites send list excerpts


@dataclass(frozen=True, slots=True, kw_only=True)
class LatestPage:
    topics: tuple[TopicSummary, ...]
    more: bool  # the origin offered a next page (more_topics_url)


def _tags(value: object) -> tuple[str, ...]:
    """Tags are names, or ``{"id", "name", "slug"}`` objects on newer sites; skip the rest."""
    if not isinstance(value, list):
        return ()
    names = [t.get("name") if isinstance(t, dict) else t for t in value]
    return tuple(n for n in names if isinstance(n, str) and n)


def _original_poster(topic: Mapping[str, Any], users: Mapping[int, str]) -> str:
    posters = topic.get("posters")
    if not isinstance(posters, list):
        return ""
    entries = [p for p in posters if isinstance(p, dict)]
    # Discourse marks the OP in the description ("Original Poster[, Most Recent Poster]").
    ops = [p for p in entries if "Original Poster" in str(p.get("description") or "")]
    for poster in ops or entries[:1]:
        user_id = poster.get("user_id")
        if isinstance(user_id, int) and user_id in users:
            return users[user_id]
    return ""


def _usernames(users: object) -> dict[int, str]:
    """id → username from a list's ``users``; only used to name authors, so lenient."""
    entries = users if isinstance(users, list) else []
    return {
        u["id"]: u["username"]
        for u in entries
        if isinstance(u, dict) and type(u.get("id")) is int and isinstance(u.get("username"), str)
    }


def parse_latest(doc: object) -> LatestPage:
    """A ``/latest.json`` page: topic summaries in the origin's order, and whether more exist."""
    root = _object(doc, "response")
    topic_list = _object(_field(root, "topic_list", "response"), "topic_list")
    raw_topics = _array(_field(topic_list, "topics", "topic_list"), "topic_list.topics")
    users = _usernames(root.get("users"))
    topics = []
    for index, raw in enumerate(raw_topics):
        where = f"topic_list.topics[{index}]"
        topic = _object(raw, where)
        if _not_public(topic, where):
            continue
        topic_id, title = _id(topic, "id", where), _str(topic, "title", where)
        created = _time(topic, "created_at", where)
        excerpt = topic.get("excerpt")
        topics.append(
            TopicSummary(
                id=topic_id,
                title=title,
                slug=_str(topic, "slug", where, ""),
                author=_original_poster(topic, users),
                created_at=created,
                bumped_at=_time(topic, "bumped_at", where, created),
                views=_int(topic, "views", where, 0),
                like_count=_int(topic, "like_count", where, 0),
                category_id=_optional_id(topic, "category_id"),
                tags=_tags(topic.get("tags")),
                excerpt=html_to_text(excerpt) if isinstance(excerpt, str) else None,
            )
        )
    return LatestPage(topics=tuple(topics), more=bool(topic_list.get("more_topics_url")))


def parse_categories(doc: object) -> dict[int, str]:
    """``/categories.json``: id → name, subcategories included when the origin lists them."""
    root = _object(_field(_object(doc, "response"), "category_list", "response"), "category_list")
    names: dict[int, str] = {}
    listed = _array(_field(root, "categories", "category_list"), "category_list.categories")
    pending = [(f"category_list.categories[{i}]", c) for i, c in enumerate(listed)]
    while pending:
        where, raw = pending.pop()
        category = _object(raw, where)
        names[_int(category, "id", where)] = _str(category, "name", where)
        children = category.get("subcategory_list")
        if isinstance(children, list):
            pending += [(f"{where}.subcategory_list[{i}]", c) for i, c in enumerate(children)]
    return names


def _optional_id(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def topic_category_id(doc: object) -> int | None:
    return _optional_id(_object(doc, "topic"), "category_id")


def _not_public(topic: Mapping[str, Any], where: str) -> str | None:
    try:
        return not_public(topic)
    except FieldTypeError as exc:  # a malformed answer, not a private topic
        raise ShapeError(f"{where}.{exc}") from None


def parse_topic(doc: object, categories: Mapping[int, str]) -> Bulletin:
    """``/t/{id}.json`` as a Bulletin: its first post is the body, its poster the author
    (`NotPublicError` for a topic an anonymous visitor would not see)."""
    topic = _object(doc, "topic")
    if reason := _not_public(topic, "topic"):
        raise NotPublicError(f"topic: {reason}")
    stream = _object(_field(topic, "post_stream", "topic"), "topic.post_stream")
    posts = _array(_field(stream, "posts", "topic.post_stream"), "topic.post_stream.posts")
    if not posts:
        raise ShapeError("missing field topic.post_stream.posts[0]: no posts")
    numbers = [p.get("post_number") if isinstance(p, dict) else None for p in posts]
    first_at = numbers.index(1) if 1 in numbers else 0
    where = f"topic.post_stream.posts[{first_at}]"
    post = _object(posts[first_at], where)
    try:
        reason = post_not_public(post)
    except FieldTypeError as exc:
        raise ShapeError(f"{where}.{exc}") from None
    if reason:
        raise NotPublicError(f"{where}: {reason}")
    details = topic.get("details")
    created_by = details.get("created_by") if isinstance(details, dict) else None
    creator: Mapping[str, Any] = created_by if isinstance(created_by, dict) else {}
    username = _str(
        post, "username", where, _str(creator, "username", "topic.details.created_by", "")
    )
    if not username:
        raise ShapeError(f"missing field {where}.username")
    created = (
        _time(topic, "created_at", "topic")
        if topic.get("created_at") is not None
        else _time(post, "created_at", where)
    )
    cooked = _checked_html(_str(post, "cooked", where), where)
    title = _str(topic, "title", "topic")
    if len(title) > MAX_TITLE_CHARS:
        raise TooLargeError(f"topic.title: {len(title)} characters, over {MAX_TITLE_CHARS}")
    category_id = topic_category_id(topic)
    name = post.get("name") or creator.get("name")
    return Bulletin(
        id=_id(topic, "id", "topic"),
        title=title,
        slug=_str(topic, "slug", "topic", _str(post, "topic_slug", where, "")),
        author=username,
        author_name=name if isinstance(name, str) and name.strip() else username,
        category=categories.get(category_id, UNCATEGORIZED) if category_id else UNCATEGORIZED,
        tags=_tags(topic.get("tags")),
        excerpt=excerpt_of(cooked),
        body_html=cooked,
        created_at=created,
        updated_at=_time(post, "updated_at", where, created),
        origin_views=_int(topic, "views", "topic", 0),
        like_count=_int(topic, "like_count", "topic", 0),
    )
