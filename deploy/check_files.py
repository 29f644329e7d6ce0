"""The checks of deploy/ that look at one kind of file each (deploy/check.py runs them all).

YAML style (yamllint), the Dockerfile (hadolint, then our policy), the compose file (its
schema and its bind mounts), the start scripts (shellcheck), HAProxy's and Prometheus's
configs (haproxy -c, promtool) and the front door's configs (the settings loader). Each
returns a list of problems (empty = pass). ``run`` is how every check here, and
deploy/check_kubernetes.py, runs an external tool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import yaml

from failover.settings import ConfigError, load_settings

BIN = Path(sys.executable).parent
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


def run(argv: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed tools, our own file names)
        argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def check_yaml(paths: Sequence[Path], config: Path) -> list[str]:
    done = run(
        [_tool("yamllint"), "--strict", "-f", "parsable", "-c", str(config), *map(str, paths)]
    )
    if done.returncode == 0:
        return []
    return [f"yamllint: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def check_dockerfile(path: Path) -> list[str]:
    done = run([_tool("hadolint"), "--no-color", "--failure-threshold", "style", str(path)])
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
    done = run([_tool("shellcheck"), "-f", "gcc", *map(str, paths)])
    if done.returncode == 0:
        return []
    return [f"shellcheck: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def check_haproxy(path: Path) -> list[str]:
    """haproxy -c (Debian's haproxy); unresolvable server names are warnings, not errors."""
    done = run([_tool("haproxy"), "-c", "-f", str(path)])
    if done.returncode == 0:
        return []
    return [f"haproxy {path}: {line}" for line in done.stderr.splitlines() if "ALERT" in line] or [
        f"haproxy {path}: exit {done.returncode}"
    ]


def check_prometheus(path: Path) -> list[str]:
    """promtool check config (Debian's prometheus package, as make rules uses)."""
    done = run([_tool("promtool"), "check", "config", str(path)])
    if done.returncode == 0:
        return []
    return [f"promtool {path}: {line}" for line in (done.stdout + done.stderr).splitlines() if line]


def check_configs(paths: Sequence[Path]) -> list[str]:
    problems: list[str] = []
    for path in paths:
        try:
            load_settings(path, env={})
        except ConfigError as exc:
            problems.append(f"{path}: {exc}")
    return problems
