"""Discourse JSON API responses as values: pure parsing, no I/O (the client is cache/origin.py).

``parse_latest`` (``GET /latest.json``), ``parse_topic`` (``GET /t/{id}.json``: its first post
is the bulletin) and ``parse_categories`` (``GET /categories.json``) follow the shapes of
Discourse's API schemas (discourse/discourse spec/requests/api/schemas/json; samples in
tests/data/discourse). Parsing is defensive: optional fields may be missing or null; a missing
or mistyped required field raises ``ShapeError`` naming it (``topic_list.topics[3].id``).
A bulletin body (the first post's cooked HTML) longer than `MAX_COOKED_CHARS` or nested
deeper than `MAX_NESTING` elements is refused before anything parses it as HTML: the
sanitizer's time grows with the square of the nesting (20,000 nested elements, 1 MiB of
HTML, took 0.9 s; 100,000 took 33 s), and a customer can nest that deep on a Discourse
site by typing quote markers (issue 14).
``html_to_text`` and ``excerpt_of`` (cooked HTML to plain text) live in ``cache.text``; they are
re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cache import text
from cache.model import Bulletin

# Cooked HTML to plain text lives in cache.text; these names stay importable from here.
EXCERPT_CHARS: Final = text.EXCERPT_CHARS
excerpt_of = text.excerpt_of
html_to_text = text.html_to_text

UNCATEGORIZED: Final = "Uncategorized"
MAX_COOKED_CHARS: Final = 128 * 1024  # a long help article is 10-30 KiB of HTML
MAX_NESTING: Final = 100  # elements inside elements; Discourse's own pages stay under 20
MAX_TITLE_CHARS: Final = 1_000  # Discourse allows 255 by default (max_topic_title_length)
# HTML elements that never hold others (WHATWG HTML, "void elements").
_VOID: Final = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
})  # fmt: skip
_TAG: Final = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")


class ShapeError(ValueError):
    """The JSON is not of the shape Discourse sends; the message names the field."""

    reason = "shape"  # a metric label (monitoring/degraded.py)


class TooLargeError(ShapeError):
    reason = "too_large"


class TooDeepError(ShapeError):
    reason = "too_deep"


def nesting(html: str, limit: int = MAX_NESTING) -> int:
    """How deep elements nest in `html`, counted from its tags (stops past `limit`).

    A count, not a parse: an element left open counts as holding what follows, so
    malformed HTML reads deeper than a browser would build it, never shallower."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _VOID:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _checked_html(cooked: str, where: str) -> str:
    if len(cooked) > MAX_COOKED_CHARS:
        raise TooLargeError(f"{where}.cooked: {len(cooked)} characters, over {MAX_COOKED_CHARS}")
    if (depth := nesting(cooked)) > MAX_NESTING:
        raise TooDeepError(f"{where}.cooked: elements nested over {MAX_NESTING} deep ({depth})")
    return cooked


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


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _array(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def _field(obj: Mapping[str, Any], key: str, where: str) -> object:
    value = obj.get(key)
    if value is None:
        raise ShapeError(f"missing field {where}.{key}")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    value = _field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    value = _field(obj, key, where)
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _time(
    obj: Mapping[str, Any], key: str, where: str, default: datetime | None = None
) -> datetime:
    if obj.get(key) is None and default is not None:
        return default
    raw = _str(obj, key, where)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ShapeError(f"{where}.{key}: not an ISO 8601 time: {raw!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
        topic_id, title = _int(topic, "id", where), _str(topic, "title", where)
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


def parse_topic(doc: object, categories: Mapping[int, str]) -> Bulletin:
    """``/t/{id}.json`` as a Bulletin: its first post is the body, its poster the author."""
    topic = _object(doc, "topic")
    stream = _object(_field(topic, "post_stream", "topic"), "topic.post_stream")
    posts = _array(_field(stream, "posts", "topic.post_stream"), "topic.post_stream.posts")
    if not posts:
        raise ShapeError("missing field topic.post_stream.posts[0]: no posts")
    numbers = [p.get("post_number") if isinstance(p, dict) else None for p in posts]
    first_at = numbers.index(1) if 1 in numbers else 0
    where = f"topic.post_stream.posts[{first_at}]"
    post = _object(posts[first_at], where)
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
        id=_int(topic, "id", "topic"),
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
