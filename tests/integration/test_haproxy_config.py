"""The rendered haproxy.cfg (failover/haproxy_config.py): valid for `haproxy -c`, printed by
the CLI, and its two pieces of customer-facing logic checked against Switchboard's own on
the same inputs, through a real HAProxy: the topic words of the self-help redirect and
the refusal of paths under /support (issue 18)."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from failover.haproxy_config import BAD_PATH_REGEX, render, topic_expression
from failover.settings import load_settings
from failover.target import BadTargetError, check_path
from failover.web import topic_words
from tests.support.haproxy import HAPROXY
from tests.support.processes import free_port, stop_process

THREE = """
[server]
port = 8080
trusted_proxies = ["10.0.0.0/8"]
[dataplane]
mode = "haproxy"
listen_port = 18080
stats_socket = "{tmp}/haproxy.sock"
[[callcenters]]
name = "manila"
url = "http://10.1.0.1:8000/cc"
priority = 2
[[callcenters]]
name = "dublin"
url = "http://10.1.0.2:8000/cc/"
priority = 1
[[callcenters]]
name = "austin"
url = "http://[2001:db8::1]:8000/cc"
priority = 3
"""


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "switchboard.toml"
    path.write_text(text.format(tmp=tmp))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "failover", *args], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip


def test_rendered_config_for_three_call_centers_passes_haproxy_check(tmp_path: Path) -> None:
    config = _write(tmp_path, THREE)
    done = _cli("haproxy-config", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout == render(load_settings(config))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(done.stdout)
    check = subprocess.run(  # noqa: S603
        [HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # Servers in priority order, each asked about by its own name; the base path kept.
    servers = [
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("    server cc_")
    ]
    assert servers == ["cc_dublin", "cc_manila", "cc_austin"]
    assert 'agent-send "austin\\n"' in done.stdout
    assert "set-uri /cc/%[path,bytes(9)]?%[query] if sb_query" in done.stdout
    assert "[2001:db8::1]:8000" in done.stdout
    assert "acl sb_trusted src 10.0.0.0/8" in done.stdout


def test_per_client_connections_are_tracked_by_the_configured_ipv6_network(
    tmp_path: Path,
) -> None:
    # Before: `track-sc0 src` in a `type ipv6` table counted each address of a /64 as a
    # client of its own (6 connections held from one /64 against a cap of 2).
    config = _write(
        tmp_path, THREE.replace("[dataplane]", "[limits]\nipv6_prefix = 48\n[dataplane]")
    )
    rendered = render(load_settings(config))
    tracking = [line.strip() for line in rendered.splitlines() if "track-sc0" in line]
    assert tracking == ["tcp-request connection track-sc0 src,ipmask(32,48)"]
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(rendered)
    check = subprocess.run(  # noqa: S603
        [HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    default = render(load_settings(_write(tmp_path, THREE)))
    assert "track-sc0 src,ipmask(32,64)\n" in default


def test_call_centers_with_different_base_paths_are_refused_with_exit_2(tmp_path: Path) -> None:
    config = _write(tmp_path, THREE.replace("http://10.1.0.1:8000/cc", "http://10.1.0.1:8000/x"))
    done = _cli("haproxy-config", "--config", str(config))
    assert done.returncode == 2
    assert str(config) in done.stderr
    assert "callcenters.url" in done.stderr
    assert "same base path" in done.stderr


def test_unknown_dataplane_mode_names_file_key_and_reason(tmp_path: Path) -> None:
    config = _write(tmp_path, THREE.replace('mode = "haproxy"', 'mode = "nginx"'))
    done = _cli("haproxy-config", "--config", str(config))
    assert done.returncode == 2
    assert str(config) in done.stderr
    assert "dataplane.mode" in done.stderr
    assert "haproxy" in done.stderr  # what would have been accepted


PROBE_CONFIG = """global
    nbthread 1
defaults
    mode http
    timeout client 5s
    timeout connect 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:{port}
    acl sb_bad_target path -i -m reg {bad}
    http-request set-var(txn.sb_path) path
    http-request set-var(txn.sb_q) "{topic}"
    http-request return status 400 if sb_bad_target
    http-request return status 200 content-type text/plain lf-string "%[var(txn.sb_q)]"
"""


@asynccontextmanager
async def probe_haproxy(tmp: Path) -> AsyncIterator[int]:
    """HAProxy with the renderer's topic expression and path check, answering them back."""
    port = free_port()
    cfg = tmp / "probe.cfg"
    cfg.write_text(
        PROBE_CONFIG.format(port=port, bad=BAD_PATH_REGEX, topic=topic_expression("/support"))
    )
    proc = await asyncio.create_subprocess_exec(
        HAPROXY, "-db", "-f", str(cfg),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                await raw_get(port, "/")
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield port
    finally:
        await stop_process(proc, grace=2)


async def raw_get(port: int, target: str) -> tuple[int, str]:
    """The request target exactly as given: an HTTP client library would normalise it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _random_tail(rng: random.Random) -> str:
    alphabet = ["a", "B", "z9", "-", "_", ".", "%20", "%41", "%2d", "/", "wifi", "x" * 45]
    return "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


async def test_topic_words_in_haproxy_match_switchboards_for_ascii_paths(tmp_path: Path) -> None:
    rng = random.Random(18)
    tails = [
        "/router/wifi-keeps-dropping", "/modem/firmware%20update", "/Billing/Invoice_2024",
        "/a/b/c/d/e/f/g/h/i/j", "/---", "", "/%41bc%20de",
        "/" + "x" * 50 + "/" + "y" * 45 + "/" + "z" * 45 + "/" + "w" * 30,
        *(_random_tail(rng) for _ in range(150)),
    ]  # fmt: skip
    async with probe_haproxy(tmp_path) as port:
        for tail in tails:
            status, q = await raw_get(port, "/support" + tail)
            if status == 400:
                continue  # refused before any redirect (the next test)
            assert q == "+".join(topic_words(tail.lstrip("/"))), tail


@pytest.mark.parametrize("seed", [1, 2])
async def test_haproxy_refuses_the_paths_switchboard_refuses(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    parts = ["a", "/", ".", "..", "%2e", "%2E", "%2f", "%5C", "%25", "%00", "%1f", "%7f",
             "%41", "\\", "b.c", "%2e%2e", "x", ";", "%3b"]  # fmt: skip
    tails = ["/a/../b", "/a/%2e%2e/b", "/.", "/a%2fb", "/a%5cb", "/a%252e", "/a/b.c", "/v1.2/x",
             "/%00", "/a\\b", "/..%2f", "/ok/path", "/..;/b", "/%2e%2e%3B/b", "/a;b"]  # fmt: skip
    tails += [
        "/" + "".join(rng.choice(parts) for _ in range(rng.randint(1, 6))) for _ in range(120)
    ]
    async with probe_haproxy(tmp_path) as port:
        for tail in tails:
            try:
                check_path(tail)
                expected = 200
            except BadTargetError:
                expected = 400
            status, _ = await raw_get(port, "/support" + tail)
            if "%25%" in tail:  # HAProxy is stricter there: '%25' before an encoded byte
                assert status == 400, tail
            else:
                assert status == expected, tail
