"""Redis as deployed must keep the promises of docs/callbacks.md and docs/deploy.md.
deploy/check.py runs these on every rendered overlay, the compose stack and the Redis
config files.

- Memory: a Redis with `maxmemory-policy noeviction` refuses writes when full (the front
  door then spools) only if `maxmemory` is set; without it the container's memory limit
  is reached first and the kernel kills Redis. So every such config sets `maxmemory`,
  and where it runs in a container with a memory limit, at most `MAX_SHARE` of it: the
  rest is for the copy-on-write of the AOF-rewrite fork, replication buffers and the
  allocator's overhead.
- Acknowledged callbacks survive a front door pod's deletion: with `replicas_to_ack` >= 1
  a callback no replica confirmed is kept in the front door's spool until one does. If
  that spool is on an emptyDir, Redis must have a replica to confirm even while the PDB
  lets pods go: data pods >= 1 (primary) + replicas_to_ack + what the PDB lets go.
  Otherwise the spool must be on a PersistentVolumeClaim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from deploy.check_manifest_model import (
    WORKLOADS,
    Doc,
    argv,
    compose_bytes,
    config_path,
    k8s_bytes,
    literal_env,
    matches,
    mounted_file,
    name,
    of_kind,
    pod_labels,
    pod_spec,
    redis_bytes,
    redis_directives,
    settings_from_text,
)
from failover.callbacks.wiring import replicas_to_ack, spool_path

MAX_SHARE = 0.75  # of the container's memory limit, at most, for maxmemory


def _memory_problems(where: str, conf: str, limit: int | None) -> list[str]:
    directives = redis_directives(conf)
    if directives.get("maxmemory-policy") != "noeviction":
        return []
    maxmemory = redis_bytes(directives.get("maxmemory", "0")) or 0
    if maxmemory <= 0:
        return [f"{where}: maxmemory-policy noeviction without maxmemory: a full Redis is "
                "killed at its memory limit instead of refusing writes"]  # fmt: skip
    if limit is not None and maxmemory > MAX_SHARE * limit:
        return [f"{where}: maxmemory {directives['maxmemory']} is over {MAX_SHARE:.0%} of the "
                f"container's memory limit ({limit} bytes): no headroom for the AOF-rewrite "
                "fork and replication buffers"]  # fmt: skip
    return []


def check_redis_files(paths: Sequence[Path]) -> list[str]:
    return [p for path in paths for p in _memory_problems(str(path), path.read_text(), None)]


def _redis_confs(workload: Doc, container: Doc, configmaps: Mapping[str, Doc]) -> list[str]:
    """The redis.conf texts a container runs: ConfigMap files its command names, or that
    a script it names mentions (start-redis.sh copies redis.conf)."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    words = " ".join(argv(container))
    confs = []
    for mount in container.get("volumeMounts", []):
        source = volumes.get(mount["name"], {}).get("configMap")
        data = configmaps.get(source["name"], {}).get("data", {}) if source else {}
        named = [key for key in data if key in words]
        used = {*named, *(k for n in named for k in data if k != n and k in data[n])}
        confs += [data[k] for k in sorted(used) if "maxmemory-policy" in data[k]]
    return confs


def _redis_workloads(documents: Sequence[Doc]) -> list[tuple[Doc, Doc, list[str]]]:
    configmaps = {d["metadata"]["name"]: d for d in of_kind(documents, "ConfigMap")}
    found = []
    for workload in of_kind(documents, *WORKLOADS):
        for container in pod_spec(workload)["containers"]:
            confs = _redis_confs(workload, container, configmaps)
            if confs:
                found.append((workload, container, confs))
    return found


def check_redis_memory(documents: Sequence[Doc], label: str) -> list[str]:
    problems: list[str] = []
    for workload, container, confs in _redis_workloads(documents):
        limit = k8s_bytes(container.get("resources", {}).get("limits", {}).get("memory", ""))
        where = f"{label}: {name(workload)} container {container['name']}"
        problems += [p for conf in confs for p in _memory_problems(where, conf, limit)]
    return problems


def check_compose_redis(compose: Path) -> list[str]:
    services = (yaml.safe_load(compose.read_text()) or {}).get("services", {})
    problems: list[str] = []
    for service_name, service in services.items():
        command = " ".join(map(str, service.get("command") or []))
        limit = service.get("mem_limit") or (
            service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        )
        for volume in service.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            target = rest.split(":")[0]
            if source.startswith(".") and target and target in command:
                conf = (compose.parent / source).read_text()
                where = f"{compose}: services.{service_name} ({source})"
                problems += _memory_problems(where, conf, compose_bytes(limit) if limit else None)
    return problems


def _unavailable(workload: Doc, pdbs: Sequence[Doc]) -> int:
    """How many of the workload's pods its PDB lets go at once (all, without one)."""
    replicas = int(workload["spec"].get("replicas", 1))
    allowed = replicas
    for pdb in (p for p in pdbs if matches(p["spec"].get("selector"), pod_labels(workload))):
        spec = pdb["spec"]
        if "maxUnavailable" in spec:
            value = spec["maxUnavailable"]
            if isinstance(value, str) and value.endswith("%"):
                value = math.ceil(replicas * int(value[:-1]) / 100)
            allowed = min(allowed, int(value))
        elif "minAvailable" in spec and not str(spec["minAvailable"]).endswith("%"):
            allowed = min(allowed, replicas - int(spec["minAvailable"]))
    return max(allowed, 0)


def _on_claim(workload: Doc, container: Doc, path: str) -> bool:
    """Whether `path` is on a PersistentVolumeClaim (a claim, or a StatefulSet template)."""
    mounts = [
        m for m in container.get("volumeMounts", [])
        if PurePosixPath(path).is_relative_to(m["mountPath"])
    ]  # fmt: skip
    if not mounts:
        return False
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    templates = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    return "persistentVolumeClaim" in volumes.get(mount["name"], {}) or mount["name"] in templates


def check_callback_durability(documents: Sequence[Doc], label: str) -> list[str]:
    configmaps = {d["metadata"]["name"]: d for d in of_kind(documents, "ConfigMap")}
    pdbs = list(of_kind(documents, "PodDisruptionBudget"))
    redis = [w for w, _, _ in _redis_workloads(documents)]
    problems: list[str] = []
    for workload in of_kind(documents, *WORKLOADS):
        for container in pod_spec(workload)["containers"]:
            found = mounted_file(workload, container, config_path(container), configmaps)
            if found is None:
                continue
            configmap, key = found
            where = f"{label}: {name(workload)}"
            settings = settings_from_text(configmap["data"][key], literal_env(container), where)
            if isinstance(settings, str):
                problems.append(settings)
                continue
            acks = replicas_to_ack(settings)
            spool = str(spool_path(settings))
            if not settings.callbacks.enabled or not acks or _on_claim(workload, container, spool):
                continue
            problems += [
                f"{where}: replicas_to_ack = {acks} and the spool ({spool}) dies with the pod, "
                f"but {name(data)} has {_replicas(data)} pods of which its PDB lets "
                f"{_unavailable(data, pdbs)} go: a callback spooled while no replica confirms "
                f"is lost with the pod (need >= {1 + acks + _unavailable(data, pdbs)} pods, "
                "or the spool on a PersistentVolumeClaim)"
                for data in redis
                if _replicas(data) - _unavailable(data, pdbs) - 1 < acks
            ]
    return problems


def _replicas(workload: Mapping[str, Any]) -> int:
    return int(workload["spec"].get("replicas", 1))
