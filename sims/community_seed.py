"""Seeded content of the community simulator: categories, authors and service bulletins.

Pure and deterministic: ``build_seed(topics=300, seed=DEFAULT_SEED)`` returns the same ``Seed``
on every run (one ``random.Random(seed)``, no clock). A bulletin is composed from a problem
family (subject, symptom, a fix with its steps) plus an opener, what the customer tried first,
maybe a settings block, a link, a screenshot and a closing line, so that hundreds of them read
like customers wrote them. Authors post with a skewed (Zipf) distribution: a few prolific
regulars, a long tail of one-off posters. A few bulletins carry hostile HTML (script, on*
handlers, javascript: links), as real user content does: the origin's cooked HTML is never
to be trusted (see cache/sanitize.py). The content's shapes (``Author``, ``Post``, ``Topic``,
``Seed``) are ``sims.community_model``'s; the words are ``sims.community_text``'s and
``sims.community_families``'.
"""

from __future__ import annotations

import html
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Final

from sims.community_families import FAMILIES, Family, Fix
from sims.community_model import Author, Post, Seed, Topic
from sims.community_text import (
    CATEGORIES,
    CLOSERS,
    FIRST_NAMES,
    HANDLES,
    HOSTILE,
    LAST_NAMES,
    LINKS,
    OPENERS,
    REPLIES,
    SCREENSHOTS,
    TRIED,
    WHEN,
)

# Seed is build_seed's result: its importers (the load tests among them) take it from here too.
__all__ = ["AUTHORS", "DEFAULT_SEED", "FIRST_TOPIC_ID", "Seed", "build_seed", "slugify"]

DEFAULT_SEED: Final = 20241224  # Christmas Eve, the seed story of docs/architecture.md
AUTHORS: Final = 48
FIRST_TOPIC_ID: Final = 101  # ids below belong to the site's welcome/about/category topics
_NEWEST: Final = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
_SPAN_MINUTES: Final = 540 * 24 * 60  # bulletins span the 18 months before _NEWEST
_Combo = tuple[Family, str, str, Fix]
_TITLE_FORMS: Final = (
    "{subject} {symptom} — {fix}",
    "{subject} {symptom} — {fix}",
    "[Solved] {subject} {symptom}",
    "{subject} {symptom} (solved: {fix})",
)


def slugify(title: str) -> str:
    """Discourse-style slug: lower case ASCII words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "topic"


def build_seed(topics: int = 300, seed: int = DEFAULT_SEED) -> Seed:
    if topics < 1:
        raise ValueError(f"topics must be at least 1, got {topics}")
    rng = random.Random(seed)
    authors = _authors(rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(authors))]
    combos: list[_Combo] = [
        (family, subject, symptom, fix)
        for family in FAMILIES
        for subject in family.subjects
        for symptom in family.symptoms
        for fix in family.fixes
    ]
    rng.shuffle(combos)
    hostile = set(rng.sample(range(topics), k=max(1, topics // 25)))
    images = set(rng.sample(range(topics), k=max(1, topics // 15)))
    drafts: list[tuple[datetime, _Draft]] = []
    for index in range(topics):
        # Everyone posts once, then the regulars dominate: a realistic leaderboard.
        op = authors[index] if index < len(authors) else rng.choices(authors, weights)[0]
        created = _NEWEST - timedelta(minutes=rng.randrange(_SPAN_MINUTES))
        draft = _Draft(rng, combos[index % len(combos)], index // len(combos), op)
        draft.compose(hostile=index in hostile, image=index in images)
        drafts.append((created, draft))
    drafts.sort(key=lambda pair: pair[0])
    built: list[Topic] = []
    post_id = 1000
    for offset, (created, draft) in enumerate(drafts):
        topic_id = FIRST_TOPIC_ID + offset
        replier = rng.choices(authors, weights)[0] if rng.random() < 0.45 else None
        post_id += 1
        built.append(draft.topic(rng, topic_id, post_id, created, replier))
        post_id += 1 if replier is not None else 0
    ordered = tuple(sorted(built, key=lambda t: (t.bumped_at, t.id), reverse=True))
    return Seed(
        categories=CATEGORIES,
        authors=tuple(authors),
        topics=ordered,
        by_id={t.id: t for t in ordered},
    )


def _authors(rng: random.Random) -> list[Author]:
    firsts = rng.sample(FIRST_NAMES, len(FIRST_NAMES))
    handles = list(HANDLES)
    authors: list[Author] = []
    seen: set[str] = set()
    for index in range(AUTHORS):
        first, last = firsts[index % len(firsts)], LAST_NAMES[(index * 7) % len(LAST_NAMES)]
        style = index % 5
        name = f"{first} {last}"
        if style == 0:
            username = f"{first}{last[0]}"
        elif style == 1:
            username = f"{first}_{last}"
        elif style == 2:
            username = f"{first[0]}{last}{rng.randint(2, 99)}"
        elif style == 3 and handles:
            username = handles.pop(0)
            name = rng.choice(("", first, name))
        else:
            username = f"{first}.{last}"
        username = username.lower()
        while username in seen:
            username = f"{username}{rng.randint(1, 9)}"
        seen.add(username)
        trust = 3 if index < 4 else rng.choice((1, 1, 2))
        authors.append(Author(id=index + 2, username=username, name=name, trust_level=trust))
    rng.shuffle(authors)  # who ends up prolific is the seed's choice, not the name's
    return authors


def _in_sentence(subject: str) -> str:
    """ "Router" -> "our router", "My bill" -> "my bill", "Archer AX55" stays a name."""
    first, _, rest = subject.partition(" ")
    if first in ("My", "This", "Our"):
        return subject[0].lower() + subject[1:]
    named = first.isupper() or any(c.isupper() or c.isdigit() for c in first[1:])
    if named or first in ("Archer", "Hub", "Thunderbird"):
        return f"our {subject}"
    return f"our {first.lower()} {rest}".rstrip()


def _inline(text: str) -> str:
    """Escape a template sentence and turn its `backticks` into <code>, like Markdown."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


