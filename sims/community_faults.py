"""Hostile answers the community simulator gives in its bad-payload modes (issue 14).

A community site, or whatever sits in front of it, can answer 200 with a body that is
not what Discourse sends: a truncated or non-JSON body (a proxy's error page served
as JSON), the right shape with the wrong types, a body far too large, JSON nested deeper
than any parser's stack, or a post whose HTML is huge or nested thousands deep (a
customer who types 5,000 `>` quote markers gets that much `<blockquote>` nesting in
Discourse's cooked HTML), strings with a lone surrogate escape (``"\\ud800"``: valid JSON,
no text), a topic id past any page's address, a date past year 9999 in UTC. The front
door must read each of these in bounded time and memory and keep serving its copy;
tests/attacks/test_faults_origin.py checks it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Final

from aiohttp import web

GARBAGE: Final = b'{"topic_list": {"topics": [{"id": 1, "title": "cut off her'
JSON_TYPE: Final = "application/json"
FAR_DATE: Final = "9999-12-31T23:59:59-12:00"  # past year 9999 in UTC
_CHUNK: Final = 64 * 1024


def scrambled(value: object) -> object:
    """The same document with every scalar's type swapped: numbers become strings and
    strings numbers, lists become objects; the shape a sloppy API version might send."""
    if isinstance(value, dict):
        return {k: scrambled(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): scrambled(v) for i, v in enumerate(value)}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return len(value)
    return value


def unpaired(value: object) -> object:
    """The same document with a lone surrogate after every string (JSON writes it as the
    escape ``\\ud800``, which decodes to no text)."""
    if isinstance(value, dict):
        return {k: unpaired(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpaired(v) for v in value]
    return value + "\ud800" if isinstance(value, str) else value


def with_topics(body: bytes, **fields: object) -> bytes:
    """A topic answer, or a latest page's every topic, with `fields` set to these values."""
    doc = json.loads(body)
    topics = doc.get("topic_list", {}).get("topics", []) if "topic_list" in doc else [doc]
    for topic in topics:
        topic.update(fields)
    return json.dumps(doc).encode()


def deep_json(depth: int) -> bytes:
    """``[[[...]]]``, `depth` arrays deep: valid JSON that Python's parser refuses with a
    RecursionError, not a ValueError."""
    return b"[" * depth + b"]" * depth


def nested_html(depth: int) -> str:
    return "<blockquote>" * depth + "<p>deep</p>" + "</blockquote>" * depth


def big_html(kilobytes: float) -> str:
    paragraph = "<p>Restart the router, then wait for the lights to settle. </p>"
    return paragraph * max(1, int(kilobytes * 1024) // len(paragraph))


def with_first_post(body: bytes, cooked: str) -> bytes:
    """A topic answer (``/t/{id}.json``) whose first post's HTML is `cooked`."""
    doc = json.loads(body)
    posts = doc.get("post_stream", {}).get("posts", [])
    if posts:
        posts[0]["cooked"] = cooked
    return json.dumps(doc).encode()


async def stream_huge(request: web.Request, megabytes: float) -> web.StreamResponse:
    """A JSON document of `megabytes` MB, chunked (no Content-Length to refuse it by), as
    fast as the reader takes it; stops when the reader hangs up."""
    response = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
    response.enable_chunked_encoding()
    await response.prepare(request)
    pad = b"x" * _CHUNK
    with contextlib.suppress(ConnectionError):
        await response.write(b'{"pad": "')
        for _ in range(int(megabytes * 1024 * 1024) // _CHUNK):
            await response.write(pad)
        await response.write(b'"}')
        await response.write_eof()
    return response
