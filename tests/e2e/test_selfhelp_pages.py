"""Self-help pages on a phone: headless Chromium on a 390x844 screen (tests/support/chromium.py)
against the front door with its self-help layer, fed by the community simulator's seeded
content (tests/support/selfhelp_stack.py): 300 customer-written bulletins, some with code
blocks, long unbroken words and URLs, and hostile HTML.

Every page visited is audited the same way (`AUDIT_JS`, `problems`): no sideways scrolling,
readable text, thumb-sized tap targets, an h1 and a title, no script of any kind and no
console error. Screenshots of each page, its first screen and all of it, are saved under
the test's tmp_path (``shots/``) for a human to look at; the assertions list every problem
on every page at once, and where the screenshots are.

The bulletins visited are picked from the seed by what makes them risky on a small screen
(`layout_suspects`), so they follow the seed if it changes. The seed has no table today;
one is visited as soon as it has.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest_asyncio
from playwright.async_api import Browser, Page

from failover.routing import SELF_HELP
from sims.community import CommunitySim, Seed, Topic
from sims.community_text import HOSTILE, LINKS
from switchboard.app import POOL
from tests.support.chromium import (
    PNG_SIGNATURE,
    console_errors,
    document_responses,
    new_page,
    tap_and_wait_for_load,
)
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import wait_for

# An iPhone 12-15 class screen: CSS pixels, and three device pixels per CSS pixel.
PHONE_WIDTH, PHONE_HEIGHT, PHONE_SCALE = 390, 844, 3.0
MIN_BODY_FONT_PX = 16  # below this iOS zooms into form fields and small text tires the eye
MIN_TEXT_PX = 14  # the smallest print anywhere (meta lines, notes)
MIN_TAP_PX = 44  # Apple HIG; WCAG 2.5.5 asks the same

# What a thumb aims at: buttons, the call-center and callback buttons, the title link of
# each list entry, the error summary's links, the brand's header link and the footer's
# links. Links inside running text (a bulletin's body, a sentence in a banner) are exempt,
# as WCAG exempts inline links; a link that is neither is reported ("unclassified"), so
# that a new kind of link gets a decision instead of slipping through.
# A function of the smallest text size allowed, called as f"{AUDIT_JS}({MIN_TEXT_PX})".
AUDIT_JS = """(minTextPx => {
  const TAP = 'button, input[type=submit], a.button, .list a.title, .errors a, .brand a, footer a';
  const main = document.querySelector('main');
  const label = el => (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ');
  const targets = [], unclassified = [];
  for (const el of main ? main.querySelectorAll('a[href], button, input[type=submit]') : []) {
    const box = el.getBoundingClientRect();
    if (el.matches(TAP)) {
      targets.push({what: `${el.tagName.toLowerCase()} "${label(el).slice(0, 50)}"`,
                    height: box.height});
    } else if (!el.closest('.body')
               && label(el.parentElement).length <= label(el).length) {
      unclassified.push(label(el).slice(0, 50));
    }
  }
  const small = new Set();
  for (const el of main ? main.querySelectorAll('*') : []) {
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (text && el.offsetParent !== null && px < minTextPx) {
      small.add(`${el.tagName.toLowerCase()}.${el.className} ${px}px`);
    }
  }
  const h1 = document.querySelector('h1');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    bodyFontPx: parseFloat(getComputedStyle(document.body).fontSize),
    smallText: [...small],
    h1: h1 && h1.offsetHeight > 0 ? label(h1) : null,
    title: document.title.trim(),
    scripts: document.querySelectorAll('script').length,
    handlers: document.querySelectorAll('[onerror],[onclick],[onload],[onmouseover]').length,
    jsLinks: [...document.links].filter(a => a.protocol === 'javascript:').length,
    bareLinks: document.querySelectorAll('a:not([href])').length,
    relativeBodyLinks: [...document.querySelectorAll('.body a[href]')]
      .filter(a => a.host === location.host).length,
    frames: document.querySelectorAll('iframe, frame, object, embed').length,
    foreignForms: [...document.forms]
    .filter(f => !f.matches('form.search, form.votes, form.callback')).length,
    styles: document.querySelectorAll('body style, [style]').length,
    hiddenCode: [...document.querySelectorAll('.body pre')]
      .filter(p => p.scrollWidth > p.clientWidth + 1).length,
    targets, unclassified,
  };
})"""


@dataclass(frozen=True, slots=True)
class Visit:
    name: str
    path: str
    audit: dict[str, Any]
    console: list[str]
    shot: Path


def problems(visit: Visit) -> list[str]:
    """What is wrong with one page, in words; empty when nothing is."""
    a, out = visit.audit, []
    if a["innerWidth"] != PHONE_WIDTH:
        # A phone widens its layout viewport (zooming the page out) to fit content wider
        # than the screen, so overflow shows up here too, not only in scrollWidth.
        out.append(
            f"laid out {a['innerWidth']} px wide on a {PHONE_WIDTH} px screen: "
            "content wider than the screen, or no viewport meta"
        )
    if a["scrollWidth"] > a["innerWidth"]:
        out.append(f"scrolls sideways: {a['scrollWidth']} px of content in {a['innerWidth']}")
    if a["bodyFontPx"] < MIN_BODY_FONT_PX:
        out.append(f"body text is {a['bodyFontPx']} px")
    if a["smallText"]:
        out.append(f"text under {MIN_TEXT_PX} px: {a['smallText']}")
    out += [
        f"tap target {t['what']} is {t['height']:.0f} px tall"
        for t in a["targets"]
        if t["height"] < MIN_TAP_PX
    ]
    if a["unclassified"]:
        out.append(f"links neither tap targets nor inline in text: {a['unclassified']}")
    if not a["h1"]:
        out.append("no visible h1")
    if not a["title"].removesuffix("· Support").strip():
        out.append(f"no page title of its own: {a['title']!r}")
    for key, what in (
        ("scripts", "<script> elements"),
        ("handlers", "inline event handlers"),
        ("jsLinks", "javascript: links"),
        # Lighthouse SEO "Links are crawlable": an <a> without href is not a link (issue 19)
        ("bareLinks", "links without an address"),
        # a bulletin's links lead to the community site, never back to this host (issue 19)
        ("relativeBodyLinks", "bulletin links to the front door's own host"),
        ("frames", "frames or plugins"),
        ("foreignForms", "forms of the content's own"),
        ("styles", "style elements or attributes in the body"),
        ("hiddenCode", "code blocks that hide text sideways"),
    ):
        if a[key]:
            out.append(f"{a[key]} {what}")
    out += [f"console: {line}" for line in visit.console]
    return out


def assert_no_problems(visits: list[Visit]) -> None:
    """Fail with every problem of every page, one a line, and where the screenshots are."""
    lines = [f"{v.name} ({v.path}): {p}" for v in visits for p in problems(v)]
    shots = sorted({str(v.shot.parent) for v in visits})
    assert not lines, "\n".join(["", *lines, f"screenshots in {', '.join(shots)}"])


async def visit(page: Page, base: str, name: str, path: str | None, shots: Path) -> Visit:
    """Open ``path`` (None: the page already on screen), audit it and save screenshots:
    the first screen as ``shots/NN-name.png``, all of the page as ``NN-name-full.png``."""
    errors_before = len(console_errors(page))
    if path is not None:
        await page.goto(base + path)
    audit = await page.evaluate(f"{AUDIT_JS}({MIN_TEXT_PX})")
    # One pixel per CSS pixel (not the phone's three): sharp enough to judge, and small.
    first_screen = await page.screenshot(scale="css")
    whole = await page.screenshot(full_page=True, scale="css")
    assert first_screen.startswith(PNG_SIGNATURE)
    assert whole.startswith(PNG_SIGNATURE)
    shot = _save(shots, name, first_screen, whole)
    shown = path if path is not None else await page.evaluate("location.pathname + location.search")
    return Visit(name, shown, audit, console_errors(page)[errors_before:], shot)


def _save(shots: Path, name: str, first_screen: bytes, whole: bytes) -> Path:
    shots.mkdir(exist_ok=True)
    shot = shots / f"{len(list(shots.glob('*-full.png'))):02d}-{name}.png"
    shot.write_bytes(first_screen)
    shot.with_name(f"{shot.stem}-full.png").write_bytes(whole)
    return shot


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


async def phone_page(
    browser: Browser, *, javascript: bool = True, headers: dict[str, str] | None = None
) -> Page:
    """A phone's page: its screen, touch, and the page's own scripts on or off."""
    return await new_page(
        browser, width=PHONE_WIDTH, height=PHONE_HEIGHT, scale=PHONE_SCALE, mobile=True,
        javascript=javascript, headers=headers,
    )  # fmt: skip


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
