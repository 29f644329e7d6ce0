"""The callback form on a phone: headless Chromium on a 390x844 screen, the page's own
JavaScript off (the pages need none), against the front door with a real redis-server.

The test types as a customer would, by setting the fields' values over DevTools
(Runtime.evaluate), and sends the form with a real tap on its button. Each page is
audited as the self-help pages are (`tests/e2e/test_selfhelp_pages.py`: no sideways
scrolling, readable text, 44 px tap targets, no script), plus the form's own fields:
44 px tall and 16 px text (below that iOS zooms in on focus).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from sims.community import CommunitySim
from tests.e2e.test_selfhelp_pages import (
    MIN_BODY_FONT_PX,
    MIN_TAP_PX,
    Visit,
    assert_no_problems,
    phone_page,
    visit,
)
from tests.support.cdp import Browser, Page
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack
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
    (tmp_path / "stack").mkdir()
    async with (
        RedisServer(tmp_path / "redis") as redis,
        CommunitySim() as community,
        help_stack(tmp_path / "stack", redis=redis, community=community, warm=False) as s,
    ):
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
    page, shots = await phone_page(browser), tmp_path / "shots"
    await page.set_javascript(enabled=False)
    form = await audited(page, stack.url, "callback-form", "/help/callbacks/new", shots)
    assert form.audit["h1"] == "Ask us to call you back"
    await fill(page, TYPED)

    await page.tap_and_wait_for_load("form.callback button[type=submit]")

    posted = page.document_responses()[-1]
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
    page, shots = await phone_page(browser), tmp_path / "shots"
    await page.set_javascript(enabled=False)
    await page.navigate(f"{stack.url}/help/callbacks/new")
    typed = TYPED | {"phone": "12345"}
    await fill(page, typed)

    await page.tap_and_wait_for_load("form.callback button[type=submit]")

    assert page.document_responses()[-1].status == 422
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
    assert (error["invalid"], error["describedBy"]) == ("true", "cb-phone-error")
    assert error["others"] == 1
    assert_no_problems([refused])
    assert stack.callcenter.callbacks == ()
