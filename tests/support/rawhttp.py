"""A POST whose body arrives in two writes, apart in time, over a raw socket: what any
slow or lossy link does to a request, and what aiohttp's test client never does (it
writes a small body at once). Used by the body-reading tests of the callback intake and
the self-help votes (kernel/body.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

# Long enough that the server has read the first part and is waiting for the rest: the
# pause is the slow link under test, not synchronisation (nothing to await on a wire).
PAUSE_S = 0.2


@dataclass(frozen=True, slots=True)
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


async def post_in_two_writes(
    url: str, headers: dict[str, str], body: bytes, *, split_at: int
) -> RawAnswer:
    """POST `body` to `url` (http://127.0.0.1:port/path): the head and `body[:split_at]`,
    then, PAUSE_S later, the rest. `Connection: close`; bounded at 10 s."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    head = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(head.encode("latin-1") + body[:split_at])
            await writer.drain()
            await asyncio.sleep(PAUSE_S)
            writer.write(body[split_at:])
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    return _parse(raw)


def _parse(raw: bytes) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return RawAnswer(int(status_line.split()[1]), headers, body)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2 :]
