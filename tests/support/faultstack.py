"""What the fault tests (tests/attacks/test_faults_*.py) share: a redis-server behind a
TCP fault proxy, metrics read from the app, customers' requests, and a tiny tmpfs to
fill up.

`tiny_disk` mounts a tmpfs of a few hundred KiB (the tests run as root; mounting needs
CAP_SYS_ADMIN) and always unmounts it, lazily if a file in it is still open, so a failed
test leaves no mount behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from switchboard.app import METRICS
from tests.support.faultproxy import FaultProxy
from tests.support.redis import RedisServer

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxiedRedis:
    server: RedisServer
    proxy: FaultProxy

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.proxy.port}/0"

    def config(self) -> str:
        return f'[redis]\nurl = "{self.url}"\n'


@contextlib.asynccontextmanager
async def proxied_redis(directory: Path) -> AsyncIterator[ProxiedRedis]:
    async with RedisServer(directory) as server:
        proxy = FaultProxy("127.0.0.1", server.port)
        await proxy.start()
        try:
            yield ProxiedRedis(server=server, proxy=proxy)
        finally:
            await proxy.stop()


def metric(app: web.Application, name: str, **labels: str) -> float:
    """One sample of the app's registry; 0.0 if the series is absent."""
    text = generate_latest(app[METRICS].registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str
    headers: dict[str, str]
    location: str = ""


async def get(session: aiohttp.ClientSession, url: str) -> Answer:
    async with session.get(url, allow_redirects=False, timeout=TIMEOUT) as r:
        return Answer(r.status, await r.text(), dict(r.headers), r.headers.get("Location", ""))


async def post_form(session: aiohttp.ClientSession, url: str, form: dict[str, str]) -> Answer:
    async with session.post(url, data=form, allow_redirects=False, timeout=TIMEOUT) as r:
        return Answer(r.status, await r.text(), dict(r.headers), r.headers.get("Location", ""))


async def post_callback(session: aiohttp.ClientSession, base: str, key: str) -> Answer:
    fields = {"name": "Ada", "phone": "+14155552671", "topic": "router lights"}
    async with session.post(
        f"{base}/help/callbacks", json=fields, headers={"Idempotency-Key": key}, timeout=TIMEOUT
    ) as r:
        return Answer(r.status, await r.text(), dict(r.headers))


@contextlib.contextmanager
def tiny_disk(mountpoint: Path, size_kib: int = 512) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB at `mountpoint`, unmounted on the way out."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(mountpoint)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise AssertionError(
            f"the disk-full tests mount a tmpfs and need root (CAP_SYS_ADMIN): {done.stderr}"
        )
    try:
        yield mountpoint
    finally:
        umount = subprocess.run(["umount", str(mountpoint)], capture_output=True, check=False)  # noqa: S603, S607
        if umount.returncode != 0:  # busy: detach now, the kernel frees it when closed
            subprocess.run(["umount", "-l", str(mountpoint)], check=False)  # noqa: S603, S607


def fill(directory: Path) -> Path:
    """Write a file in `directory` until the file system is full; return its path."""
    filler = directory / "filler"
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(1_000_000):  # bounded: a 4 GiB file system at most
            try:
                if os.write(fd, block) < len(block):
                    break
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)
    return filler
