"""What every bench shares: its workspace (a temporary folder and its processes); its
contenders (a front door, a bare aiohttp app), each started and waited for through the
process harness (sims/harness/); the community simulator; the command line and the report
file."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from loadtests.spike import readings
from sims.harness import frontdoor
from sims.harness.ports import fetch, free_port, wait_http, wait_text
from sims.harness.procs import Processes

PAGE = (b"<!doctype html><title>Router setup</title>" + b"<p>Step by step help.</p>" * 160)[:4096]
PAGE_PATH = "/support/router/setup"
READY_LOG = "bulletins known"  # cache/runtime.py logs it when the start-up fill is done
SIDE_CORE = 1  # the load generator's, with Redis, nginx upstream and the simulators
DOOR_START_S = 60.0  # a front door's start-up: imports, the self-help fill, the index
DOOR = "front door"
BARE_DROP = "bare aiohttp proxy, dropping headers"
BARE_FORWARD = "bare aiohttp proxy, forwarding headers"
BASELINES = (BARE_DROP, BARE_FORWARD)
BARE_SCRIPT = str(Path(__file__).with_name("bare.py"))
RESULTS = Path(__file__).parents[1] / "results"


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
    ops_port: int | None = None  # a front door's ops listener (/metrics, /api/v1/status)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + self.page_path

    def ops(self, path: str) -> bytes:
        """GET `path` (/metrics, /api/v1/status) on a front door's ops listener."""
        return fetch(f"http://127.0.0.1:{self.ops_port}{path}")[2]

    def counter(self, name: str, *labels: str) -> dict[tuple[str, ...], float]:
        """The series of counter `name` from /metrics, by the values of `labels`."""
        found = readings.parse(self.ops("/metrics").decode()).items()
        return {tuple(dict(ls)[k] for k in labels): v for (n, ls), v in found if n == name}


def door(
    tmp: Path, slug: str, *, name: str = DOOR, page_path: str = PAGE_PATH, log: bool = False,
    ready_log: str | None = None, **parts: Any,
) -> Contender:  # fmt: skip
    """A front door on free ports (customers, ops), serving the harness's
    `frontdoor.config(**parts)`, its log in `tmp` if `log`."""
    port, ops = free_port(), free_port()
    config = tmp / f"switchboard-{slug}-{port}.toml"
    config.write_text(frontdoor.config(port=port, ops_port=ops, **parts))
    argv = tuple(frontdoor.door_argv(config))
    logged = tmp / f"door-{slug}-{port}.log" if log else None
    return Contender(name, slug, argv, port, "/readyz", page_path, logged, ready_log, ops)


def bare(
    name: str, slug: str, mode: str, *args: str, page_path: str = PAGE_PATH,
    ready_path: str | None = None, log: Path | None = None,
) -> Contender:  # fmt: skip
    """One of bare.py's apps (`mode`: drop, forward, page, xadd) on a free port."""
    port = free_port()
    argv = (sys.executable, BARE_SCRIPT, mode, str(port), *args)
    return Contender(name, slug, argv, port, ready_path or page_path, page_path, log)


@contextmanager
def workspace(prefix: str = "switchboard-bench-") -> Iterator[tuple[Path, Processes]]:
    """A temporary folder and the processes a bench starts in it: on the way out, even
    on Ctrl-C, every process is stopped first, then the folder is removed."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with Processes() as procs:
            yield tmp, procs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_tools(tools: list[str]) -> None:
    for tool in tools:
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"bench: {tool} is not installed (make bench installs it)")


def start(
    procs: Processes, contender: Contender, *, core: int | None = 0, wrap: tuple[str, ...] = ()
) -> int:
    """Spawn `contender` on `core`, its argv behind `wrap` (e.g. valgrind); returns its pid."""
    return procs.spawn([*wrap, *contender.argv], core=core, log=contender.log).pid


def wait_ready(contender: Contender, *, seconds: float = 15.0) -> None:
    url = contender.base + contender.ready_path
    wait_http(url, what=f"bench: {contender.name}", seconds=seconds)
    if contender.ready_log is not None and contender.log is not None:
        wait_text(contender.log, contender.ready_log, seconds=seconds)


def start_community(procs: Processes, tmp: Path, *, topics: int | None = None) -> tuple[str, str]:
    """The community simulator as its own process on the side core (`topics` bulletins, else
    its default 300): its base URL and its control URL, once it answers."""
    extra = () if topics is None else ("--topics", str(topics))
    sim = frontdoor.start_sim(procs, "community", *extra, name="community", core=SIDE_CORE,
                              log=tmp / "community.log", ready="/latest.json")  # fmt: skip
    return sim.url, sim.control


def contenders(
    tmp: Path, upstream: str, *, settings: Mapping[str, Mapping[str, object]] | None = None
) -> list[Contender]:
    """The front door and the two bare proxies, each on a fresh port. The front door has
    the default configuration, but `settings` (callgrind's probes)."""
    return [
        door(tmp, "door", centers=[("cc", upstream)], settings=settings),
        bare(BARE_DROP, "bare-drop", "drop", upstream),
        bare(BARE_FORWARD, "bare-forward", "forward", upstream),
    ]


def same_page(
    contenders: list[Contender], body: bytes = PAGE, ctype: str | None = None, *,
    headers: Mapping[str, Mapping[str, str]] | None = None,
) -> None:  # fmt: skip
    """Every contender answers 200 with `body` (and Content-Type `ctype`, if given), and
    each one named in `headers` with those headers and values."""
    for c in contenders:
        status, found_headers, got = fetch(c.url)
        found = found_headers.get("Content-Type", "") if ctype is not None else None
        if (status, found, got) != (200, ctype, body):
            raise SystemExit(f"bench: {c.name} answers {status} {found!r}, {len(got)} B: not the "
                             f"expected page ({len(body)} B {ctype!r})")  # fmt: skip
        wanted = (headers or {}).get(c.name, {})
        differ = sorted(k for k, v in wanted.items() if found_headers.get(k) != v)
        if differ:
            raise SystemExit(f"bench: {c.name} answers other headers: {', '.join(differ)}")


def parser(
    doc: str | None, out: str, *, wrk: bool = True, callgrind: bool = False
) -> argparse.ArgumentParser:
    """A bench's command line: `--out` (default loadtests/results/`out`); with `wrk`, the
    wall-clock rounds; with `callgrind`, the instruction count. A script adds its own
    options before parsing."""
    p = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / out, help="markdown report")
    if wrk:
        p.add_argument("--seconds", type=int, default=8, help="length of one wrk run")
        p.add_argument("--rounds", type=int, default=3, help="wrk runs per contender")
    if callgrind:
        p.add_argument("--instructions", action=argparse.BooleanOptionalAction, default=True,
                       help="also count Ir per request under callgrind (default: on)")  # fmt: skip
        p.add_argument("--requests", type=int, default=1000, help="GETs counted by callgrind")
    return p


def write_report(out: Path, text: str) -> None:
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"bench: report written to {out}")


def renderer(folder: Path) -> Callable[..., str]:
    """`render(name, **values)`: the Jinja template `name` in `folder` (nginx's
    configurations, the reports' text), blocks trimmed, every placeholder required."""
    env = jinja2.Environment(  # noqa: S701 - configuration files and markdown, not HTML
        loader=jinja2.FileSystemLoader(folder),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return lambda name, **values: env.get_template(name).render(values)
