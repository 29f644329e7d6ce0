"""Self-help pages on a phone: headless Chromium on a 390x844 screen (tests/support/chromium.py)
against the front door with its self-help layer, fed by the community simulator's seeded
content (tests/support/selfhelp_stack.py): 300 customer-written bulletins, some with code
blocks, long unbroken words and URLs, and hostile HTML.

Every page visited goes through the phone audit (tests/support/phone_audit.py: no sideways
scrolling, readable text, thumb-sized tap targets, an h1 and a title, no script of any kind
and no console error); screenshots are saved under the test's tmp_path (``shots/``) for a
human to look at.

The bulletins visited are picked from the seed by what makes them risky on a small screen
(`layout_suspects`), so they follow the seed if it changes. The seed has no table today;
one is visited as soon as it has.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

import pytest_asyncio
from playwright.async_api import Browser

from failover.routing import SELF_HELP
from sims.community import CommunitySim, Seed, Topic
from sims.community_text import HOSTILE, LINKS
from switchboard.app import POOL
from tests.support.chromium import document_responses, tap_and_wait_for_load
from tests.support.phone_audit import assert_no_problems, phone_page, visit
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import wait_for


def _first_post(topic: Topic) -> str:
    return topic.posts[0].cooked


def _widest_code_line(topic: Topic) -> int:
    blocks = re.findall(r"<pre\b.*?</pre>", _first_post(topic), re.DOTALL)
    lines = (html.unescape(re.sub(r"<[^>]+>", "", b)).splitlines() for b in blocks)
    return max((len(line) for block in lines for line in block), default=0)


def _longest_word(topic: Topic) -> int:
    text = html.unescape(re.sub(r"<[^>]+>", " ", _first_post(topic)))
    return max((len(word) for word in text.split()), default=0)


def layout_suspects(seed: Seed) -> dict[str, Topic]:
    """The bulletins most likely to break a phone layout, by what they are picked for: the
    longest body, the widest code block, a table (the seed may have none), the longest
    unbroken word or URL, the longest title, one with Discourse's markup (mentions,
    hashtags, emoji, a local date: issue 19) and one of each kind of hostile HTML."""
    topics = sorted(seed.topics, key=lambda t: t.id)
    picks: dict[str, Topic] = {
        "longest-body": max(topics, key=lambda t: len(_first_post(t))),
        "widest-code": max(topics, key=_widest_code_line),
        "longest-word": max(topics, key=_longest_word),
        "longest-title": max(topics, key=lambda t: len(t.title)),
    }
    table = next((t for t in topics if "<table" in _first_post(t)), None)
    if table is not None:
        picks["table"] = table
    picks["discourse-markup"] = next(t for t in topics if t.discourse_markup)
    assert "<pre" in _first_post(picks["widest-code"]), "the seed has no code block any more"
    for number, payload in enumerate(HOSTILE):
        hostile = next((t for t in topics if t.hostile and payload in _first_post(t)), None)
        if hostile is not None:
            picks[f"hostile-{number}"] = hostile
    assert any(name.startswith("hostile") for name in picks), "the seed has no hostile HTML"
    unique: dict[str, Topic] = {}  # one visit per bulletin, under the first reason it has
    for name, topic in picks.items():
        if all(topic.id != other.id for other in unique.values()):
            unique[name] = topic
    return unique


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    (tmp_path / "stack").mkdir()
    async with (
        CommunitySim() as community,
        help_stack(tmp_path / "stack", redis=None, community=community) as s,
    ):
        yield s


def _in_self_help(stack: HelpStack) -> bool:
    return stack.app[POOL].snapshot().router.current == SELF_HELP


async def test_every_kind_of_help_page_is_readable_and_script_free_on_a_phone(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page, shots = await phone_page(browser), tmp_path / "shots"
    suspects = layout_suspects(stack.community.seed)
    long_url = max((url for _, url in LINKS), key=len)
    visits = [
        await visit(page, stack.url, "help", "/help", shots),
        await visit(page, stack.url, "search", "/help/search?q=wifi+dropping", shots),
        await visit(page, stack.url, "search-url", f"/help/search?q={quote_plus(long_url)}", shots),
        await visit(page, stack.url, "authors", "/help/authors", shots),
    ]
    assert await page.evaluate("document.querySelectorAll('main .list li').length") >= 10
    for name, topic in suspects.items():
        seen = await visit(page, stack.url, name, f"/help/bulletins/{topic.id}", shots)
        assert seen.audit["h1"] == " ".join(topic.title.split()), f"{name}: another page?"
        visits.append(seen)

    assert_no_problems(visits)


async def test_a_vote_works_with_javascript_off_and_lands_back_on_the_bulletin(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page = await phone_page(browser, javascript=False)
    topic = layout_suspects(stack.community.seed)["widest-code"]
    await page.goto(f"{stack.url}/help/bulletins/{topic.id}")
    assert not await page.evaluate("document.body.innerText.includes('Thanks for telling us')")

    await tap_and_wait_for_load(page, "form.votes button[value=yes]")

    landed = await page.evaluate("location.pathname + location.search")
    assert landed == f"/help/bulletins/{topic.id}?voted=1"
    posted, final = document_responses(page)[-2:]
    assert (posted.url, posted.status) == (f"{stack.url}/help/bulletins/{topic.id}/vote", 303)
    assert final.status == 200
    # Seen without scrolling: the vote buttons sit below the whole bulletin, and the page
    # comes back scrolled to the top.
    thanks = await page.evaluate(
        "[...document.querySelectorAll('[role=status]')]"
        ".filter(n => n.offsetHeight > 0 && n.getBoundingClientRect().bottom <= innerHeight)"
        ".map(n => n.innerText.trim())"
    )
    assert "Thanks for telling us." in thanks, f"no thanks on the first screen: {thanks}"
    after = await visit(page, stack.url, "voted", None, tmp_path / "shots")
    assert_no_problems([after])


async def test_in_a_failover_help_shows_the_outage_and_support_leads_to_a_bulletin(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page, shots = await phone_page(browser), tmp_path / "shots"
    await stack.callcenter.set_mode("down")
    await wait_for(lambda: _in_self_help(stack), within=5, what="routing to self-help")
    now = datetime.now(UTC)

    landing = await visit(page, stack.url, "help-outage", "/help", shots)
    banner = await page.evaluate(
        "(() => { const b = document.querySelector('.banner[role=status]');"
        " return b && b.offsetHeight > 0 ? b.innerText : null; })()"
    )
    assert banner is not None, "no visible outage banner"
    since = re.search(r"call centers are unavailable since (\d\d:\d\d) UTC", banner)
    assert since is not None, banner
    assert since.group(1) in {(now - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}

    await page.goto(f"{stack.url}/support/router/wifi-dropping")
    redirect, final = document_responses(page)[-2:]
    assert redirect.status == 303
    assert redirect.headers["location"] == "/help/search?q=router+wifi+dropping"
    assert (final.url, final.status) == (f"{stack.url}/help/search?q=router+wifi+dropping", 200)
    results = await visit(page, stack.url, "support-search", None, shots)
    links = await page.evaluate(
        "[...document.querySelectorAll('main .list a.title')]"
        ".map(a => [a.getAttribute('href'), a.innerText.trim()])"
    )
    assert len(links) >= 1, "no result links"
    href, title = links[0]
    assert href.startswith("/help/bulletins/")

    await tap_and_wait_for_load(page, "main .list a.title")

    assert await page.evaluate("location.pathname") == href
    assert document_responses(page)[-1].status == 200
    opened = await visit(page, stack.url, "support-bulletin", None, shots)
    assert opened.audit["h1"] == title
    assert_no_problems([landing, results, opened])
