"""The shapes of the community simulator's content: authors, posts, topics and the seed (the
whole site). ``sims.community_seed`` builds them, ``sims.community_markup`` adds Discourse's
markup and the non-public topics, ``sims.community_api`` serves them as Discourse's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sims.community_text import Category


@dataclass(frozen=True, slots=True, kw_only=True)
class Author:
    id: int
    username: str
    name: str  # "" when the member set none: the site then shows the username
    trust_level: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Post:
    id: int
    number: int
    author: Author
    cooked: str
    created_at: datetime
    updated_at: datetime
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    id: int
    title: str
    slug: str
    category_id: int
    tags: tuple[str, ...]
    posts: tuple[Post, ...]  # the first post is the bulletin; a second one is a reply
    excerpt: str  # plain text, as the site's excerpt (before its HTML escaping)
    views: int
    like_count: int
    hostile: bool
    has_image: bool
    discourse_markup: bool = False  # mentions, hashtags, emoji, a date (community_markup)
    archetype: str = "regular"  # "private_message", unlisted (not visible) and deleted
    visible: bool = True  # topics are listed and served, and never to be shown
    deleted: bool = False

    @property
    def author(self) -> Author:
        return self.posts[0].author

    @property
    def created_at(self) -> datetime:
        return self.posts[0].created_at

    @property
    def bumped_at(self) -> datetime:
        return self.posts[-1].created_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Seed:
    categories: tuple[Category, ...]
    authors: tuple[Author, ...]
    topics: tuple[Topic, ...]  # the public ones, in the order of /latest: last bumped first
    not_public: tuple[Topic, ...] = ()  # listed and served too, never to be shown
    by_id: dict[int, Topic] = field(default_factory=dict, repr=False, compare=False)

    def topic(self, topic_id: int) -> Topic | None:
        return self.by_id.get(topic_id)
