"""Benchmark: the front door's proxy path against bare aiohttp proxying the same page.

Side by side in one run, alternating rounds so that machine noise hits both alike:

- upstream: nginx (one worker) answering a fixed support page, the same bytes for both
  contenders, pinned with the load generator to core 1. nginx and wrk are C and cheap,
  so core 0, where the Python proxy runs, is the bottleneck being measured;
- contender A: the front door (`python -m failover serve`, default config, probes on),
  pinned to core 0;
- contender B: a bare aiohttp proxy (one ClientSession, read body, answer), core 0;
- load: wrk, 1 thread, 32 connections, pinned to core 1.

Reports requests/s, p50/p99 latency and the ratio A/B (the goal is >= 0.85).

    python -m loadtests.bench_proxy [--seconds 8] [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sims.demo import free_port

PAGE = (b"<!doctype html><title>Router setup</title>" + b"<p>Step by step help.</p>" * 160)[:4096]

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

BARE_PROXY = """
import sys
import aiohttp
from aiohttp import web
UPSTREAM = sys.argv[2]
async def session_ctx(app):
    app["s"] = aiohttp.ClientSession(auto_decompress=False)
    yield
    await app["s"].close()
async def proxy(request):
    async with request.app["s"].get(UPSTREAM + "/" + request.match_info["tail"]) as r:
        body = await r.read()
        return web.Response(body=body, status=r.status, content_type=r.content_type)
app = web.Application()
app.cleanup_ctx.append(session_ctx)
app.router.add_get("/support/{tail:.*}", proxy)
try:
    import uvloop
    loop_factory = uvloop.new_event_loop
except ImportError:
    loop_factory = None
import asyncio
async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await asyncio.Event().wait()
with asyncio.Runner(loop_factory=loop_factory) as r:
    r.run(main())
"""


@dataclass(frozen=True, slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # CPU time of the proxy process per request (user + system)


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: {url} never answered")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"bench: cannot read wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _find(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.MULTILINE)
    if match is None:
        raise SystemExit(f"bench: unexpected wrk output:\n{out}")
    return match.group(1)


def wrk(url: str, seconds: int, pid: int) -> Result:
    before = _cpu_seconds(pid)
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    cpu = _cpu_seconds(pid) - before
    total = int(_find(r"(\d+) requests in", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Result(
        rps=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_find(r"^\s+50%\s+(\S+)", out)),
        p99_ms=_ms(_find(r"^\s+99%\s+(\S+)", out)),
        errors=(int(m.group(1)) if m else 0) + (sum(map(int, s.groups())) if s else 0),
        cpu_us=cpu / max(total, 1) * 1e6,
    )


class Processes:
    """Children pinned to a core, all stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, core: int, *cmd: str) -> int:
        proc = subprocess.Popen(  # noqa: S603
            ["taskset", "-c", str(core), *cmd],  # noqa: S607
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc.pid

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_: object) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)


def run(tmp: Path, procs: Processes, *, seconds: int, rounds: int) -> dict[str, list[Result]]:
    up_port, door_port, bare_port = free_port(), free_port(), free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / "page.html").write_bytes(PAGE)
    (tmp / "nginx.conf").write_text(NGINX_UPSTREAM.format(tmp=tmp, port=up_port))
    (tmp / "bare.py").write_text(BARE_PROXY)
    upstream = f"http://127.0.0.1:{up_port}"
    config = tmp / "switchboard.toml"
    config.write_text(
        f'[server]\nport = {door_port}\n[[callcenters]]\nname = "cc"\nurl = "{upstream}"\n'
    )
    tmp.chmod(0o755)  # nginx workers drop to an unprivileged user and must read the page
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    procs.spawn(1, nginx, "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "nginx-error.log"))
    _wait(f"{upstream}/health")
    py = sys.executable
    door_pid = procs.spawn(0, py, "-m", "failover", "serve", "--config", str(config))
    bare_pid = procs.spawn(0, py, str(tmp / "bare.py"), str(bare_port), upstream)
    door = f"http://127.0.0.1:{door_port}/support/router/setup"
    bare = f"http://127.0.0.1:{bare_port}/support/router/setup"
    _wait(f"http://127.0.0.1:{door_port}/readyz")
    _wait(bare)
    with urllib.request.urlopen(door) as a, urllib.request.urlopen(bare) as b:
        if a.read() != b.read():
            raise SystemExit("bench: the two contenders do not serve the same bytes")
    wrk(door, 2, door_pid)  # warm-up both
    wrk(bare, 2, bare_pid)
    results: dict[str, list[Result]] = {"front door": [], "bare aiohttp proxy": []}
    for _ in range(rounds):
        results["front door"].append(wrk(door, seconds, door_pid))
        results["bare aiohttp proxy"].append(wrk(bare, seconds, bare_pid))
    return results


def report(results: dict[str, list[Result]], *, seconds: int, rounds: int) -> str:
    lines = [
        f"proxy path, {len(PAGE)} B page, wrk -t1 -c32, {rounds} x {seconds} s alternating, "
        f"proxy on core 0, wrk + nginx upstream on core 1 ({os.cpu_count()} cores)",
        "",
        "| contender | req/s (median) | CPU us/request | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    rps, cpu = {}, {}
    for name, rs in results.items():
        rps[name] = statistics.median(r.rps for r in rs)
        cpu[name] = statistics.median(r.cpu_us for r in rs)
        lines.append(
            f"| {name} | {rps[name]:.0f} | {cpu[name]:.0f} | "
            f"{statistics.median(r.p50_ms for r in rs):.2f} | "
            f"{statistics.median(r.p99_ms for r in rs):.2f} | {sum(r.errors for r in rs)} |"
        )
    door, bare = "front door", "bare aiohttp proxy"
    lines += [
        "",
        f"throughput ratio front door / bare: {rps[door] / rps[bare]:.2f}",
        f"CPU-per-request ratio bare / front door (per-worker capacity): "
        f"{cpu[bare] / cpu[door]:.2f}   (goal >= 0.85)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"bench: {tool} is not installed (make bench installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    try:
        with Processes() as procs:
            results = run(tmp, procs, seconds=args.seconds, rounds=args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, seconds=args.seconds, rounds=args.rounds)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
