"""Free loopback ports, bounded readiness waits (TCP, HTTP, a log line), and loopback
HTTP requests (`fetch`, `post`: the simulators' switches, the ops listener).

Every wait has a deadline and raises `StartError` naming what did not come up.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from pathlib import Path
from typing import Final

PORTS_FROM: Final = 20000  # picked ports lie between this and the ephemeral range
FORBIDDEN_PORTS: Final = frozenset({6379})  # the machine's own Redis: never ours
START_S: Final = 30.0
# Ports `free_port` gave, oldest first (a dict keeps order): free until their child binds
# them. The oldest are forgotten past `_REMEMBERED`, long bound or given up by then.
_handed_out: dict[int, None] = {}
_REMEMBERED: Final = 1000


class StartError(RuntimeError):
    """A child did not start or answer in time (the message says which)."""


class ExitedError(StartError):
    """The child exited before it answered (e.g. its port was taken between `free_port`
    and its bind): a caller may start it again on other ports."""


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now, below the kernel's ephemeral range, never one of
    `FORBIDDEN_PORTS`. A port the kernel could hand out as the source of an outgoing
    connection can be taken while its server is down (a client retrying a dead server on
    loopback may even connect to itself), so a server restarted on the same port would
    find it in use. Never the same port twice in one process: a port handed out looks
    free until its child has bound it, so two children started one after the other
    could otherwise be given the same one (the likely cause of a CI failure: if a simulator's
    port was the other's control port, that one's 404 kept the wait going for 30 s)."""
    low = _ephemeral_low()
    while len(_handed_out) >= _REMEMBERED:
        del _handed_out[next(iter(_handed_out))]
    for _ in range(200):
        if low - PORTS_FROM < 1000:  # an unusual range: take what the kernel gives
            with socket.socket() as s:
                s.bind((host, 0))
                candidate: int = s.getsockname()[1]
        else:
            candidate = random.randrange(PORTS_FROM, low)
            if not port_is_free(candidate, host):
                continue
        if candidate not in FORBIDDEN_PORTS and candidate not in _handed_out:
            _handed_out[candidate] = None
            return candidate
    raise StartError(f"no free port between {PORTS_FROM} and {low}")


def wait_port(port: int, *, what: str, seconds: float = START_S, host: str = "127.0.0.1") -> None:
    """Until something accepts TCP connections on `host:port`."""
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not listen on {host}:{port} within {seconds:.0f} s")
        time.sleep(0.05)


def wait_http(
    url: str, *, what: str, seconds: float = START_S,
    child: subprocess.Popen[bytes] | None = None,
) -> bytes:  # fmt: skip
    """Until `url` answers 2xx or 3xx; its body. `child`: the process that should answer;
    `ExitedError` as soon as it has exited."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback URL we built
                body: bytes = answer.read()
                return body
        except OSError as exc:
            if child is not None and (code := child.poll()) is not None:
                raise ExitedError(f"{what} exited (code {code}) before {url} answered") from exc
            if time.monotonic() > deadline:
                raise StartError(f"{what} ({url}) did not answer within {seconds:.0f} s") from exc
            time.sleep(0.1)


def wait_text(path: Path, text: str, *, seconds: float = START_S) -> None:
    """Until `text` appears in the file at `path` (a log line saying the child is ready)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise StartError(f"{text!r} never appeared in {path} within {seconds:.0f} s")


def fetch(
    url: str, *, data: bytes | None = None, headers: Mapping[str, str] | None = None,
    method: str | None = None, timeout: float = 10.0,
) -> tuple[int, Message, bytes]:  # fmt: skip
    """One loopback request: the answer's status, headers and body, 4xx and 5xx too."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)  # noqa: S310 - loopback URL we built
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def post(url: str, payload: object = None, *, timeout: float = 10.0) -> bytes:
    """POST `payload` as JSON (a simulator's switch); its body, or OSError unless 2xx/3xx."""
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    status, _, body = fetch(url, data=data, headers=headers, method="POST", timeout=timeout)
    if status >= 400:
        raise OSError(f"POST {url}: {status}")
    return body
