"""The Kubernetes part of deploy/'s checks (deploy/check.py runs it): render each overlay
with kustomize (`kubectl kustomize`, or a `kustomize` binary), then validate every rendered
object against the Kubernetes OpenAPI schemas in strict mode (kubernetes-validate: unknown
fields fail) for the oldest and newest Kubernetes we support, and the ServiceMonitor against
its CRD's schema (vendored in deploy/schemas, made strict the same way). A kind with no
schema fails: nothing passes unchecked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from deploy.check_files import run

# The oldest Kubernetes still supported upstream when this was written, and the newest
# kubernetes-validate knows; manifests must pass both.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")


def kustomize_command() -> list[str]:
    """kubectl's built-in kustomize (v5 needed: `labels`, directories in `resources`)."""
    kustomize = shutil.which("kustomize")
    if kustomize is not None:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise FileNotFoundError("neither kubectl nor kustomize is installed (docs/deploy.md)")
    done = run([kubectl, "version", "--client", "-o", "json"])
    version = json.loads(done.stdout or "{}").get("kustomizeVersion", "")
    if not version.startswith(("v4", "v5")):
        raise FileNotFoundError(f"kubectl's kustomize is {version or 'unknown'}; v5 needed")
    return [kubectl, "kustomize"]


def render(overlay: Path, secrets: Mapping[str, str] | None = None) -> tuple[list[Any], list[str]]:
    """Render an overlay from a copy of its k8s/ tree, with secrets.env written if given."""
    k8s = overlay.parent.parent
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        copy = Path(tmp) / "k8s"
        shutil.copytree(k8s, copy)
        target = copy / overlay.relative_to(k8s)
        if secrets is not None:
            lines = "".join(f"{key}={value}\n" for key, value in secrets.items())
            (target / "secrets.env").write_text(lines)
        done = run([*kustomize_command(), str(target)])
    if done.returncode != 0:
        return [], [f"kustomize {overlay}: {done.stderr.strip()}"]
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc], []


def _strict(schema: Any) -> Any:
    """What kubernetes-validate's strict schemas do: objects with properties take no others."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _custom_validators(schemas: Path) -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    servicemonitor = json.loads((schemas / "servicemonitor-v1.json").read_text())
    servicemonitor.pop("$comment", None)
    return {
        ("monitoring.coreos.com/v1", "ServiceMonitor"): jsonschema.Draft7Validator(
            _strict(servicemonitor)
        )
    }


def check_manifests(documents: Sequence[Any], schemas: Path, label: str) -> list[str]:
    custom = _custom_validators(schemas)
    problems: list[str] = []
    for doc in documents:
        where = f"{label}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        if key in custom:
            # A CRD's schema covers spec; metadata is the API server's (ObjectMeta).
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
            problems += [
                f"{where}: {e.json_path}: {e.message}" for e in custom[key].iter_errors(body)
            ]
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except ValidationError as exc:
                path = ".".join(str(part) for part in exc.path)
                problems.append(f"{where}: Kubernetes {version}: {path}: {exc.message}")
            except SchemaNotFoundError as exc:
                problems.append(f"{where}: {exc.message}")
    return problems
