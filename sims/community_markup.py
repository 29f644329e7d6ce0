"""What a real Discourse site adds to the simulator's bulletins (issue 19): its own markup,
and topics an anonymous visitor would never see.

Markup, cooked as discourse/discourse cooks it (spec/lib/pretty_text_spec.rb;
plugins/discourse-local-dates/assets/javascripts/lib/discourse-markdown/
discourse-local-dates.js): mentions ``<a class="mention" href="/u/joe">``, group mentions
``/g/support``, category and tag hashtags ``<a class="hashtag-cooked" href="/c/...">``,
emoji images ``/images/emoji/twitter/pray.png?v=12``, local dates
``<span class="discourse-local-date" data-date=... data-time=... data-timezone=...>`` whose
text is the moment in UTC, ISO 8601, and a fragment-only link. All site-relative: served as
they are from the front door they would lead nowhere.

Non-public topics: a private message, an unlisted topic, a deleted one and one in a
read-restricted "Staff" category, as a site read with an API key answers them (archetype
``private_message``, ``visible: false``, ``deleted_at``, ``read_restricted: true``). The
simulator lists all but the deleted one after the others (Discourse lists unlisted and
restricted topics to staff; a message in a list is the issue's case) and serves all four
by id; the self-help layer must never show them. Their titles and bodies carry the word `MARKER` so
that tests can look for it anywhere.

Pure and deterministic, like ``sims.community_seed``: a ``random.Random`` of its own, so the
seeded bulletins read as before with these blocks added.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sims.community_model import Author, Post, Seed, Topic
from sims.community_seed import DEFAULT_SEED, build_seed, slugify
from sims.community_text import CATEGORIES, Category

MARKER: Final = "confidential"  # in every non-public topic, in no public one
EMOJI_VERSION: Final = 12  # the ?v= of Discourse's emoji URLs
_ZONES: Final = ("Europe/London", "Europe/Paris", "America/New_York", "Asia/Kolkata")
_SLUGS: Final = {c.id: c.slug for c in CATEGORIES}
STAFF: Final = Category(id=15, name="Staff", slug="staff", color="231F20",
                        description="Staff only.", restricted=True)  # fmt: skip


def emoji(name: str, *, only: bool = False) -> str:
    kind = "emoji only-emoji" if only else "emoji"
    return (
        f'<img src="/images/emoji/twitter/{name}.png?v={EMOJI_VERSION}" title=":{name}:" '
        f'class="{kind}" alt=":{name}:" loading="lazy" width="20" height="20">'
    )


def local_date(moment: datetime, zone: str) -> str:
    """``[date=... time=... timezone=...]`` as the plugin cooks it: UTC text, ISO 8601."""
    written = moment.astimezone(ZoneInfo(zone))
    utc = f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    return (
        f'<span class="discourse-local-date" data-date="{written:%Y-%m-%d}" '
        f'data-email-preview="{utc} UTC" data-time="{written:%H:%M:%S}" '
        f'data-timezone="{zone}">{utc}</span>'
    )


def community_block(rng: random.Random, topic: Topic, helper: Author) -> str:
    """A paragraph thanking a member and a group, filed under hashtags, with planned work."""
    category = _SLUGS.get(topic.category_id, "uncategorized")
    tag = topic.tags[0] if topic.tags else "help"
    zone = rng.choice(_ZONES)
    work = (topic.created_at + timedelta(days=rng.randint(1, 20))).replace(
        minute=0, second=0, microsecond=0
    )
    return (
        f'<p>Thanks <a class="mention" href="/u/{helper.username}">@{helper.username}</a> and '
        f'<a class="mention-group notify" href="/g/support">@support</a> {emoji("pray")}</p>\n'
        f'<p>Filed under <a class="hashtag-cooked" href="/c/{category}/{topic.category_id}" '
        f'data-type="category" data-slug="{category}" data-id="{topic.category_id}" '
        f'data-style-type="square"><span class="hashtag-icon-placeholder"></span>'
        f'<span>{category}</span></a> and <a class="hashtag-cooked" href="/tag/{tag}" '
        f'data-type="tag" data-slug="{tag}" data-style-type="icon" data-icon="tag">'
        f'<span class="hashtag-icon-placeholder"></span><span>{tag}</span></a>.</p>\n'
        f"<p>The provider's planned work on our line: {local_date(work, zone)} "
        f'(see <a href="#what-fixed-it">what fixed it</a> in the meantime).</p>\n'
        f"<p>{emoji('tada', only=True)}</p>"
    )


def decorate(
    topics: tuple[Topic, ...], authors: tuple[Author, ...], seed: int
) -> tuple[Topic, ...]:
    """`topics` with every sixth first post carrying Discourse's markup (``discourse_markup``)."""
    rng = random.Random(seed + 19)
    decorated = []
    for index, plain in enumerate(topics):
        if index % 6 != 0:
            decorated.append(plain)
            continue
        helper = rng.choice([a for a in authors if a.id != plain.author.id])
        first = plain.posts[0]
        cooked = f"{first.cooked}\n{community_block(rng, plain, helper)}"
        posts = (replace(first, cooked=cooked), *plain.posts[1:])
        decorated.append(replace(plain, posts=posts, discourse_markup=True))
    return tuple(decorated)


def build_site(topics: int = 300, seed: int = DEFAULT_SEED) -> Seed:
    """`build_seed`'s bulletins as a real Discourse site serves them: with its markup
    (`decorate`) and with the topics no anonymous visitor sees (`not_public`)."""
    plain = build_seed(topics, seed)
    public = decorate(plain.topics, plain.authors, seed)
    oldest = min(t.created_at for t in public)
    last_post = max(p.id for t in public for p in t.posts)
    hidden = not_public(plain.authors, max(plain.by_id) + 1, last_post + 1, oldest)
    return Seed(
        categories=(*plain.categories, STAFF),
        authors=plain.authors,
        topics=public,
        not_public=hidden,
        by_id={t.id: t for t in public + hidden},
    )


_NOT_PUBLIC: Final = (  # archetype, visible, deleted, category, title
    ("private_message", True, False, 5, "Private message: my account number and home address"),
    ("regular", False, False, 5, "Unlisted: staff draft of the outage FAQ"),
    ("regular", True, True, 5, "Deleted: duplicate of the Wi-Fi channel fix"),
    ("regular", True, False, STAFF.id, "Staff only: escalation contacts for the outage"),
)


def not_public(
    authors: tuple[Author, ...], first_id: int, first_post_id: int, oldest: datetime
) -> tuple[Topic, ...]:
    """A private message, an unlisted, a deleted and a staff-only topic, bumped before all
    others: they sit on the last page of ``/latest.json`` (the deleted one only answers by
    id)."""
    made = []
    for n, (archetype, visible, deleted, category, title) in enumerate(_NOT_PUBLIC):
        author = authors[n % len(authors)]
        at = oldest - timedelta(minutes=n + 1)
        cooked = (
            f"<p>This is {MARKER}: account 4417-0{n}, 12 Example Road. "
            f'Ask <a class="mention" href="/u/{author.username}">@{author.username}</a>.</p>'
        )
        post = Post(id=first_post_id + n, number=1, author=author, cooked=cooked,
                    created_at=at, updated_at=at)  # fmt: skip
        topic = Topic(id=first_id + n, title=f"{title} ({MARKER})", slug=slugify(title),
                      category_id=category, tags=(), posts=(post,), excerpt=f"This is {MARKER}",
                      views=3, like_count=0, hostile=False, has_image=False,
                      archetype=archetype, visible=visible, deleted=deleted)  # fmt: skip
        made.append(topic)
    return tuple(made)
