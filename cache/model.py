"""Values of the self-help layer: a customer-written service bulletin and its author.

A `Bulletin` is what the community origin (a Discourse site) says about one topic:
its first post is the bulletin. `body_html` is the origin's cooked HTML as received,
NOT sanitized: it is sanitized once, with an explicit allow-list, before it is stored
for rendering (see `cache/sanitize.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Bulletin:
    id: int
    title: str
    slug: str
    author: str  # the origin's username: stable, used for the leaderboard
    author_name: str  # display name
    category: str
    tags: tuple[str, ...]
    excerpt: str  # plain text, short
    body_html: str
    created_at: datetime
    updated_at: datetime
    origin_views: int = 0
    like_count: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "title": self.title,
                "slug": self.slug,
                "author": self.author,
                "author_name": self.author_name,
                "category": self.category,
                "tags": list(self.tags),
                "excerpt": self.excerpt,
                "body_html": self.body_html,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                "origin_views": self.origin_views,
                "like_count": self.like_count,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Bulletin:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            id=int(raw["id"]),
            title=str(raw["title"]),
            slug=str(raw["slug"]),
            author=str(raw["author"]),
            author_name=str(raw["author_name"]),
            category=str(raw["category"]),
            tags=tuple(str(t) for t in raw["tags"]),
            excerpt=str(raw["excerpt"]),
            body_html=str(raw["body_html"]),
            created_at=datetime.fromisoformat(raw["created_at"]),
            updated_at=datetime.fromisoformat(raw["updated_at"]),
            origin_views=int(raw.get("origin_views", 0)),
            like_count=int(raw.get("like_count", 0)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorStats:
    author: str
    author_name: str
    bulletins: int
    hits: int
