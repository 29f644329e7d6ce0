"""nginx as a contender (docs/benchmarks.md, "Method") and as the benches' call center
(`start_upstream`): Debian's binary as our own process, one worker, on a free 127.0.0.1
port (never the system nginx, never port 80), configured by the Jinja templates in
nginx-conf/."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.stage import PAGE, PAGE_PATH, SIDE_CORE, Contender, renderer
from sims.harness.ports import free_port, wait_http
from sims.harness.procs import Processes

NGINX_STATIC = "nginx, same bytes"
NGINX_PROXY = "nginx proxy_pass"
HELP_MARK = b"<!-- static help page -->"
HELP_PAGE = (
    b"<!doctype html><title>Help</title>" + HELP_MARK + b"<h1>We are sorry</h1>"
    b"<p>Our call center cannot take your request right now. Try our help pages.</p>\n"
)

_render = renderer(Path(__file__).with_name("nginx-conf"))  # the configurations


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """The proxy timeouts of one nginx failover configuration; None: nginx's default."""

    label: str
    short: str  # for narrow table headers
    connect: str | None = None  # proxy_connect_timeout (default 60s)
    read: str | None = None  # proxy_read_timeout and proxy_send_timeout (default 60s)
    next_upstream: str | None = None  # proxy_next_upstream_timeout (default 0: none)

    def directives(self) -> list[str]:
        found = [
            ("proxy_connect_timeout", self.connect),
            ("proxy_read_timeout", self.read),
            ("proxy_send_timeout", self.read),
            ("proxy_next_upstream_timeout", self.next_upstream),
        ]
        return [f"{name} {value};" for name, value in found if value is not None]

    def describe(self) -> str:
        set_ = self.directives()
        return " ".join(f"`{d}`" for d in set_) if set_ else "none set (nginx defaults: 60 s)"


def binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def _contender(
    tmp: Path, kind: str, name: str, page_path: str, files: dict[str, bytes], **values: object
) -> Contender:
    """nginx-conf/`kind`.conf (with `values`) in a directory of its own, `files` in its www/;
    the contender that runs it in the foreground."""
    port = free_port()
    root = tmp / f"nginx-{kind}-{port}"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "www").mkdir(exist_ok=True)
    http = _render(f"{kind}.conf", port=port, dir=root, **values)
    (root / "nginx.conf").write_text(_render("main.conf", dir=root, http=http) + "\n")
    for file, body in files.items():
        (root / "www" / file).write_bytes(body)
    for path in (root.parent, root, root / "www", root / "tmp"):  # the bench's tmp and ours
        path.chmod(path.stat().st_mode | 0o755)
    conf, log = str(root / "nginx.conf"), str(root / "error.log")
    argv = (binary(), "-p", str(root), "-c", conf, "-e", log, "-g", "daemon off;")
    return Contender(name, f"nginx-{kind}", argv, port, page_path, page_path)


def static_page(
    tmp: Path, *, page_path: str, body: bytes, content_type: str, headers: dict[str, str]
) -> Contender:
    """nginx serving `body` at exactly `page_path` with `content_type` and `headers` (it
    adds its own ETag, Last-Modified and Accept-Ranges)."""
    return _contender(tmp, "static", NGINX_STATIC, page_path, {"page.html": body},
                      path=page_path, content_type=content_type, headers=headers)  # fmt: skip


def proxy_pass(tmp: Path, upstream: str) -> Contender:
    """nginx proxying `/support/<path>` to `upstream` (http://host:port)."""
    host = upstream.removeprefix("http://")
    return _contender(tmp, "proxy", NGINX_PROXY, PAGE_PATH, {}, upstream=host)


def failover(tmp: Path, *, primary: str, backup: str, timeouts: Timeouts) -> Contender:
    """nginx with `primary` and `backup` (host:port) as one upstream group."""
    return _contender(tmp, "failover", f"nginx, {timeouts.label}", PAGE_PATH,
                      {"help.html": HELP_PAGE}, primary=primary, backup=backup,
                      timeouts=timeouts)  # fmt: skip


def failover_snippet(timeouts: Timeouts) -> str:
    """The `http` block of `failover`, with placeholders, for the report."""
    return _render("failover.conf", port="PORT", primary="PRIMARY", backup="BACKUP", dir="DIR",
                   timeouts=timeouts)  # fmt: skip


def start_upstream(tmp: Path, procs: Processes) -> str:
    """nginx with one worker on the side core serving PAGE everywhere (a call center);
    returns its base URL."""
    port = free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / "page.html").write_bytes(PAGE)
    (tmp / "nginx.conf").write_text(_render("upstream.conf", dir=tmp, port=port) + "\n")
    tmp.chmod(0o755)  # nginx workers drop to an unprivileged user and must read the page
    procs.spawn([binary(), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "nginx-error.log")],
                core=SIDE_CORE)  # fmt: skip
    upstream = f"http://127.0.0.1:{port}"
    wait_http(f"{upstream}/health", what="bench")
    return upstream
