"""The cluster's configuration, checked without building it: every front door's file
through the settings loader, HAProxy's through `haproxy -c`, and the choice of network."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from deploy.cluster import layout as lay
from deploy.cluster.netns import NetnsError, pick_subnet
from deploy.cluster.topology import HAPROXY
from failover.settings import load_settings

SUBNET = ipaddress.IPv4Network("10.123.45.0/24")


def test_every_front_door_config_loads_and_points_at_the_three_sentinels(tmp_path: Path) -> None:
    layout = lay.Layout(subnet=SUBNET, workdir=tmp_path)
    for host in lay.HOSTS:
        path = tmp_path / f"{host}.toml"
        path.write_text(lay.frontdoor_config(layout, host))
        settings = load_settings(path, env={})
        assert settings.redis.url == (
            "redis+sentinel://10.123.45.11:26379,10.123.45.12:26379,10.123.45.13:26379/mymaster/0"
        )
        assert settings.health.interval_ms == lay.HEALTH_INTERVAL_MS
        assert [c.name for c in settings.callcenters] == ["primary", "backup"]
        assert settings.callbacks.consumer == f"frontdoor-{host[1]}"


def test_haproxy_accepts_its_config(tmp_path: Path) -> None:
    layout = lay.Layout(subnet=SUBNET, workdir=tmp_path)
    path = tmp_path / "haproxy.cfg"
    path.write_text(lay.haproxy_config(layout))
    done = subprocess.run(  # noqa: S603 - our config, a fixed program
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=10, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "server fd3 10.123.45.13:8080" in path.read_text()


def test_the_network_chosen_overlaps_no_route_of_the_machine() -> None:
    taken = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/9", "192.0.2.0/24")]
    chosen = pick_subnet(4242, taken)
    assert chosen.prefixlen == 24
    assert chosen.subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))
    assert not any(chosen.overlaps(t) for t in taken)
    assert pick_subnet(4242, taken) == chosen  # the same for the same process


def test_no_network_left_is_an_error_not_a_clash() -> None:
    with pytest.raises(NetnsError, match="no free"):
        pick_subnet(1, [ipaddress.IPv4Network("10.0.0.0/8")])