class _Draft:
    """One bulletin being composed: its title, cooked HTML and plain-text excerpt."""

    def __init__(self, rng: random.Random, combo: _Combo, lap: int, op: Author) -> None:
        family, subject, symptom, fix = combo
        self.rng, self.family, self.op = rng, family, op
        self.subject, self.symptom, self.fix = subject, symptom, fix
        form = _TITLE_FORMS[(lap + rng.randrange(len(_TITLE_FORMS))) % len(_TITLE_FORMS)]
        self.title = form.format(subject=self.subject, symptom=self.symptom, fix=self.fix.tail)
        self.blocks: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []
        self.hostile = self.image = False

    def compose(self, *, hostile: bool, image: bool) -> None:
        rng, fix = self.rng, self.fix
        noun = _in_sentence(self.subject)
        opener = f"{rng.choice(OPENERS)} {noun[0].upper()}{noun[1:]} {self.symptom}."
        started = f"It started {rng.choice(WHEN)}."
        self._para(f"{opener} {started}")
        tried = rng.sample(TRIED, k=rng.randint(2, 3))
        self._para("What I tried first (none of it helped):")
        self.blocks.append(_list("ul", tried))
        self.text.append("; ".join(tried) + ".")
        self._para(f"What fixed it: {fix.why}", strong="What fixed it:")
        self.blocks.append(_list("ol", fix.steps))
        if fix.block:
            self.blocks.append(
                f'<pre><code class="lang-plaintext">{html.escape(fix.block)}</code></pre>'
            )
        if image:
            self.image = True
            self.blocks.append(_screenshot(rng))
        if rng.random() < 0.35:
            label, url = rng.choice(LINKS)
            self.links.append(url)
            self.blocks.append(
                f'<p>More on this: <a href="{url}" rel="noopener nofollow ugc">{label}</a>.</p>'
            )
        if hostile:
            self.hostile = True
            self.blocks.append(rng.choice(HOSTILE))
        self._para(rng.choice(CLOSERS))

    def topic(
        self,
        rng: random.Random,
        topic_id: int,
        post_id: int,
        created: datetime,
        replier: Author | None,
    ) -> Topic:
        edited = created + timedelta(minutes=rng.choice((0, 0, 3, 12, 95, 2880)))
        posts = [
            Post(
                id=post_id,
                number=1,
                author=self.op,
                cooked="\n".join(self.blocks),
                created_at=created,
                updated_at=edited,
                links=tuple(self.links),
            )
        ]
        if replier is not None:
            room = int((_NEWEST - created).total_seconds() // 60)
            replied = created + timedelta(
                minutes=rng.randrange(min(10, room), min(57600, room) + 1)
            )
            reply = rng.choice(REPLIES).format(subject=_in_sentence(self.subject))
            posts.append(
                Post(
                    id=post_id + 1,
                    number=2,
                    author=replier,
                    cooked=f"<p>{_inline(reply)}</p>",
                    created_at=replied,
                    updated_at=replied,
                )
            )
        views = int(rng.lognormvariate(5.0, 1.1)) + 3
        return Topic(
            id=topic_id,
            title=self.title,
            slug=slugify(self.title),
            category_id=self.family.category_id,
            tags=self.family.tags,
            posts=tuple(posts),
            excerpt=" ".join(self.text)[:300],
            views=views,
            like_count=int(views * rng.uniform(0.0, 0.06)),
            hostile=self.hostile,
            has_image=self.image,
        )

    def _para(self, text: str, *, strong: str = "") -> None:
        self.text.append(text)
        cooked = _inline(text)
        if strong:
            bold = _inline(strong)
            cooked = cooked.replace(bold, f"<strong>{bold}</strong>", 1)
        self.blocks.append(f"<p>{cooked}</p>")


def _list(tag: str, items: tuple[str, ...] | list[str]) -> str:
    rows = "\n".join(f"<li>{_inline(item)}</li>" for item in items)
    return f"<{tag}>\n{rows}\n</{tag}>"


def _screenshot(rng: random.Random) -> str:
    """An upload as Discourse cooks it: a lightbox link around the optimized image."""
    alt = rng.choice(SCREENSHOTS)
    sha = f"{rng.getrandbits(160):040x}"
    original = f"/uploads/default/original/2X/{sha[0]}/{sha}.png"
    optimized = f"/uploads/default/optimized/2X/{sha[0]}/{sha}_2_690x388.png"
    return (
        f'<p><div class="lightbox-wrapper"><a class="lightbox" href="{original}" '
        f'data-download-href="/uploads/default/{sha}" title="{alt}">'
        f'<img src="{optimized}" alt="{alt}" width="690" height="388">'
        f'<div class="meta"><span class="filename">{alt}</span>'
        f'<span class="informations">1280\u00d7720 142 KB</span></div></a></div></p>'
    )
