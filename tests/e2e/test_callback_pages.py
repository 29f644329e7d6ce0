"""The callback form on a phone: headless Chromium on a 390x844 screen, the page's own
JavaScript off (the pages need none), against the front door with a real redis-server:
asked for, refused for a bad phone, refused for no way to reach the customer. How the
help pages look in an outage (the callback button, contrast, print) is in
tests/e2e/test_help_pages_in_outage.py.

The test types as a customer would, by setting the fields' values from outside the page
(Playwright's evaluate, which works with the page's scripts off), and sends the form with
a real tap on its button. Each page is audited as the self-help pages are
(`tests/support/phone_audit.py`: no sideways scrolling, readable text, 44 px tap
targets, no script), plus the form's own fields: 44 px tall and 16 px text (below that iOS
zooms in on focus).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.support.chromium import document_responses, tap_and_wait_for_load
from tests.support.phone_audit import (
    MIN_BODY_FONT_PX,
    MIN_TAP_PX,
    Visit,
    assert_no_problems,
    phone_page,
    visit,
)
from tests.support.selfhelp_stack import HelpStack, help_world
from tests.support.stack import wait_for

TYPED = {
    "name": "Ada Lovelace",
    "phone": "(415) 555-2671",
    "email": "ada@example.com",
    "topic": "router keeps rebooting",
    "preferred_time": "after 18:00",
    "note": "Second floor flat.\nRing twice.",
}

# The form's own fields, as a thumb and an eye meet them (the audit checks buttons only).
FIELDS_JS = """[...document.querySelectorAll(
    'form.callback input:not([type=hidden]), form.callback textarea')].map(el => ({
  name: el.name,
  height: el.getBoundingClientRect().height,
  fontPx: parseFloat(getComputedStyle(el).fontSize),
}))"""


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    async with help_world(tmp_path, warm=False) as s:
        yield s


async def audited(page: Page, base: str, name: str, path: str | None, shots: Path) -> Visit:
    """`visit`, with the callback form's fields checked as a thumb and an eye meet them."""
    seen = await visit(page, base, name, path, shots)
    fields: list[dict[str, Any]] = await page.evaluate(FIELDS_JS)
    for f in fields:
        assert f["height"] >= MIN_TAP_PX, f"{name}: field {f['name']} is {f['height']} px tall"
        assert f["fontPx"] >= MIN_BODY_FONT_PX, f"{name}: field {f['name']} has {f['fontPx']} px"
    return seen


async def fill(page: Page, values: dict[str, str]) -> None:
    """Type into the callback form: set each field's value, as typing would leave it."""
    await page.evaluate(
        f"Object.entries({json.dumps(values)}).forEach(([name, value]) => {{"
        " document.querySelector(`form.callback [name=${name}]`).value = value; })"
    )


SUMMARY_JS = """(() => {
  const s = document.getElementById('errors'), main = document.querySelector('main');
  const style = getComputedStyle(s);
  return {first: main.firstElementChild === s, focused: document.activeElement === s,
          active: document.activeElement && document.activeElement.outerHTML.slice(0, 60),
          links: [...s.querySelectorAll('a')].map(a => a.getAttribute('href')),
          background: style.backgroundColor, bannerYellow: 'rgb(255, 244, 206)',
          borderLeft: parseFloat(style.borderLeftWidth)};
})()"""


async def values_shown(page: Page) -> dict[str, str]:
    return dict(
        await page.evaluate(
            "[...document.querySelectorAll('form.callback [name]')]"
            ".filter(el => el.type !== 'hidden').map(el => [el.name, el.value])"
        )
    )


