"""Prometheus must reach /metrics where the front door serves it: on the ops listener
(`[ops] host:port`, default 127.0.0.1:9180), not on the customer port. deploy/check.py
runs these on every rendered overlay and on the compose stack.

Kubernetes: each ServiceMonitor endpoint is followed to the Service port it names, to the
container port that port targets, and to the config file that container runs with (its
ConfigMap); the container port must be the ops port, the ops host must not be loopback,
the path must be /metrics, and a NetworkPolicy selecting the pods must admit that port
from named peers (not from anywhere). Compose: each target of deploy/compose/prometheus.yml
is a service whose mounted switchboard.toml has its ops listener on that port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from deploy.check_manifest_model import (
    WORKLOADS,
    Doc,
    config_path,
    container_port,
    literal_env,
    matches,
    mounted_file,
    name,
    of_kind,
    pod_labels,
    pod_spec,
    settings_from_text,
)
from failover.settings import Settings

METRICS_PATH = "/metrics"
LOOPBACK = ("127.", "localhost", "::1")


def _listener_problems(where: str, settings: Settings, port: int, path: str) -> list[str]:
    ops = settings.ops
    problems = []
    if port != ops.port:
        problems.append(
            f"{where}: scrapes port {port}, but /metrics is on the ops listener, "
            f"{ops.host}:{ops.port} ([ops] of the config it deploys)"
        )
    if ops.host.startswith(LOOPBACK):
        problems.append(f"{where}: the ops listener is on {ops.host}, unreachable from Prometheus")
    if path != METRICS_PATH:
        problems.append(f"{where}: scrapes {path}, not {METRICS_PATH}")
    return problems


def _admitted(policy: Doc, labels: Mapping[str, Any], container: Doc, port: int) -> str | None:
    """None if `policy` (selecting these pods) admits `port` from named peers, else why."""
    if not matches(policy["spec"].get("podSelector"), labels):
        return None
    if "Ingress" not in policy["spec"].get("policyTypes", ["Ingress"]):
        return None
    for rule in policy["spec"].get("ingress", []):
        ports = rule.get("ports")
        if ports and not any(container_port(container, p.get("port")) == port for p in ports):
            continue
        if not rule.get("from"):
            return f"{name(policy)} admits port {port} from anywhere, not only from Prometheus"
        return ""
    return f"{name(policy)} does not admit port {port} (Prometheus cannot scrape)"


def check_servicemonitors(documents: Sequence[Doc], label: str) -> list[str]:
    configmaps = {d["metadata"]["name"]: d for d in of_kind(documents, "ConfigMap")}
    services = list(of_kind(documents, "Service"))
    workloads = list(of_kind(documents, *WORKLOADS))
    policies = list(of_kind(documents, "NetworkPolicy"))
    problems: list[str] = []
    for monitor in of_kind(documents, "ServiceMonitor"):
        selector = monitor["spec"].get("selector")
        chosen = [s for s in services if matches(selector, s["metadata"].get("labels"))]
        if not chosen:
            problems.append(f"{label}: {name(monitor)} selects no Service")
        for endpoint in monitor["spec"].get("endpoints", []):
            for service in chosen:
                where = f"{label}: {name(monitor)} -> {name(service)} port {endpoint.get('port')}"
                problems += _follow(where, endpoint, service, workloads, configmaps, policies)
    return problems


def _follow(  # noqa: PLR0917 - one step of the chain, with what it is checked against
    where: str,
    endpoint: Doc,
    service: Doc,
    workloads: Sequence[Doc],
    configmaps: Mapping[str, Doc],
    policies: Sequence[Doc],
) -> list[str]:
    sport = next(
        (p for p in service["spec"]["ports"] if p.get("name") == endpoint.get("port")), None
    )
    if sport is None:
        return [f"{where}: the Service has no port of that name"]
    target = sport.get("targetPort", sport["port"])
    problems: list[str] = []
    reached = False
    for workload in (w for w in workloads if matches(service["spec"]["selector"], pod_labels(w))):
        for container in pod_spec(workload)["containers"]:
            port = container_port(container, target)
            found = mounted_file(workload, container, config_path(container), configmaps)
            if port is None or found is None:
                continue  # not a front door container (no config), or not its port
            configmap, key = found
            reached = True
            settings = settings_from_text(configmap["data"][key], literal_env(container), where)
            if isinstance(settings, str):
                problems.append(settings)
                continue
            here = f"{where} -> {name(workload)}:{port}"
            problems += _listener_problems(here, settings, port, endpoint.get("path", "/metrics"))
            verdicts = [_admitted(p, pod_labels(workload), container, port) for p in policies]
            problems += [f"{here}: {v}" for v in verdicts if v]
    if not reached:
        problems.append(f"{where}: reaches no front door container (port {target})")
    return problems


def check_compose_scrape(compose: Path, prometheus: Path) -> list[str]:
    services = (yaml.safe_load(compose.read_text()) or {}).get("services", {})
    config = yaml.safe_load(prometheus.read_text()) or {}
    problems: list[str] = []
    for job in config.get("scrape_configs", []):
        path = job.get("metrics_path", METRICS_PATH)
        for static in job.get("static_configs", []):
            for target in static.get("targets", []):
                host, _, port = str(target).rpartition(":")
                service = services.get(host)
                if service is None:
                    problems.append(f"{prometheus}: target {target}: no such compose service")
                    continue
                text = _compose_config(compose.parent, service)
                if text is None:
                    continue  # not a front door: no switchboard.toml mounted
                env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
                ops_env = {k: v for k, v in env.items() if k.startswith("SWITCHBOARD_OPS__")}
                where = f"{prometheus}: job {job.get('job_name')} target {target}"
                settings = settings_from_text(text, ops_env, where)
                if isinstance(settings, str):
                    problems.append(settings)
                    continue
                problems += _listener_problems(where, settings, int(port), path)
    return problems


def _compose_config(root: Path, service: Doc) -> str | None:
    for volume in service.get("volumes", []):
        if not isinstance(volume, str) or volume.count(":") < 1:
            continue
        source, target = volume.split(":")[:2]
        if target == "/etc/switchboard/switchboard.toml" and (root / source).is_file():
            return (root / source).read_text()
    return None
