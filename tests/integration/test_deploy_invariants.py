"""deploy/check_scrape.py and deploy/check_redis.py: what deploy/ promises across files,
each check shown to fail on the mistake it exists for (the manifests before the fix had
all three: Prometheus on the customer port, noeviction without maxmemory, two Redis pods
behind an emptyDir spool) and to pass on the repository's deploy/.

The production overlay rendered by the real kustomize; real files in tmp_path.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy import check, check_kubernetes, check_redis, check_scrape
from deploy.check_manifest_model import compose_bytes, k8s_bytes, redis_bytes

DEPLOY = check.DEPLOY
STAND_IN = {"admin-token": "a", "form-secret": "b"}
Docs = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered() -> Docs:
    documents, problems = check_kubernetes.render(
        DEPLOY / "k8s" / "overlays" / "production", STAND_IN
    )
    assert problems == []
    return documents


def _named(actual: str, name: str) -> bool:
    """The object's name, or a generated ConfigMap's (kustomize adds a hash suffix)."""
    head, _, suffix = actual.rpartition("-")
    return actual == name or (head == name and len(suffix) == 10)


def _changed(documents: Docs, kind: str, name: str, change: Callable[[Any], None]) -> Docs:
    out = copy.deepcopy(documents)
    (doc,) = [d for d in out if d["kind"] == kind and _named(d["metadata"]["name"], name)]
    change(doc)
    return out


def test_the_production_overlay_keeps_every_promise(rendered: Docs) -> None:
    assert check.check_invariants(rendered, "t") == []


def test_a_servicemonitor_on_the_customer_port_fails(rendered: Docs) -> None:
    def old(monitor: Any) -> None:  # what deploy/ had before /metrics moved
        monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "frontdoor"
        monitor["spec"]["endpoints"][0]["port"] = "http"

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "ServiceMonitor", "switchboard", old), "t"
    )
    assert any("scrapes port 8080" in p and "9180" in p for p in problems), problems


def test_an_ops_listener_on_loopback_fails(rendered: Docs) -> None:
    def loopback(configmap: Any) -> None:
        text = configmap["data"]["switchboard.toml"]
        configmap["data"]["switchboard.toml"] = text.replace('host = "0.0.0.0"\nport = 9180', "")

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "ConfigMap", "switchboard-config", loopback), "t"
    )
    assert any("on 127.0.0.1, unreachable" in p for p in problems), problems


def test_a_wrong_path_and_a_missing_container_port_fail(rendered: Docs) -> None:
    def path(monitor: Any) -> None:
        monitor["spec"]["endpoints"][0]["path"] = "/stats"

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "ServiceMonitor", "switchboard", path), "t"
    )
    assert any("scrapes /stats" in p for p in problems), problems

    def no_port(deployment: Any) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["ports"] = [p for p in container["ports"] if p["name"] != "ops"]

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "Deployment", "switchboard", no_port), "t"
    )
    assert any("reaches no front door container" in p for p in problems), problems


def test_a_networkpolicy_must_admit_the_scrape_port_from_named_peers_only(
    rendered: Docs,
) -> None:
    def closed(policy: Any) -> None:
        policy["spec"]["ingress"] = policy["spec"]["ingress"][:1]  # customers' 8080 only

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "NetworkPolicy", "switchboard", closed), "t"
    )
    assert any("does not admit port 9180" in p for p in problems), problems

    def open_to_all(policy: Any) -> None:
        del policy["spec"]["ingress"][1]["from"]

    problems = check_scrape.check_servicemonitors(
        _changed(rendered, "NetworkPolicy", "switchboard", open_to_all), "t"
    )
    assert any("admits port 9180 from anywhere" in p for p in problems), problems


def _compose_copy(tmp_path: Path) -> Path:
    copy_ = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy_, ignore=shutil.ignore_patterns("__pycache__", "k8s"))
    return copy_


def test_compose_prometheus_must_scrape_the_ops_listener(tmp_path: Path) -> None:
    deploy = _compose_copy(tmp_path)
    compose, prometheus = deploy / "compose.yaml", deploy / "compose" / "prometheus.yml"
    assert check_scrape.check_compose_scrape(compose, prometheus) == []
    good = prometheus.read_text()
    prometheus.write_text(good.replace(":9180", ":8080"))  # the targets before the fix
    problems = check_scrape.check_compose_scrape(compose, prometheus)
    assert len(problems) == 2
    assert all("scrapes port 8080" in p for p in problems), problems
    prometheus.write_text(good)
    toml = deploy / "compose" / "switchboard.toml"
    toml.write_text(toml.read_text().replace('host = "0.0.0.0"\nport = 9180', ""))
    problems = check_scrape.check_compose_scrape(compose, prometheus)
    assert any("on 127.0.0.1, unreachable" in p for p in problems), problems


def test_memory_quantities_are_read_in_each_tools_units() -> None:
    assert redis_bytes("700mb") == 700 * 2**20
    assert redis_bytes("700m") == 700 * 10**6
    assert redis_bytes("1GB") == 2**30
    assert k8s_bytes("1Gi") == 2**30
    assert k8s_bytes("512M") == 512 * 10**6
    assert compose_bytes("1g") == compose_bytes("1gb") == 2**30
    assert redis_bytes("lots") is None


def test_noeviction_without_maxmemory_or_without_headroom_fails(rendered: Docs) -> None:
    def conf(text: str) -> Callable[[Any], None]:
        def change(configmap: Any) -> None:
            configmap["data"]["redis.conf"] = text

        return change

    old = "appendonly yes\nmaxmemory-policy noeviction\n"  # the manifests before the fix
    problems = check_redis.check_redis_memory(
        _changed(rendered, "ConfigMap", "redis-config", conf(old)), "t"
    )
    assert any("StatefulSet/redis" in p and "without maxmemory" in p for p in problems)
    full = old + "maxmemory 1gb\n"  # the whole 1Gi limit: nothing left for the fork
    problems = check_redis.check_redis_memory(
        _changed(rendered, "ConfigMap", "redis-config", conf(full)), "t"
    )
    assert any("over 75%" in p for p in problems), problems
    assert check_redis.check_redis_memory(rendered, "t") == []


def test_redis_files_and_compose_limits_are_checked(tmp_path: Path) -> None:
    deploy = _compose_copy(tmp_path)
    conf = deploy / "redis-callbacks.conf"
    assert check_redis.check_redis_files([conf]) == []
    assert check_redis.check_compose_redis(deploy / "compose.yaml") == []
    compose = deploy / "compose.yaml"
    compose.write_text(compose.read_text().replace("mem_limit: 1g", "mem_limit: 800m"))
    problems = check_redis.check_compose_redis(compose)
    assert len(problems) == 2  # primary and replica
    assert all("over 75%" in p for p in problems), problems
    conf.write_text(conf.read_text().replace("maxmemory 700mb", ""))
    assert check_redis.check_redis_files([conf]) != []


def test_two_redis_pods_behind_an_emptydir_spool_fail(rendered: Docs) -> None:
    def two(statefulset: Any) -> None:  # the manifests before the fix
        statefulset["spec"]["replicas"] = 2

    old = _changed(rendered, "StatefulSet", "redis", two)
    problems = check_redis.check_callback_durability(old, "t")
    assert len(problems) == 1
    assert "need >= 3 pods" in problems[0], problems
    assert check_redis.check_callback_durability(rendered, "t") == []


def test_a_pdb_letting_two_go_fails_and_a_spool_on_a_claim_passes(rendered: Docs) -> None:
    def loose(pdb: Any) -> None:
        pdb["spec"]["maxUnavailable"] = 2

    (redis_pdb,) = [d for d in rendered if d["kind"] == "PodDisruptionBudget"
                    and d["metadata"]["name"] == "redis"]  # fmt: skip
    assert redis_pdb["spec"]["maxUnavailable"] == 1
    assert (
        check_redis.check_callback_durability(
            _changed(rendered, "PodDisruptionBudget", "redis", loose), "t"
        )
        != []
    )

    def on_claim(deployment: Any) -> None:
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            if volume["name"] == "data":
                volume.pop("emptyDir")
                volume["persistentVolumeClaim"] = {"claimName": "spool"}

    both = _changed(rendered, "StatefulSet", "redis", lambda s: s["spec"].update(replicas=2))
    assert check_redis.check_callback_durability(both, "t") != []
    assert (
        check_redis.check_callback_durability(
            _changed(both, "Deployment", "switchboard", on_claim), "t"
        )
        == []
    )


def test_replicas_to_ack_0_needs_no_replica(rendered: Docs) -> None:
    def no_ack(configmap: Any) -> None:
        text = configmap["data"]["switchboard.toml"]
        configmap["data"]["switchboard.toml"] = text.replace(
            "[callbacks]\n", "[callbacks]\nreplicas_to_ack = 0\n"
        )

    both = _changed(rendered, "StatefulSet", "redis", lambda s: s["spec"].update(replicas=2))
    assert (
        check_redis.check_callback_durability(
            _changed(both, "ConfigMap", "switchboard-config", no_ack), "t"
        )
        == []
    )
