"""Benchmark: where the proxy path's extra instructions go, handler by handler.

`bench_proxy` counts whole processes: server, handler and client. This one counts only
the handlers, each alone in its own process under callgrind (`bench/handler_child.py`),
called `--calls` times in a row with one prepared request against one nginx upstream
serving the proxy bench's page:

- `bare`: the bare forwarding proxy's handler (`bench/bare.py`, `forward`);
- `support`: the front door's `/support` handler alone;
- `observed`: the same inside `observed`, the wrapper every route has (request id,
  latency and answer metrics): what a customer's request runs.

Then the pieces of the front door's own work, timed alone (`timeit`, best of 5), to
say which of them the difference is made of.

    python -m loadtests.bench_proxy_handler [--calls 2000] [--out FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

from loadtests.bench.callgrind import callgrind_control, dump_total
from loadtests.bench.stage import Processes, check_tools, pinned, start_upstream

VARIANTS = {
    "bare": "bare forwarding proxy's handler",
    "support": "front door's `support` alone",
    "observed": "front door's `support` in `observed` (what a request runs)",
}
DEFAULT_OUT = Path(__file__).parent / "results" / "proxy-handler.md"

PIECES_SETUP = """
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry
from failover.breaker import Outcome
from failover.clock import SystemClock
from failover.headers import downstream_response_headers, upstream_request_headers
from failover.logs import REQUEST_ID, accept_request_id
from failover.settings import load_settings
from failover.app import build_pool
from monitoring.metrics import Metrics
settings = load_settings(CONFIG, env={})
pool, clock = build_pool(settings), SystemClock()
metrics = Metrics(CollectorRegistry(), now=clock.monotonic)
incoming = CIMultiDictProxy(CIMultiDict({"Host": "127.0.0.1:8080", "User-Agent": "wrk"}))
answer = CIMultiDictProxy(CIMultiDict({
    "Server": "nginx", "Date": "Tue, 24 Nov 2026 02:40:00 GMT", "Content-Type": "text/html",
    "Content-Length": "4096", "Last-Modified": "Tue, 24 Nov 2026 02:00:00 GMT",
    "Connection": "keep-alive", "ETag": '"abc-1000"', "Accept-Ranges": "bytes"}))
"""
PIECES = {
    "request headers to the call center (`upstream_request_headers`)":
        "upstream_request_headers(incoming, peer='127.0.0.1', scheme='http', "
        "host='127.0.0.1:8080', trusted=(), keep_content_length=False, request_id='r-1')",
    "answer headers to the customer (`downstream_response_headers`)":
        "downstream_response_headers(answer, upstream_base='http://127.0.0.1:1', "
        "mount='/support', keep_content_length=False, request_id='r-1')",
    "where to send the customer (`Pool.route`)":
        "pool.route(now=clock.monotonic(), wall=clock.wall)",
    "the attempt's outcome to the breaker (`Pool.record_outcome`)":
        "pool.record_outcome('cc', Outcome.SUCCESS, now=clock.monotonic())",
    "request metrics (`observe_request`)": "metrics.observe_request('support', 'cc', 200, 0.001)",
    "attempt counter (`count_attempt`)": "metrics.count_attempt('cc', 'success')",
    "request id and its log context": "REQUEST_ID.reset(REQUEST_ID.set(accept_request_id(None)))",
}  # fmt: skip


def count(upstream: str, variant: str, calls: int, tmp: Path) -> float:
    """Instructions per call of `variant`'s handler, under callgrind on core 0."""
    out = tmp / f"callgrind-{variant}.out"
    child = subprocess.Popen(  # noqa: S603
        ["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",  # noqa: S607
         sys.executable, "-m", "loadtests.bench.handler_child", upstream, variant, str(calls)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        if child.stdout.readline().strip() != "READY":
            raise SystemExit(f"bench: the {variant} handler did not start (exit {child.wait()})")
        callgrind_control("-z", child.pid)
        child.stdin.write("go\n")
        child.stdin.flush()
        if child.stdout.readline().strip() != "DONE":
            raise SystemExit(f"bench: the {variant} handler stopped (exit {child.wait()})")
        callgrind_control("-d", child.pid)
        total = dump_total(Path(f"{out}.1"))
        child.stdin.write("end\n")
        child.stdin.flush()
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    return total / calls


def time_pieces(tmp: Path) -> dict[str, float]:
    config = tmp / "pieces.toml"
    config.write_text('[[callcenters]]\nname = "cc"\nurl = "http://127.0.0.1:1"\n')
    setup = PIECES_SETUP.replace("CONFIG", repr(str(config)))
    out = {}
    with pinned(0):
        for name, stmt in PIECES.items():
            n = 20_000
            best = min(timeit.repeat(stmt, setup=setup, number=n, repeat=5))
            out[name] = best / n * 1e9
    return out


def render(ir: dict[str, float], pieces: dict[str, float], calls: int) -> str:
    base = ir["bare"]
    lines = [
        "# The proxy path, handler by handler",
        "",
        f"`python -m loadtests.bench_proxy_handler`: each handler alone under callgrind, "
        f"{calls} calls with one prepared GET of the proxy bench's 4 KiB page from an nginx "
        "upstream (the client request included; no server, no customer socket).",
        "",
        "| handler | instructions per call | bare / this |",
        "|---|---:|---:|",
    ]
    lines += [f"| {VARIANTS[v]} | {ir[v]:,.0f} | {base / ir[v]:.2f} |" for v in VARIANTS]
    lines += [
        "",
        "The front door's own pieces, each timed alone (`timeit`, best of 5, core 0):",
        "",
        "| piece | ns per call |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {ns:,.0f} |" for name, ns in pieces.items()]
    lines.append(f"| all of them | {sum(pieces.values()):,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    check_tools(["nginx", "taskset", "valgrind", "callgrind_control"])
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as name, Processes() as procs:
        tmp = Path(name)
        upstream = start_upstream(tmp, procs)
        ir = {}
        for variant in VARIANTS:
            ir[variant] = count(upstream, variant, args.calls, tmp)
            print(f"{variant}: {ir[variant]:,.0f} instructions per call", flush=True)
        pieces = time_pieces(tmp)
    report = render(ir, pieces, args.calls)
    print(report)
    args.out.write_text(report)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
