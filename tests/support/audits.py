"""The customer pages' audits as the field runs them: axe-core (WCAG 2.0, 2.1 and 2.2, A and
AA) injected into each page in the real Chromium (Playwright's evaluate), and Lighthouse
(its four categories, phone profile) from Node. Both come from the npm registry, pinned in
tests/browser/package-lock.json and installed by `make test` (`npm ci`).

A page state is a page as a customer meets it: a URL, or a form sent from a URL (a POST's
answer has no URL of its own), with the HTTP status it must have and a JavaScript
expression that proves the page is the one meant (a search without results really has
none), so that an audit never passes on the wrong page.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from playwright.async_api import Page

from cache.languages import shipped
from tests.support.chromium import CHROMIUM
from tests.support.processes import stop_process

TOOLS: Final = Path(__file__).resolve().parents[1] / "browser"  # tests/browser
AXE_JS: Final = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
LIGHTHOUSE_JS: Final = TOOLS / "lighthouse.mjs"
# axe-core's names for WCAG 2.0, 2.1 and 2.2 at levels A and AA (2.2 added AA rules only:
# axe has no "wcag22a" tag).
AXE_TAGS: Final = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
LIGHTHOUSE_CATEGORIES: Final = ("performance", "accessibility", "best-practices", "seo")
# Chromium for Lighthouse as for the other browser tests (tests/support/chromium.py): headless,
# off the network (this machine refuses outside connections; Chromium would retry them
# all the time and add noise to the traces).
LIGHTHOUSE_FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
)
LIGHTHOUSE_TIMEOUT: Final = 300.0  # seconds, for every state of one plan together
# A state whose performance is under 100 is run this many times, and the median counts
# (tests/browser/lighthouse.mjs): the score is computed from what the machine did, and
# Lighthouse's docs on variability advise the median of 5.
RUNS_IN_DOUBT: Final = 5


def shipped_languages() -> tuple[str, ...]:
    """The languages the customer pages ship in (the catalogs in cache/locale, plus
    English); each is audited (asked for with Accept-Language, checked in <html lang>),
    so a new language is audited without touching this test."""
    return shipped()


@dataclass(frozen=True, slots=True, kw_only=True)
class PageState:
    """One customer page in one state: where it is, how it is reached, what proves it."""

    name: str
    path: str  # the page, or the form's page when `fill` is set
    status: int = 200  # the HTTP status the page is answered with
    proof: str = "true"  # JavaScript, true on the page meant
    fill: dict[str, str] | None = None  # the form's fields: the state is the answer to it
    submit: str = "form.callback button[type=submit]"
    static_stage: bool = False  # the load-shedding static stage (kernel/overload.py)
    outage: bool = True  # also a state of its own during an outage


def banner(*, outage: bool) -> str:
    """The outage banner is there exactly when it should be, in any language: a banner
    with its headline (<strong>) followed by the search form (base.html) or, on the
    static page, which has no search form, by that page's own headlined banner (the
    static page's banner is followed by neither; the busy call center's offer has no
    headline)."""
    shown = (
        "(() => { const heads = [...document.querySelectorAll('main > p.banner > strong')];"
        " const after = [document.querySelector('form.search'), ...heads].filter(Boolean);"
        " return heads.some(s => after.some(t => t !== s &&"
        " (s.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING))); })()"
    )
    return shown if outage else f"!{shown}"


TYPED: Final = {
    "name": "Ada Lovelace",
    "phone": "(415) 555-2671",
    "email": "ada@example.com",
    "topic": "router keeps rebooting",
    "preferred_time": "after 18:00",
    "note": "Second floor flat.",
}


def page_states(bulletin_id: int) -> tuple[PageState, ...]:
    """Every customer page (cache/templates, switchboard/callback_pages.py): ``bulletin_id`` is
    an ordinary bulletin of the seed. The offer of a busy call center exists only outside
    an outage (during one there is no call center to continue to)."""
    results = "document.querySelectorAll('main .list a.title').length"
    return (
        PageState(name="help", path="/help", proof="!!document.querySelector('main .list a')"),
        PageState(name="search", path="/help/search?q=wifi+dropping", proof=f"{results} > 0"),
        PageState(name="search-empty", path="/help/search?q=qxzqj", proof=f"{results} === 0"),
        PageState(
            name="search-offer",
            path="/help/search?q=router+setup&continue=/support/router/setup",
            proof="!!document.querySelector('a.button[href*=sb_continue]')",
            outage=False,
        ),
        PageState(
            name="bulletin",
            path=f"/help/bulletins/{bulletin_id}",
            proof="!!document.querySelector('form.votes')",
        ),
        PageState(
            name="authors", path="/help/authors", proof="!!document.querySelector('main li')"
        ),
        PageState(
            name="callback-form",
            path="/help/callbacks/new",
            proof="!!document.querySelector('form.callback')",
        ),
        PageState(
            name="callback-invalid",
            path="/help/callbacks/new",
            fill=TYPED | {"phone": "12345"},
            status=422,
            proof="document.querySelector('#cb-phone').getAttribute('aria-invalid') === 'true'",
        ),
        PageState(
            name="callback-accepted",
            path="/help/callbacks/new",
            fill=TYPED,
            status=202,
            proof="!!document.querySelector('.ticket')",
        ),
        PageState(
            name="not-found",
            path="/help/bulletins/2000000000",
            status=404,
            proof="!!document.querySelector('main h1') && !document.querySelector('article')",
        ),
        PageState(
            name="static",
            path="/help",
            static_stage=True,
            proof="!!document.querySelector('article[id^=b] .body')",
        ),
    )


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help}; at {', '.join(self.targets)}"


_AXE_RUN: Final = f"""axe.run(document, {{
  runOnly: {{type: 'tag', values: {json.dumps(list(AXE_TAGS))}}},
  resultTypes: ['violations'],
}}).then(r => r.violations.map(v => ({{
  rule: v.id, impact: v.impact || '', help: v.help,
  targets: v.nodes.map(n => n.target.join(' ')),
}})))"""


async def run_axe(page: Page) -> list[Violation]:
    """axe-core's violations on the page now on screen (the script injected each time:
    a navigation forgets it)."""
    if not AXE_JS.is_file():
        raise AssertionError(f"{AXE_JS} is missing: `make test` installs it (npm ci in {TOOLS})")
    await page.evaluate(AXE_JS.read_text())
    found = await page.evaluate(_AXE_RUN)
    return [Violation(v["rule"], v["impact"], v["help"], tuple(v["targets"][:5])) for v in found]


@dataclass(frozen=True, slots=True)
class LighthouseRun:
    """What Lighthouse made of one page state (tests/browser/lighthouse.mjs)."""

    name: str
    status: int | None
    scores: dict[str, int]
    failing: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # No run had a host fast enough by Lighthouse's own bar (its "slower CPU than
    # Lighthouse expects" warning): the performance score measured the machine's load.
    host_too_slow: bool = False
    performance_runs: list[dict[str, Any]] = field(default_factory=list)  # lighthouse.mjs
    seconds: float = 0.0


def _write_plan(states: Sequence[tuple[str, str, PageState]], work: Path) -> tuple[Path, Path]:
    plan = {
        "chrome": CHROMIUM,
        "flags": list(LIGHTHOUSE_FLAGS),
        "runsInDoubt": RUNS_IN_DOUBT,
        "states": [
            {"name": name, "url": base + s.path}
            | ({"fill": s.fill, "submit": s.submit} if s.fill is not None else {})
            for name, base, s in states
        ],
    }
    work.mkdir(parents=True, exist_ok=True)
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps(plan, indent=2))
    return plan_file, work / "results.json"


def _read_results(results_file: Path) -> list[LighthouseRun]:
    return [
        LighthouseRun(
            name=r["name"],
            status=r["status"],
            scores=r["scores"],
            failing=r["failing"],
            error=r["runtimeError"],
            host_too_slow=r["hostTooSlow"],
            performance_runs=r["performanceRuns"],
            seconds=r["seconds"],
        )
        for r in json.loads(results_file.read_text())
    ]


async def run_lighthouse(
    states: Sequence[tuple[str, str, PageState]], work: Path
) -> list[LighthouseRun]:
    """Lighthouse on each (name, base URL, state), one after the other in one Chromium;
    its plan and results are kept in ``work``."""
    if not (TOOLS / "node_modules" / "lighthouse").is_dir():
        raise AssertionError(f"lighthouse is missing: `make test` installs it (npm ci in {TOOLS})")
    plan_file, results_file = _write_plan(states, work)
    process = await asyncio.create_subprocess_exec(
        "node", str(LIGHTHOUSE_JS), str(plan_file), str(results_file),
        cwd=TOOLS, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=os.environ | {"CHROME_PATH": CHROMIUM},
        start_new_session=True,  # its own group: its Chromium goes with it at the end
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), LIGHTHOUSE_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"lighthouse took over {LIGHTHOUSE_TIMEOUT} s") from None
    finally:
        await stop_process(process, grace=5, group=True)
    log = output.decode(errors="replace")
    assert process.returncode == 0, f"lighthouse exited with {process.returncode}:\n{log}"
    return _read_results(results_file)