async def test_a_callback_asked_for_on_a_phone_shows_its_ticket_and_both_pages_read_well(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page, shots = await phone_page(browser, javascript=False), tmp_path / "shots"
    form = await audited(page, stack.url, "callback-form", "/help/callbacks/new", shots)
    assert form.audit["h1"] == "Ask us to call you back"
    await fill(page, TYPED)

    await tap_and_wait_for_load(page, "form.callback button[type=submit]")

    posted = document_responses(page)[-1]
    assert (posted.url, posted.status) == (f"{stack.url}/help/callbacks", 202)
    accepted = await audited(page, stack.url, "callback-accepted", None, shots)
    assert accepted.audit["h1"] == "We will call you back"
    ticket = await page.evaluate(
        "(() => { const t = document.querySelector('.ticket');"
        " return t && t.offsetHeight > 0 ? t.innerText : null; })()"
    )
    assert ticket is not None, "no visible ticket"
    assert ticket.startswith("cb_")
    assert "What happens next" in await page.evaluate("document.body.innerText")
    assert_no_problems([form, accepted])
    await wait_for(lambda: len(stack.callcenter.callbacks) == 1, within=5, what="delivery")
    (delivery,) = stack.callcenter.callbacks
    assert isinstance(delivery.body, dict)
    assert (delivery.body["ticket"], delivery.body["phone"]) == (ticket, "+14155552671")


async def test_a_bad_phone_on_a_phone_is_shown_next_to_the_field_with_what_was_typed_kept(
    tmp_path: Path, browser: Browser, stack: HelpStack
) -> None:
    page, shots = await phone_page(browser, javascript=False), tmp_path / "shots"
    await page.goto(f"{stack.url}/help/callbacks/new")
    typed = TYPED | {"phone": "12345"}
    await fill(page, typed)

    await tap_and_wait_for_load(page, "form.callback button[type=submit]")

    assert document_responses(page)[-1].status == 422
    refused = await audited(page, stack.url, "callback-refused", None, shots)
    assert await values_shown(page) == typed
    error = await page.evaluate(
        """(() => {
      const input = document.querySelector('#cb-phone'), error = document.querySelector(
        '#cb-phone-error');
      if (!error || error.offsetHeight === 0) return null;
      const e = error.getBoundingClientRect(), i = input.getBoundingClientRect();
      return {text: error.innerText, sameField: error.parentElement === input.parentElement,
              gapPx: i.top - e.bottom, invalid: input.getAttribute('aria-invalid'),
              describedBy: input.getAttribute('aria-describedby'),
              others: document.querySelectorAll('.field .error').length};
    })()"""
    )
    assert error is not None, "no visible error for the phone field"
    assert error["text"].startswith("not a valid phone number")
    assert error["sameField"]
    assert 0 <= error["gapPx"] <= 16, f"the message is {error['gapPx']} px above the field"
    # The error joins the hint (issue 19), it does not replace it.
    assert (error["invalid"], error["describedBy"]) == ("true", "cb-phone-hint cb-phone-error")
    assert error["others"] == 1
    assert_no_problems([refused])
    assert stack.callcenter.callbacks == ()
    # The summary: first in <main>, focused after the post with no script (the form's
    # action ends in #errors), not styled like the yellow outage banner, and its link
    # leads to the field.
    summary = await page.evaluate(SUMMARY_JS)
    assert summary["first"], "the error summary is not the first thing in <main>"
    assert summary["focused"], f"focus is on {summary['active']}, not on the summary"
    assert summary["links"] == ["#cb-phone"]
    assert summary["background"] != summary["bannerYellow"]
    assert summary["borderLeft"] >= 4
    async with page.expect_navigation():  # to a fragment of the same page: it loads nothing
        await page.tap("#errors a")
    assert await page.evaluate("document.activeElement.id") == "cb-phone"


async def test_no_phone_and_no_email_marks_both_fields_with_one_message(
    browser: Browser, stack: HelpStack
) -> None:
    page = await phone_page(browser, javascript=False)
    await page.goto(f"{stack.url}/help/callbacks/new")
    await fill(page, TYPED | {"phone": "", "email": ""})
    await tap_and_wait_for_load(page, "form.callback button[type=submit]")
    assert document_responses(page)[-1].status == 422
    wiring = await page.evaluate(
        "['cb-phone', 'cb-email'].map(id => { const el = document.getElementById(id);"
        " return [el.getAttribute('aria-invalid'), el.getAttribute('aria-describedby')]; })"
    )
    assert wiring == [["true", "cb-phone-hint cb-contact-error"], ["true", "cb-contact-error"]]
    assert (await page.evaluate("document.title")).startswith("Error: ")
    assert (await page.evaluate(SUMMARY_JS))["focused"]


async def test_an_email_address_the_browser_would_refuse_reaches_the_server(
    browser: Browser, stack: HelpStack
) -> None:
    """Chromium's own check of a `type=email` field refuses "jörg@example.de" (a
    non-ASCII local part) with its own popup, in its own language; the server takes it.
    The form is `novalidate`: the tap sends it, and the server says what is wrong, if
    anything, beside the field."""
    page = await phone_page(browser, javascript=False)
    await page.goto(f"{stack.url}/help/callbacks/new")
    await fill(page, TYPED | {"phone": "", "email": "jörg@example.de"})
    await tap_and_wait_for_load(page, "form.callback button[type=submit]")
    posted = document_responses(page)[-1]
    assert (posted.url, posted.status) == (f"{stack.url}/help/callbacks", 202)
    await wait_for(lambda: len(stack.callcenter.callbacks) == 1, within=5, what="delivery")
    (delivery,) = stack.callcenter.callbacks
    assert isinstance(delivery.body, dict)
    assert delivery.body["email"] == "jörg@example.de"
