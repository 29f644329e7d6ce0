"""[branding] on real servers: the company on every page, its logo served safely, the
operator's templates first, and the outage banner's operator message set through the
admin API on one replica and shown by another (through a real Redis), never stale."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import aiohttp
from multidict import CIMultiDict

from sims.community import CommunitySim
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import wait_for

TOKEN = "admin-token-" + "y" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "bob"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


def branding(tmp: Path) -> str:
    (tmp / "logo.png").write_bytes(PNG)
    (tmp / "mine").mkdir()
    (tmp / "mine" / "authors.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Our champions</h1>{% endblock %}'
    )
    return (
        '[branding]\ncompany_name = "Acme & Co"\nlogo_file = "logo.png"\naccent = "#1a4d2e"\n'
        'status_url = "https://status.example.com"\nprivacy_url = "/privacy"\n'
        'contact_url = "https://www.example.com/contact"\ncontact_label = "Write to us"\n'
        'message = "Engineers are on site."\ntemplates_dir = "mine"\n'
        "[routing]\nhold_down_ms = 0\n"
    )


async def text_of(s: aiohttp.ClientSession, url: str) -> tuple[int, CIMultiDict[str], str]:
    async with s.get(url, timeout=TIMEOUT) as r:
        return r.status, CIMultiDict(r.headers), await r.text()


async def test_the_company_its_logo_colours_and_links_are_on_every_page(
    tmp_path: Path,
) -> None:
    async with (
        CommunitySim() as community,
        help_stack(tmp_path, redis=None, community=community, extra=branding(tmp_path)) as stack,
        aiohttp.ClientSession() as s,
    ):
        some = community.seed.topics[0].id
        for path in ("/help", f"/help/bulletins/{some}", "/help/search?q=wifi"):
            status, headers, page = await text_of(s, stack.url + path)
            assert status == 200, path
            assert "· Acme &amp; Co support</title>" in page
            assert '<img src="/help/logo" alt="Acme &amp; Co" width="120" height="32">' in page
            assert '<a href="https://status.example.com">Service status</a>' in page
            assert '<a href="/privacy">Privacy</a>' in page
            assert '<a href="https://www.example.com/contact">Write to us</a>' in page
            assert "--accent:#1a4d2e" in page
            # The CSP allows exactly the style served (hash of the rendered CSS) and the
            # logo from this site.
            css = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
            assert css is not None
            digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
            policy = headers["Content-Security-Policy"]
            assert f"style-src 'sha256-{digest}'" in policy
            assert "img-src data: 'self'" in policy
        # The operator's template wins; the others are the built-ins.
        _, _, page = await text_of(s, stack.url + "/help/authors")
        assert "<h1>Our champions</h1>" in page
        async with s.get(stack.url + "/help/logo") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "image/png"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "max-age=86400" in r.headers["Cache-Control"]
            assert await r.read() == PNG
            etag = r.headers["ETag"]
        async with s.get(stack.url + "/help/logo", headers={"If-None-Match": etag}) as r:
            assert r.status == 304


async def banner(s: aiohttp.ClientSession, stack: HelpStack, bulletin: int) -> str:
    _, _, page = await text_of(s, f"{stack.url}/help/bulletins/{bulletin}")
    found = re.search(r'<p class="banner" role="status">(.*?)</p>', page, re.DOTALL)
    return found.group(1) if found else ""


async def test_the_operator_message_set_on_one_replica_shows_on_another_at_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with CommunitySim() as community, help_stack(
        tmp_path / "a", redis=redis_server, community=community, extra=branding(tmp_path / "a"),
        token=TOKEN,
    ) as one, help_stack(
        tmp_path / "b", redis=redis_server, community=community, extra=branding(tmp_path / "b"),
        token=TOKEN,
    ) as two, aiohttp.ClientSession() as s:  # fmt: skip
        some = community.seed.topics[1].id
        async with s.post(f"{one.ops_url}/admin/override", json={"mode": "self-help"},
                          headers=AUTH) as r:  # fmt: skip
            assert r.status == 200
        await wait_for(lambda: two.self_help.outage().active, within=5, what="the outage on two")
        # Warm the hot path of both replicas: the message from the config.
        for stack in (one, two):
            assert "Engineers are on site." in await banner(s, stack, some)
            assert "Engineers are on site." in await banner(s, stack, some)
        # Not authorized: nothing changes.
        async with s.put(f"{one.ops_url}/admin/message", json={"message": "x"}) as r:
            assert r.status == 401
        async with s.put(f"{one.ops_url}/admin/message", json={"message": 7},
                         headers=AUTH) as r:  # fmt: skip
            assert r.status == 400
        said = "Phones back by 18:00 UTC\n<b>promise</b>"
        async with s.put(f"{one.ops_url}/admin/message", json={"message": said},
                         headers=AUTH) as r:  # fmt: skip
            assert r.status == 200
            said = said.replace("\n", " ")  # one line, plain text
            assert (await r.json()) == {"message": said, "shared": True}
        shown = "Phones back by 18:00 UTC &lt;b&gt;promise&lt;/b&gt;"
        assert shown in await banner(s, one, some)  # the hot page was not served stale
        for _ in range(50):  # the other replica reads the switches once a second
            if shown in await banner(s, two, some):
                break
            await asyncio.sleep(0.1)
        assert shown in await banner(s, two, some)
        assert "Engineers" not in await banner(s, two, some)
        async with s.get(f"{two.ops_url}/admin/switches", headers=AUTH) as r:
            assert (await r.json())["message"] == said
        async with s.delete(f"{two.ops_url}/admin/message", headers=AUTH) as r:
            assert r.status == 200
        assert "Engineers are on site." in await banner(s, two, some)


async def test_a_stale_answer_says_so_in_customers_words(tmp_path: Path) -> None:
    async with CommunitySim() as community, help_stack(
        tmp_path, redis=None, community=community, extra="max_age_s = 1\n"
    ) as stack, aiohttp.ClientSession() as s:  # fmt: skip
        some = community.seed.topics[2].id
        await community.set_mode("down")
        await asyncio.sleep(2.1)
        _, headers, stale = await text_of(s, f"{stack.url}/help/bulletins/{some}")
        assert int(headers["Age"]) >= 2
        footer = stale[stale.index("<footer") :]
        assert "This answer may be a few minutes out of date" in footer
        assert "our copy" not in footer
        assert " s old" not in footer
