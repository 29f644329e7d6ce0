"""nginx as a contender, what a user would write without Switchboard: Debian's binary as
our own process (`nginx -p DIR -c nginx.conf -g 'daemon off;'`), one worker, no access
log, on a free 127.0.0.1 port (never the system nginx, never port 80); the directory
world-readable (workers drop to an unprivileged user). `static_page`: one page from a file
with the front door's Content-Type and Cache-Control (nginx adds ETag, Last-Modified,
Accept-Ranges); `proxy_pass`: `/support/<path>` to `<upstream>/<path>` over keep-alive
connections, X-Forwarded-For/-Proto set; `failover`: a primary and a `backup` upstream,
`proxy_next_upstream`, an `error_page` to a static help page, `Timeouts` as given."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.stage import PAGE_PATH, Contender
from sims.harness.ports import free_port

NGINX_STATIC = "nginx, same bytes"
NGINX_PROXY = "nginx proxy_pass"
HELP_MARK = b"<!-- static help page -->"
HELP_PAGE = (
    b"<!doctype html><title>Help</title>" + HELP_MARK + b"<h1>We are sorry</h1>"
    b"<p>Our call center cannot take your request right now. Try our help pages.</p>\n"
)

# Stock Debian `nginx.conf` turns on sendfile and tcp_nopush; we do the same.
_MAIN = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
{http}
}}
"""

_STATIC = """    server {{
        listen 127.0.0.1:{port};
        location = {path} {{
            types {{ }}
            default_type "{content_type}";
            root {dir}/www;
            try_files /page.html =404;
{headers}
        }}
    }}"""

_PROXY = """    upstream callcenter {{
        server {upstream};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /support/ {{
            proxy_pass http://callcenter/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}"""

# max_fails=1 fail_timeout=10s are nginx's defaults, written out so that the report can
# say them: after one failure the primary is skipped for 10 s, then one request tries it.
_FAILOVER = """    upstream callcenters {{
        server {primary} max_fails=1 fail_timeout=10s;
        server {backup} backup;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /support/ {{
            proxy_pass http://callcenters/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 http_504;
{timeouts}
            proxy_intercept_errors on;
        }}
        error_page 502 503 504 /help.html;
        location = /help.html {{ root {dir}/www; internal; }}
    }}"""


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


def _prepare(root: Path, http: str) -> tuple[str, ...]:
    """Write DIR/nginx.conf; the argv that runs it in the foreground."""
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "www").mkdir(exist_ok=True)
    (root / "nginx.conf").write_text(_MAIN.format(dir=root, http=http))
    for path in (root.parent, root, root / "www", root / "tmp"):  # the bench's tmp and ours
        path.chmod(path.stat().st_mode | 0o755)
    conf, log = str(root / "nginx.conf"), str(root / "error.log")
    return (binary(), "-p", str(root), "-c", conf, "-e", log, "-g", "daemon off;")


def static_page(
    tmp: Path, *, page_path: str, body: bytes, content_type: str, headers: dict[str, str]
) -> Contender:
    """nginx serving `body` at exactly `page_path` with `content_type` and `headers`."""
    port = free_port()
    root = tmp / f"nginx-static-{port}"
    added = "\n".join(f'            add_header {k} "{v}";' for k, v in headers.items())
    argv = _prepare(root, _STATIC.format(port=port, path=page_path, content_type=content_type,
                                         dir=root, headers=added))  # fmt: skip
    (root / "www" / "page.html").write_bytes(body)
    return Contender(NGINX_STATIC, "nginx-static", argv, port, page_path, page_path)


def proxy_pass(tmp: Path, upstream: str) -> Contender:
    """nginx proxying `/support/<path>` to `upstream` (http://host:port)."""
    port = free_port()
    root = tmp / f"nginx-proxy-{port}"
    http = _PROXY.format(port=port, upstream=upstream.removeprefix("http://"))
    argv = _prepare(root, http)
    return Contender(NGINX_PROXY, "nginx-proxy", argv, port, PAGE_PATH)


def failover(tmp: Path, *, primary: str, backup: str, timeouts: Timeouts) -> Contender:
    """nginx with `primary` and `backup` (host:port) as one upstream group."""
    port = free_port()
    root = tmp / f"nginx-failover-{port}"
    lines = "\n".join(f"            {d}" for d in timeouts.directives())
    http = _FAILOVER.format(port=port, primary=primary, backup=backup, dir=root, timeouts=lines)
    argv = _prepare(root, http)
    (root / "www" / "help.html").write_bytes(HELP_PAGE)
    return Contender(f"nginx, {timeouts.label}", "nginx-failover", argv, port, PAGE_PATH)


def failover_snippet(timeouts: Timeouts) -> str:
    """The `http` block of `failover`, with placeholders, for the report."""
    lines = "\n".join(f"            {d}" for d in timeouts.directives())
    return _FAILOVER.format(port="PORT", primary="PRIMARY", backup="BACKUP", dir="DIR",
                            timeouts=lines)  # fmt: skip
