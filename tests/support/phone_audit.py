"""The phone audit of the customer pages: a phone's page in headless Chromium on a 390x844
screen (tests/support/chromium.py), and what every page visited on it must pass.

Every page visited is audited the same way (`AUDIT_JS`, `problems`): no sideways scrolling,
readable text, thumb-sized tap targets, an h1 and a title, no script of any kind and no
console error. Screenshots of each page, its first screen and all of it, are saved under
the test's tmp_path (``shots/``) for a human to look at; the assertions list every problem
on every page at once, and where the screenshots are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.support.chromium import PNG_SIGNATURE, console_errors, new_page

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


async def phone_page(
    browser: Browser, *, javascript: bool = True, headers: dict[str, str] | None = None
) -> Page:
    """A phone's page: its screen, touch, and the page's own scripts on or off."""
    return await new_page(
        browser, width=PHONE_WIDTH, height=PHONE_HEIGHT, scale=PHONE_SCALE, mobile=True,
        javascript=javascript, headers=headers,
    )  # fmt: skip
