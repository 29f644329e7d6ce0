"""Discourse JSON API shapes the community simulator serves, as pure functions of its seed.

Shapes follow Discourse's own API schemas (spec/requests/api/schemas/json/
category_topics_response.json, topic_show_response.json, category_list_response.json in
discourse/discourse) and its JSON errors (``{"errors": [...], "error_type": "not_found"}``,
lib/json_error.rb), including fields the product ignores. ``/latest.json`` pages hold 30
topics, last bumped first, with ``more_topics_url`` until the end.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Final

from sims.community_model import Author, Post, Seed, Topic

PER_PAGE: Final = 30  # Discourse's topic list page size
NOT_FOUND: Final = "The requested URL or resource could not be found."
JSONDict = dict[str, Any]


def iso(moment: datetime) -> str:
    """Discourse's timestamps: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def user_json(author: Author) -> JSONDict:
    letter = author.username[0]
    return {
        "id": author.id,
        "username": author.username,
        "name": author.name or None,
        "avatar_template": f"/letter_avatar_proxy/v4/letter/{letter}/8c91f0/{{size}}.png",
    }


def _posters(topic: Topic) -> list[JSONDict]:
    op, last = topic.author, topic.posts[-1].author
    blank = {"primary_group_id": None, "flair_group_id": None}
    if op.id == last.id:
        return [{"extras": "latest single", "description": "Original Poster, Most Recent Poster",
                 "user_id": op.id, **blank}]  # fmt: skip
    return [
        {"extras": None, "description": "Original Poster", "user_id": op.id, **blank},
        {"extras": "latest", "description": "Most Recent Poster", "user_id": last.id, **blank},
    ]


def topic_list_item(topic: Topic) -> JSONDict:
    excerpt = html.escape(topic.excerpt[:297], quote=False)
    return {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": html.escape(topic.title, quote=False),
        "slug": topic.slug,
        "posts_count": len(topic.posts),
        "reply_count": len(topic.posts) - 1,
        "highest_post_number": len(topic.posts),
        "created_at": iso(topic.created_at),
        "last_posted_at": iso(topic.bumped_at),
        "bumped": True,
        "bumped_at": iso(topic.bumped_at),
        "archetype": topic.archetype,
        # Sites with topic excerpts enabled (serialize_topic_excerpts) send them for every topic.
        "excerpt": f"{excerpt}&hellip;" if len(topic.excerpt) > 297 else excerpt,
        "visible": topic.visible,
        "tags": list(topic.tags),
        "tags_descriptions": {},
        "views": topic.views,
        "like_count": topic.like_count,
        "last_poster_username": topic.posts[-1].author.username,
        "category_id": topic.category_id,
        "posters": _posters(topic),
        **dict.fromkeys(("unseen", "pinned", "closed", "archived", "has_summary"), False),
        **dict.fromkeys(("image_url", "unpinned", "bookmarked", "liked", "featured_link"), None),
    }


def listed(seed: Seed) -> tuple[Topic, ...]:
    """What ``/latest.json`` pages through, last bumped first: the public topics and the
    others but deleted ones (sims.community_markup)."""
    everything = seed.topics + tuple(t for t in seed.not_public if not t.deleted)
    return tuple(sorted(everything, key=lambda t: (t.bumped_at, t.id), reverse=True))


def latest_json(seed: Seed, page: int) -> JSONDict:
    start = page * PER_PAGE
    every = listed(seed)
    topics = every[start : start + PER_PAGE]
    users: dict[int, Author] = {}
    for topic in topics:
        users.setdefault(topic.author.id, topic.author)
        users.setdefault(topic.posts[-1].author.id, topic.posts[-1].author)
    tags = Counter(tag for topic in seed.topics for tag in topic.tags)
    topic_list: JSONDict = {
        "can_create_topic": False,
        "per_page": PER_PAGE,
        "top_tags": [tag for tag, _ in tags.most_common(10)],
        "topics": [topic_list_item(t) for t in topics],
    }
    if start + PER_PAGE < len(every):
        topic_list["more_topics_url"] = f"/latest?no_definitions=true&page={page + 1}"
    return {
        "users": [user_json(u) for u in users.values()],
        "primary_groups": [],
        "flair_groups": [],
        "topic_list": topic_list,
    }


