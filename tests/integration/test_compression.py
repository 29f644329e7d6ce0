"""gzip for HTML on real servers: the hot and the slower bulletin path, the lists, 304s
per encoding, and the callback pages never compressed (issue 19)."""

from __future__ import annotations

import gzip
from pathlib import Path

import aiohttp
from multidict import CIMultiDict

from sims.community import CommunitySim
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack

GZ = {"Accept-Encoding": "gzip, deflate, br"}
PLAIN = {"Accept-Encoding": "identity"}


async def get(
    s: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, CIMultiDict[str], bytes]:
    async with s.get(url, headers=headers, allow_redirects=False) as r:
        return r.status, CIMultiDict(r.headers), await r.read()


async def test_pages_go_gzipped_to_who_takes_it_each_encoding_with_its_own_etag(
    tmp_path: Path,
) -> None:
    async with (
        CommunitySim() as community,
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession(auto_decompress=False) as s,
    ):
        some = community.seed.topics[3].id
        # The bulletin twice (the slower path, then the hot one), the lists once.
        for path in [f"/help/bulletins/{some}"] * 2 + ["/help", "/help/search?q=router"]:
            url = stack.url + path
            status, plain_h, plain = await get(s, url, PLAIN)
            assert status == 200, path
            status, gz_h, packed = await get(s, url, GZ)
            assert status == 200, path
            assert "Content-Encoding" not in plain_h
            assert gz_h["Content-Encoding"] == "gzip"
            assert plain_h["Vary"] == gz_h["Vary"] == "Accept-Language, Cookie, Accept-Encoding"
            assert gzip.decompress(packed) == plain
            assert len(packed) < len(plain) / 2
            assert int(gz_h["Content-Length"]) == len(packed)
            assert gz_h["ETag"] != plain_h["ETag"]
            assert gz_h["Content-Security-Policy"] == plain_h["Content-Security-Policy"]
            # A 304 confirms only the representation the client holds.
            status, h, _ = await get(s, url, GZ | {"If-None-Match": gz_h["ETag"]})
            assert (status, h["ETag"]) == (304, gz_h["ETag"]), path
            assert "Content-Encoding" not in h
            status, _, body = await get(s, url, GZ | {"If-None-Match": plain_h["ETag"]})
            assert (status, body) == (200, packed), path
            status, _, _ = await get(s, url, PLAIN | {"If-None-Match": plain_h["ETag"]})
            assert status == 304, path
        # What a browser does by default (aiohttp's client too): the text decoded.
        async with (
            aiohttp.ClientSession() as browser_like,
            browser_like.get(f"{stack.url}/help/bulletins/{some}") as r,
        ):
            assert r.headers["Content-Encoding"] == "gzip"
            assert "<!doctype html>" in await r.text()


async def test_the_callback_pages_are_never_compressed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        CommunitySim() as community,
        help_stack(tmp_path, redis=redis_server, community=community, warm=False) as stack,
        aiohttp.ClientSession(auto_decompress=False) as s,
    ):
        status, h, body = await get(s, f"{stack.url}/help/callbacks/new", GZ)
        assert status == 200
        assert "Content-Encoding" not in h
        assert b'name="form_token"' in body
        async with s.post(f"{stack.url}/help/callbacks", data={"name": "x"}, headers=GZ) as r:
            assert r.status == 403
            assert "Content-Encoding" not in r.headers
