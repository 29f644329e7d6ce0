"""A synthetic community of bulletins for the search benchmark (loadtests/bench_index.py):
`generate(n)` seeded bulletins (no "wifi"/"drop" words: the search tests add those as
needles) and `generated_hits`, a Pareto-like popularity. The same generator as the search
unit tests' (tests/support/search_corpus.py), here so that a benchmark never imports a test
module; the tests can import it from here too.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cache.model import Bulletin

T0 = datetime(2024, 12, 24, 18, 0, tzinfo=UTC)


def bulletin(
    id: int,
    title: str,
    body_html: str = "",
    *,
    tags: Sequence[str] = (),
    category: str = "Internet",
    author_name: str = "Amara Okafor",
) -> Bulletin:
    return Bulletin(
        id=id,
        title=title,
        slug=re.sub(r"\W+", "-", title.lower()).strip("-"),
        author=author_name.split(maxsplit=1)[0].lower(),
        author_name=author_name,
        category=category,
        tags=tuple(tags),
        excerpt=title,
        body_html=body_html,
        created_at=T0,
        updated_at=T0,
    )


DEVICES = (
    "router", "modem", "set-top box", "TV remote", "landline phone", "mesh extender",
    "fibre ONT", "smart plug", "voicemail", "mobile app", "SIM card", "security camera",
)  # fmt: skip
SYMPTOMS = (
    "keeps rebooting", "shows a red light", "is slow in the evening", "will not pair",
    "loses its settings", "makes a buzzing noise", "has no dial tone", "shows error 651",
    "gets very hot", "freezes on the logo", "blinks orange", "asks for a password",
)  # fmt: skip
FIXES = (
    "unplug it for thirty seconds", "check the cable at the wall socket",
    "reset it with a paperclip", "update the firmware from the app",
    "move it away from the microwave", "ask the neighbours whether they see the same",
    "swap the power adapter", "restore defaults from the admin page",
)  # fmt: skip
EXTRAS = (
    "Support told me the same on the phone.", "It took about five minutes.",
    "Worked for me after the storm on Tuesday.", "Keep the receipt for the shop.",
    "The engineer visit was not needed in the end.", "Thanks to everyone who replied.",
)  # fmt: skip
CATEGORIES = ("Internet", "TV", "Phone", "Mobile", "Billing")
AUTHORS = ("Amara Okafor", "Björn Åström", "Chen Wei", "Dolores Núñez", "Eitan Levi")


def generate(n: int = 300, *, seed: int = 20241224) -> list[Bulletin]:
    rng = random.Random(seed)
    out: list[Bulletin] = []
    for i in range(1, n + 1):
        device, symptom = rng.choice(DEVICES), rng.choice(SYMPTOMS)
        fixes = rng.sample(FIXES, rng.randint(1, 3))
        items = "".join(f"<li>{fix.capitalize()}</li>" for fix in fixes)
        extra = " ".join(rng.sample(EXTRAS, rng.randint(0, 3)))
        created = T0 - timedelta(days=rng.randint(0, 900))
        b = bulletin(
            100 + i,
            f"{device.capitalize()} {symptom}",
            f"<p>My {device} {symptom} since last week.</p><ul>{items}</ul><p>{extra}</p>",
            tags=(device.replace(" ", "-"), rng.choice(("fix", "howto", "outage"))),
            category=rng.choice(CATEGORIES),
            author_name=rng.choice(AUTHORS),
        )
        out.append(dataclasses.replace(b, created_at=created, updated_at=created))
    return out


def generated_hits(bulletins: Sequence[Bulletin], *, seed: int = 7) -> dict[int, int]:
    rng = random.Random(seed)
    return {b.id: int(rng.paretovariate(1.2) * 10) for b in bulletins}