def post_json(post: Post, topic: Topic) -> JSONDict:
    name = post.author.name or None
    return {
        "id": post.id,
        "name": name,
        "username": post.author.username,
        "avatar_template": user_json(post.author)["avatar_template"],
        "created_at": iso(post.created_at),
        "cooked": post.cooked,
        "post_number": post.number,
        "post_type": 1,
        "updated_at": iso(post.updated_at),
        "reply_count": 0,
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": max(1, topic.views // 3),
        "readers_count": max(0, topic.views // 3 - 1),
        "score": round(topic.views * 0.2 + topic.like_count * 15, 1),
        "topic_id": topic.id,
        "topic_slug": topic.slug,
        "display_username": name,
        "version": 1 if post.updated_at == post.created_at else 2,
        "link_counts": [
            {"url": url, "internal": False, "reflection": False, "title": None, "clicks": 3}
            for url in post.links
        ],
        "actions_summary": [{"id": 2, "count": topic.like_count}] if post.number == 1 else [],
        "user_id": post.author.id,
        "trust_level": post.author.trust_level,
        "can_view_edit_history": True,
        **dict.fromkeys(("yours", "can_edit", "can_delete", "can_recover", "can_wiki"), False),
        **dict.fromkeys(("read", "bookmarked", "moderator", "admin", "staff", "hidden"), False),
        **dict.fromkeys(("user_deleted", "wiki"), False),
        **dict.fromkeys(("reply_to_post_number", "primary_group_name", "flair_name"), None),
        **dict.fromkeys(("flair_url", "flair_bg_color", "flair_color", "user_title"), None),
        **dict.fromkeys(("deleted_at", "edit_reason"), None),
    }


def topic_json(topic: Topic) -> JSONDict:
    participants = {p.author.id: p.author for p in topic.posts}
    message = topic.archetype == "private_message"
    doc: JSONDict = {
        "post_stream": {
            "posts": [post_json(p, topic) for p in topic.posts],
            "stream": [p.id for p in topic.posts],
        },
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "tags": list(topic.tags),
        "tags_descriptions": {},
        "id": topic.id,
        "title": topic.title,
        "fancy_title": html.escape(topic.title, quote=False),
        "posts_count": len(topic.posts),
        "created_at": iso(topic.created_at),
        "views": topic.views,
        "reply_count": len(topic.posts) - 1,
        "like_count": topic.like_count,
        "last_posted_at": iso(topic.bumped_at),
        "visible": topic.visible,
        "archetype": topic.archetype,
        "slug": topic.slug,
        "category_id": None if message else topic.category_id,  # a message has no category
        "word_count": sum(len(p.cooked.split()) for p in topic.posts),
        "user_id": topic.author.id,
        "slow_mode_seconds": 0,
        "draft_key": f"topic_{topic.id}",
        "draft_sequence": 0,
        "current_post_number": 1,
        "highest_post_number": len(topic.posts),
        "actions_summary": [{"id": 4, "count": 0, "hidden": False, "can_act": False}],
        "chunk_size": 20,
        "bookmarks": [],
        "message_bus_last_id": 0,
        "participant_count": len(participants),
        **dict.fromkeys(("closed", "archived", "has_summary", "pinned_globally"), False),
        **dict.fromkeys(("pinned", "has_deleted", "bookmarked", "summarizable"), False),
        **dict.fromkeys(("show_read_indicator",), False),
        "deleted_at": iso(topic.bumped_at) if topic.deleted else None,
        **dict.fromkeys(("featured_link", "pinned_at", "pinned_until"), None),
        **dict.fromkeys(("image_url", "draft", "unpinned", "deleted_by", "topic_timer"), None),
        **dict.fromkeys(("thumbnails", "slow_mode_enabled_until"), None),
        "details": {
            "can_edit": False,
            "notification_level": 1,
            "participants": [
                {**user_json(a), "post_count": sum(p.author.id == a.id for p in topic.posts)}
                for a in participants.values()
            ],
            "created_by": user_json(topic.author),
            "last_poster": user_json(topic.posts[-1].author),
        },
    }
    if message:  # who the message is between (TopicViewDetailsSerializer)
        doc["details"]["allowed_users"] = [user_json(a) for a in participants.values()]
        doc["details"]["allowed_groups"] = []
    return doc


def categories_json(seed: Seed) -> JSONDict:
    counts = Counter(t.category_id for t in seed.topics)
    posts = Counter({t.category_id: 0 for t in seed.topics})
    for topic in seed.topics:
        posts[topic.category_id] += len(topic.posts)
    categories: list[JSONDict] = [
        {
            "id": c.id,
            "name": c.name,
            "color": c.color,
            "text_color": "FFFFFF",
            "slug": c.slug,
            "topic_count": counts[c.id],
            "post_count": posts[c.id],
            "position": position,
            "description": f"<p>{html.escape(c.description)}</p>" if c.description else None,
            "description_text": c.description or None,
            "description_excerpt": c.description or None,
            "topic_url": f"/t/about-the-{c.slug}-category/{c.id + 1}",
            "read_restricted": c.restricted,
            "permission": None,
            "notification_level": 1,
            "has_children": False,
            "num_featured_topics": 3,
            "subcategory_list_style": "rows_with_featured_topics",
            "default_top_period": "all",
            "default_list_filter": "all",
            "minimum_required_tags": 0,
            "topics_all_time": counts[c.id],
            "is_uncategorized": c.id == 1,
            "subcategory_ids": [],
            **dict.fromkeys(("topics_day", "topics_week", "topics_month", "topics_year"), 0),
            **dict.fromkeys(("can_edit", "navigate_to_first_post_after_read"), False),
            **dict.fromkeys(("show_subcategory_list",), False),
            **dict.fromkeys(("topic_template", "sort_order", "sort_ascending"), None),
            **dict.fromkeys(("default_view", "uploaded_logo", "uploaded_background"), None),
        }
        for position, c in enumerate(seed.categories)
    ]
    return {
        "category_list": {
            "can_create_category": False,
            "can_create_topic": False,
            "categories": categories,
        }
    }


def not_found_json() -> JSONDict:
    return {"errors": [NOT_FOUND], "error_type": "not_found"}
