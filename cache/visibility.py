"""Which community topics are for the public: only what an anonymous visitor of the
community site would see becomes a bulletin (issue 19).

A site read with an API key also answers private messages, unlisted and deleted topics, and
the cooked HTML of hidden or withdrawn posts. The rules follow Discourse:

- archetypes are ``regular``, ``private_message`` and ``banner`` (discourse/discourse
  lib/archetype.rb); a banner is a public topic shown atop every page; an archetype a plugin
  registers is not known to be public, so it is left out too;
- ``visible: false`` is an unlisted topic; ``deleted_at`` set, a deleted one (both fields of
  spec/requests/api/schemas/json/topic_show_response.json and of the topic list items);
- a topic in a category with ``read_restricted: true`` (spec/requests/api/schemas/json/
  category_list_response.json; an anonymous visitor's ``/categories.json`` does not even
  list such a category);
- a first post that is ``hidden`` (flagged: app/serializers/basic_post_serializer.rb sends
  its cooked only to staff, ``cooked_hidden`` to the rest), ``user_deleted`` (withdrawn by
  its author) or deleted (``deleted_at``).

A field that is missing or null counts as public (older sites and trimmed samples omit
them); one present with another value than Discourse's public one counts as not public.
A field of another type than Discourse sends (a flag that is not a boolean, an archetype
that is not a string) is a malformed answer, not a private topic: `FieldTypeError`, which
the parser turns into its shape error, so the answer is refused and counted and our copy
of the bulletin is kept (tests/attacks/test_faults_origin.py, "wrong_types").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

PUBLIC_ARCHETYPES: Final = frozenset({"regular", "banner"})  # not "private_message"


class NotPublicError(ValueError):
    """The topic exists, but an anonymous visitor would not see it; the message says why."""


class FieldTypeError(ValueError):
    """A visibility field of another type than Discourse's; the message names it."""


def _flag(item: Mapping[str, Any], key: str) -> bool | None:
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise FieldTypeError(f"{key}: expected a boolean, got {str(value)[:40]!r}")
    return value


def _time_or_none(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise FieldTypeError(f"{key}: expected a time or null, got {str(value)[:40]!r}")
    return value


def not_public(topic: Mapping[str, Any]) -> str | None:
    """Why a topic (from a list or ``/t/{id}.json``) is not for the public, or None."""
    archetype = topic.get("archetype", "regular")
    if not isinstance(archetype, str):
        raise FieldTypeError(f"archetype: expected a string, got {str(archetype)[:40]!r}")
    if archetype not in PUBLIC_ARCHETYPES:
        return f"archetype {archetype[:40]!r}"
    if _flag(topic, "visible") is False:
        return "unlisted"
    if _time_or_none(topic, "deleted_at") is not None:
        return "deleted"
    return None


def post_not_public(post: Mapping[str, Any]) -> str | None:
    """Why a topic's first post (its bulletin) is not for the public, or None."""
    if _flag(post, "hidden") or _flag(post, "cooked_hidden"):
        return "first post hidden"
    if _flag(post, "user_deleted") or _time_or_none(post, "deleted_at") is not None:
        return "first post deleted"
    return None


def restricted_categories(doc: object) -> frozenset[int]:
    """Ids of the read-restricted categories in a ``/categories.json`` answer,
    subcategories included; lenient (``cache.discourse.parse_categories`` checks shapes)."""
    root = doc.get("category_list") if isinstance(doc, dict) else None
    listed = root.get("categories") if isinstance(root, dict) else None
    pending = list(listed) if isinstance(listed, list) else []
    found: set[int] = set()
    while pending and len(found) < 100_000:
        category = pending.pop()
        if not isinstance(category, dict):
            continue
        category_id = category.get("id")
        if category.get("read_restricted") not in (None, False) and type(category_id) is int:
            found.add(category_id)
        children = category.get("subcategory_list")
        if isinstance(children, list):
            pending += children
    return frozenset(found)
