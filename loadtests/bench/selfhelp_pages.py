"""Part 1 of the self-help bench: one warm bulletin page, the front door against a bare
aiohttp app answering the same bytes with the same Content-Type, and against nginx
serving them as a static file (same Content-Type and Cache-Control; its own ETag).

All three on core 0, wrk on core 1 (`wallclock.alternate`); then the front door and the
bare app each alone under callgrind (`callgrind.measure`; nginx is not counted there).
The front door's page is fetched first and handed to the others, and all are checked to
answer exactly those bytes (before and after the wall-clock rounds; on every counted
request under callgrind).

The front door runs with `[selfhelp] max_age_s = 3600` so that the page is not refreshed
(and re-rendered with a new view count) in the middle of a run: with the default 60 s a
refresh costs one origin fetch and one render a minute, nothing per request, but the
bytes would drift from the bare app's.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from loadtests.bench import nginx
from loadtests.bench.callgrind import PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, Counted, measure
from loadtests.bench.selfhelp_stage import SelfHelpStage, get
from loadtests.bench.stage import Contender, start, wait_ready
from loadtests.bench.wallclock import Result, alternate

MAX_AGE_S = 3600
IDLE_S = 10.0  # callgrind: Ir/s of each contender with no requests, after the counted ones
DOOR_START_S = 60.0  # imports, the fill from Redis or the origin, the search index
COPIED = ("Cache-Control",)  # ETag nginx makes itself; Age and X-Request-Id are per answer


@dataclass(frozen=True, slots=True)
class PageRun:
    bulletin_id: int
    size: int
    content_type: str
    wall: dict[str, list[Result]]
    counted: dict[str, Counted] | None  # callgrind, by contender name


def _path(bulletin_id: int) -> str:
    return f"/help/bulletins/{bulletin_id}"


def reference(door: Contender) -> tuple[bytes, str]:
    """The door's page once rendered and cached: body and Content-Type, checked stable."""
    answers = [get(door.url) for _ in range(3)]
    status, content_type, body = answers[-1]
    if status != 200 or any(a != answers[-1] for a in answers[1:]):
        raise SystemExit(f"bench: {door.url} does not answer one stable page ({status})")
    return body, content_type


def copied_headers(door: Contender) -> dict[str, str]:
    """The door's page headers that nginx is told to add as well (it makes its own ETag)."""
    with urllib.request.urlopen(door.url, timeout=10) as answer:  # noqa: S310 - loopback
        return {name: answer.headers[name] for name in COPIED if name in answer.headers}


def identical(contenders: list[Contender], body: bytes, content_type: str) -> None:
    for c in contenders:
        status, ctype, got = get(c.url)
        if (status, ctype, got) != (200, content_type, body):
            raise SystemExit(
                f"bench: {c.name} answers {status} {ctype!r}, {len(got)} B: not the same "
                f"page as the front door's ({len(body)} B {content_type!r})"
            )


def run_wallclock(
    stage: SelfHelpStage, bulletin_id: int, *, seconds: int, rounds: int
) -> tuple[dict[str, list[Result]], bytes, str]:
    """Front door (default config, but max_age_s) and bare app up together on core 0."""
    procs, path = stage.procs, _path(bulletin_id)
    door = stage.door("door", page_path=path, max_age_s=MAX_AGE_S)
    pids = {door.name: start(procs, door)}
    wait_ready(door, seconds=DOOR_START_S)
    body, content_type = reference(door)
    bare = stage.bare("bare", page_path=path, body=body, content_type=content_type)
    static = nginx.static_page(
        stage.tmp,
        page_path=path,
        body=body,
        content_type=content_type,
        headers=copied_headers(door),
    )
    entrants = [door, bare, static]
    for c in (bare, static):
        pids[c.name] = start(procs, c)
        wait_ready(c)
    identical(entrants, body, content_type)
    wall = alternate(entrants, pids, seconds=seconds, rounds=rounds)
    identical(entrants, body, content_type)
    for pid in pids.values():
        procs.stop(pid)
    return wall, body, content_type


def run_instructions(
    stage: SelfHelpStage, bulletin_id: int, content_type: str, *, requests: int
) -> dict[str, Counted]:
    """The front door alone under callgrind (probes only at start-up), then the bare app
    answering exactly the page the front door answered there."""
    path = _path(bulletin_id)
    door = stage.door(
        "door-cg",
        page_path=path,
        health=(PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS),
        max_age_s=MAX_AGE_S,
    )
    tmp, procs = stage.tmp, stage.procs
    counted = {door.name: measure(tmp, procs, door, requests=requests, expected=None, idle=IDLE_S)}
    body = counted[door.name].body
    bare = stage.bare("bare-cg", page_path=path, body=body, content_type=content_type)
    counted[bare.name] = measure(tmp, procs, bare, requests=requests, expected=body, idle=IDLE_S)
    return counted


def run_pages(
    stage: SelfHelpStage, bulletin_id: int, *, seconds: int, rounds: int, requests: int | None
) -> PageRun:
    wall, body, content_type = run_wallclock(stage, bulletin_id, seconds=seconds, rounds=rounds)
    counted = None
    if requests is not None:
        counted = run_instructions(stage, bulletin_id, content_type, requests=requests)
    return PageRun(bulletin_id, len(body), content_type, wall, counted)
