"""The help pages on a phone in an outage, headless Chromium with the page's own JavaScript
off, against the front door with a real redis-server: the callback as the banner's main
action (a full-width button), every text at WCAG AA contrast in light and dark mode (the
refused callback form included), and a bulletin's print. The stack and the callback
form's typing are tests/e2e/test_callback_pages.py's.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.e2e import test_callback_pages as callback_pages
from tests.e2e.test_callback_pages import TYPED, fill
from tests.support.chromium import tap_and_wait_for_load
from tests.support.phone_audit import MIN_TAP_PX, assert_no_problems, phone_page, visit
from tests.support.selfhelp_stack import HelpStack
from tests.support.stack import wait_for

# The fixture, defined once in tests/e2e/test_callback_pages.py.
stack = callback_pages.stack


CTA_JS = """(() => {
  const banner = document.querySelector('main .banner[role=status]');
  const cta = banner && banner.querySelector('a.cta');
  if (!cta) return null;
  const b = banner.getBoundingClientRect(), c = cta.getBoundingClientRect();
  const style = getComputedStyle(banner);
  const inner = b.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
    - parseFloat(style.borderLeftWidth) - parseFloat(style.borderRightWidth);
  const main = document.querySelector('main');
  const firstLink = main.querySelector('a[href], button');
  return {width: c.width, inner, height: c.height, href: cta.getAttribute('href'),
          lastInBanner: banner.lastElementChild === cta, firstAction: firstLink === cta,
          belowText: c.top >= banner.querySelector('strong').getBoundingClientRect().bottom};
})()"""


async def test_in_an_outage_the_callback_is_the_page_s_main_action_a_full_width_button(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page, shots = await phone_page(browser, javascript=False), tmp_path / "shots"
    await stack.callcenter.set_mode("down")
    await wait_for(lambda: stack.self_help.outage().active, within=5, what="the outage")
    some = stack.community.seed.topics[0].id
    seen = []
    for name, path in (("outage-help", "/help"), ("outage-bulletin", f"/help/bulletins/{some}")):
        seen.append(await visit(page, stack.url, name, path, shots))
        cta = await page.evaluate(CTA_JS)
        assert cta is not None, f"{path}: no callback button in the outage banner"
        assert cta["href"] == "/help/callbacks/new"
        assert cta["width"] >= cta["inner"] - 1, f"{path}: the button is {cta['width']} px wide"
        assert cta["height"] >= MIN_TAP_PX
        assert cta["lastInBanner"], cta
        assert cta["belowText"], cta
        assert cta["firstAction"], cta
    assert_no_problems(seen)
    await tap_and_wait_for_load(page, "main .banner a.cta")
    assert await page.evaluate("location.pathname") == "/help/callbacks/new"


# Every visible piece of text in <main>: its colour against the first opaque background
# behind it (WCAG relative luminance), as the browser computed both.
CONTRAST_JS = """(() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const behind = el => { for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text || el.offsetParent === null) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3), bg = behind(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({what: `${el.tagName.toLowerCase()}.${el.className}`,
              ratio: (hi + 0.05) / (lo + 0.05), fg: fg.join(','), bg: bg.join(',')});
  }
  return {texts: out, scheme: matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light',
          background: getComputedStyle(document.querySelector('main')).backgroundColor};
})()"""
AA = 4.5


async def test_every_text_reads_at_aa_contrast_in_light_and_dark_mode(
    browser: Browser, stack: HelpStack
) -> None:
    page = await phone_page(browser, javascript=False)
    await stack.callcenter.set_mode("down")
    await wait_for(lambda: stack.self_help.outage().active, within=5, what="the outage")
    await wait_for(stack.self_help.runtime.started.is_set, within=20, what="warm-up")
    some = stack.community.seed.topics[0].id
    backgrounds = {}
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for path in ("/help", f"/help/bulletins/{some}", "/help/search?q=router+wifi"):
            await page.goto(stack.url + path)
            seen = await page.evaluate(CONTRAST_JS)
            assert seen["scheme"] == scheme
            backgrounds[scheme] = seen["background"]
            low = [t for t in seen["texts"] if t["ratio"] < AA]
            assert not low, f"{scheme} {path}: under {AA}:1: {low[:5]}"
            whats = {t["what"].split(".")[0] for t in seen["texts"]}
            assert {"strong", "a"} <= whats, whats  # the banner, the button, links
        # The refused form: the error summary, the fields' errors, hints and labels.
        await page.goto(f"{stack.url}/help/callbacks/new")
        await fill(page, TYPED | {"phone": "", "email": ""})
        await tap_and_wait_for_load(page, "form.callback button[type=submit]")
        seen = await page.evaluate(CONTRAST_JS)
        low = [t for t in seen["texts"] if t["ratio"] < AA]
        assert not low, f"{scheme} refused form: under {AA}:1: {low[:5]}"
        assert any(t["what"].startswith("p.error") for t in seen["texts"])
    assert backgrounds["light"] != backgrounds["dark"]


async def test_a_bulletin_prints_black_on_white_without_forms_buttons_or_footer(
    browser: Browser, stack: HelpStack
) -> None:
    page = await phone_page(browser, javascript=False)
    await stack.callcenter.set_mode("down")
    await wait_for(lambda: stack.self_help.outage().active, within=5, what="the outage")
    await page.emulate_media(media="print", color_scheme="dark")
    await page.goto(f"{stack.url}/help/bulletins/{stack.community.seed.topics[0].id}")
    printed = await page.evaluate(
        """(() => ({
      hidden: ['form.search', 'form.votes', 'footer', '.banner a.cta'].map(
        s => { const el = document.querySelector(s); return el && el.offsetParent === null; }),
      h1: getComputedStyle(document.querySelector('h1')).color,
      body: getComputedStyle(document.querySelector('.body')).color,
      main: getComputedStyle(document.querySelector('main')).backgroundColor,
      title: document.querySelector('h1').offsetHeight > 0,
    }))()"""
    )
    assert printed["hidden"] == [True, True, True, True]
    assert (printed["h1"], printed["body"]) == ("rgb(0, 0, 0)", "rgb(0, 0, 0)")
    assert printed["main"] == "rgb(255, 255, 255)"
    assert printed["title"]
