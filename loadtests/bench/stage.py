"""The stage: an nginx upstream serving one fixed page, and the three contenders of the
proxy bench; and what every bench shares: pinned child processes, waiting for them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sims.demo import free_port

PAGE = (b"<!doctype html><title>Router setup</title>" + b"<p>Step by step help.</p>" * 160)[:4096]
PAGE_PATH = "/support/router/setup"

DOOR = "front door"
BARE_DROP = "bare aiohttp proxy, dropping headers"
BARE_FORWARD = "bare aiohttp proxy, forwarding headers"
BASELINES = (BARE_DROP, BARE_FORWARD)

NGINX_UPSTREAM = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        default_type text/html;
        location = /health {{ default_type application/json; return 200 '{{"status": "ok"}}'; }}
        location / {{ root {tmp}/www; try_files /page.html =404; }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class Contender:
    name: str
    slug: str  # for file names
    argv: tuple[str, ...]
    port: int
    ready_path: str
    page_path: str = PAGE_PATH  # what the load generators ask for
    log: Path | None = None  # its stdout and stderr; None: discarded
    ready_log: str | None = None  # also wait for this text in the log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.page_path}"

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.ready_path}"


class Processes:
    """Children pinned to a core, each stopped on `stop` or, at the latest, on exit."""

    def __init__(self) -> None:
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self, core: int, *cmd: str, log: Path | None = None) -> int:
        argv = ["taskset", "-c", str(core), *cmd]
        if log is None:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        else:
            with log.open("ab") as out:
                proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        self.procs[proc.pid] = proc
        return proc.pid

    def kill(self, pid: int) -> None:
        """SIGKILL (`kill -9`): no chance to clean up."""
        proc = self.procs.pop(pid)
        proc.kill()
        proc.wait()

    def stop(self, pid: int, *, grace: float = 30.0) -> None:
        proc = self.procs.pop(pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_: object) -> None:
        for pid in list(self.procs):
            self.stop(pid)


# The ops listener (/metrics, /api/v1/status, /admin) of each front door a bench starts,
# by the door's customer port: the benches read metrics and status there.
_OPS_PORTS: dict[int, int] = {}


def ops_section(door_port: int) -> str:
    """The `[ops]` table for a bench's front door on `door_port`: its own free port."""
    ops = _OPS_PORTS.setdefault(door_port, free_port())
    return f"[ops]\nport = {ops}\n"


def ops_base(door: int | str) -> str:
    """The ops listener's base URL of the front door on this customer port (or base URL)."""
    port = door if isinstance(door, int) else int(door.rstrip("/").rsplit(":", 1)[1])
    return f"http://127.0.0.1:{_OPS_PORTS[port]}"


def door_argv(config: Path) -> tuple[str, ...]:
    """The front door as its own process, serving `config`, logging text lines (the
    benches read its log by eye and by pattern)."""
    return (sys.executable, "-m", "failover", "serve", "--config", str(config),
            "--log-format", "text")  # fmt: skip


def check_tools(tools: list[str]) -> None:
    for tool in tools:
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"bench: {tool} is not installed (make bench installs it)")


def start(
    procs: Processes, contender: Contender, *, core: int = 0, wrap: tuple[str, ...] = ()
) -> int:
    """Spawn `contender` on `core`, its argv behind `wrap` (e.g. valgrind); returns its pid."""
    return procs.spawn(core, *wrap, *contender.argv, log=contender.log)


def wait_ready(contender: Contender, *, seconds: float = 15.0) -> None:
    wait_until_answers(contender.ready_url, seconds=seconds)
    if contender.ready_log is not None and contender.log is not None:
        wait_for_text(contender.log, contender.ready_log, seconds=seconds)


def wait_for_text(path: Path, text: str, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"bench: {text!r} never appeared in {path}")


@contextmanager
def pinned(core: int) -> Iterator[None]:
    """Pin this thread (and the threads it starts) to `core`, as wrk is."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def wait_until_answers(url: str, *, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: {url} never answered")


def start_community(
    procs: Processes, tmp: Path, *, core: int = 1, topics: int | None = None
) -> tuple[str, str]:
    """The community simulator as its own process on `core` (`topics` bulletins, else its
    default 300): its base URL and its control URL, once it answers."""
    port, control = free_port(), free_port()
    extra = () if topics is None else ("--topics", str(topics))
    procs.spawn(core, sys.executable, "-m", "sims.community", "--port", str(port),
                "--control-port", str(control), *extra, log=tmp / "community.log")  # fmt: skip
    wait_until_answers(f"http://127.0.0.1:{control}/_sim/state")
    return f"http://127.0.0.1:{port}", f"http://127.0.0.1:{control}"


def start_upstream(tmp: Path, procs: Processes) -> str:
    """nginx with one worker on core 1 (with the load generator); returns its base URL."""
    port = free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / "page.html").write_bytes(PAGE)
    (tmp / "nginx.conf").write_text(NGINX_UPSTREAM.format(tmp=tmp, port=port))
    tmp.chmod(0o755)  # nginx workers drop to an unprivileged user and must read the page
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    procs.spawn(1, nginx, "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "nginx-error.log"))
    upstream = f"http://127.0.0.1:{port}"
    wait_until_answers(f"{upstream}/health")
    return upstream


def contenders(
    tmp: Path, upstream: str, *, health: tuple[int, int] | None = None
) -> list[Contender]:
    """The front door and the two bare proxies, each on a fresh port. The front door has
    the default configuration, except `health` = (probe interval, probe timeout) in ms."""
    door, drop, forward = free_port(), free_port(), free_port()
    section = ""
    if health is not None:
        section = f"[health]\ninterval_ms = {health[0]}\ntimeout_ms = {health[1]}\n"
    config = tmp / f"switchboard-{door}.toml"
    config.write_text(
        f"[server]\nport = {door}\n{ops_section(door)}{section}"
        f'[[callcenters]]\nname = "cc"\nurl = "{upstream}"\n'
    )
    py = sys.executable
    bare = str(Path(__file__).with_name("bare.py"))
    return [
        Contender(DOOR, "door", door_argv(config), door, "/readyz"),
        Contender(BARE_DROP, "bare-drop", (py, bare, "drop", str(drop), upstream), drop, PAGE_PATH),
        Contender(
            BARE_FORWARD,
            "bare-forward",
            (py, bare, "forward", str(forward), upstream),
            forward,
            PAGE_PATH,
        ),
    ]


def same_bytes(urls: list[str], expected: bytes = PAGE) -> None:
    for url in urls:
        with urllib.request.urlopen(url) as answer:  # noqa: S310 - loopback
            if answer.read() != expected:
                raise SystemExit(f"bench: {url} does not serve the expected page")
