"""Reading rendered Kubernetes objects for deploy/'s cross-file checks
(deploy/check_scrape.py, deploy/check_redis.py): which pods a selector picks, which
ConfigMap file a container runs with, memory quantities, the front door's settings as a
pod sees them. No check lives here; each helper answers one question about the objects.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from failover.settings import ConfigError, Settings, load_settings

Doc = Mapping[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")

_K8S_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_K8S_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
# redis.conf: "1k" = 1000, "1kb" = 1024 (and so on), case-insensitive (redis.conf's header)
_REDIS_UNITS = {"": 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
# compose (and docker): b, k, m, g, each a power of 1024, with an optional trailing b
_COMPOSE_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def _quantity(text: object, units: Mapping[str, int], lower: bool) -> int | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    if match is None:
        return None
    unit = match.group(2).lower() if lower else match.group(2)
    factor = units.get(unit)
    if factor is None and lower and unit.endswith("b") and unit != "b":
        factor = units.get(unit[:-1])
    return None if factor is None else int(float(match.group(1)) * factor)


def k8s_bytes(text: object) -> int | None:
    return _quantity(text, _K8S_UNITS, lower=False)


def redis_bytes(text: object) -> int | None:
    return _quantity(text, _REDIS_UNITS, lower=True)


def compose_bytes(text: object) -> int | None:
    return _quantity(text, _COMPOSE_UNITS, lower=True)


def redis_directives(text: str) -> dict[str, str]:
    """The last value of each directive of a redis.conf (later lines win, as in Redis)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            out[words[0].lower()] = " ".join(words[1:])
    return out


def name(doc: Doc) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def of_kind(documents: Sequence[Doc], *kinds: str) -> Iterator[Doc]:
    return (d for d in documents if d.get("kind") in kinds)


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """A label selector (matchLabels, or a Service's plain map) against labels."""
    wanted = (selector or {}).get("matchLabels", selector or {})
    return bool(wanted) and all((labels or {}).get(k) == v for k, v in wanted.items())


def pod_labels(workload: Doc) -> Doc:
    labels: Doc = workload["spec"]["template"].get("metadata", {}).get("labels", {})
    return labels


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def container_port(container: Doc, port: object) -> int | None:
    """A port by number or by name, as a Service's targetPort names it."""
    for p in container.get("ports", []):
        if port in (p.get("name"), p.get("containerPort")):
            return int(p["containerPort"])
    return None


def mounted_file(
    workload: Doc, container: Doc, path: str, configmaps: Mapping[str, Doc]
) -> tuple[Doc, str] | None:
    """The ConfigMap and key a file path inside `container` comes from, if any."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    wanted = PurePosixPath(path)
    for mount in container.get("volumeMounts", []):
        source = volumes.get(mount["name"], {}).get("configMap")
        if source is None or wanted.parent != PurePosixPath(mount["mountPath"]):
            continue
        configmap = configmaps.get(source["name"])
        if configmap is not None and wanted.name in configmap.get("data", {}):
            return configmap, wanted.name
    return None


def argv(container: Doc) -> list[str]:
    return [str(a) for a in (*container.get("command", []), *container.get("args", []))]


def config_path(container: Doc) -> str:
    """The front door's config file: `--config PATH`, else the image's default."""
    words = argv(container)
    for i, word in enumerate(words[:-1]):
        if word == "--config":
            return words[i + 1]
    return "/etc/switchboard/switchboard.toml"


def literal_env(container: Doc) -> dict[str, str]:
    """The container's env values written out (not those from Secrets or fields)."""
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def settings_from_text(text: str, env: Mapping[str, str], where: str) -> Settings | str:
    """The front door's settings from a config file's text, or why they cannot be read."""
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        path = Path(tmp) / "switchboard.toml"
        path.write_text(text)
        try:
            return load_settings(path, env=env)
        except ConfigError as exc:
            return f"{where}: {exc}"


def generated_configmaps(kustomize_dir: Path) -> list[dict[str, Any]]:
    """The ConfigMaps a kustomization's configMapGenerator makes, and its resources'
    (recursively), unsuffixed: what the objects refer to when they are read unrendered."""
    path = kustomize_dir / "kustomization.yaml"
    if not path.is_file():
        return []
    spec = yaml.safe_load(path.read_text()) or {}
    out: list[dict[str, Any]] = []
    for gen in spec.get("configMapGenerator", []):
        data = {Path(f).name: (kustomize_dir / f).read_text() for f in gen.get("files", [])}
        out.append({"kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    for resource in spec.get("resources", []):
        if (kustomize_dir / resource).is_dir():
            out += generated_configmaps(kustomize_dir / resource)
    return out
