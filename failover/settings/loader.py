"""load_settings: read the TOML file, apply ``SWITCHBOARD_*`` environment overrides, validate."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from failover.settings.callcenters import CallCenterSettings
from failover.settings.errors import ConfigError, _describe, _known_hint
from failover.settings.models import _SECTIONS, Settings
from failover.settings.validators import Loc

ENV_PREFIX = "SWITCHBOARD_"
ADMIN_TOKEN_VAR = "SWITCHBOARD_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
_IGNORED_VARS = frozenset({"SWITCHBOARD_CONFIG"})


def load_settings(path: str | Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (TOML), apply ``SWITCHBOARD_*`` overrides from ``env`` (default
    ``os.environ``), validate. Raises :class:`ConfigError` listing every problem."""
    source = str(path)
    try:
        raw: dict[str, Any] = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, ["config file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, ["not valid UTF-8 (TOML files are UTF-8)"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read config file: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None

    problems = _file_checks(raw)
    origins, env_problems = _apply_env(raw, os.environ if env is None else env)
    problems += env_problems
    try:
        settings = Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        problems += [_describe(error, origins) for error in exc.errors(include_url=False)]
    if problems:
        raise ConfigError(source, problems)
    return settings


def _file_checks(raw: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    admin = raw.get("admin")
    if isinstance(admin, dict) and "token" in admin:
        del admin["token"]
        problems.append(
            f"admin.token: secrets do not go into files; remove it and set env {ADMIN_TOKEN_VAR}"
        )
    if "source" in raw:
        del raw["source"]
        problems.append("source: unknown key (the loader sets it to the file path)")
    return problems


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[Loc, str], list[str]]:
    origins: dict[Loc, str] = {}
    problems: list[str] = []
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in _IGNORED_VARS:
            continue
        loc: Loc
        if var == ADMIN_TOKEN_VAR:
            value: object = env[var]  # a secret is a bare string, never parsed as TOML
            target, loc = _section_table(raw, "admin"), ("admin", "token")
        else:
            try:
                target, loc = _env_target(raw, var)
            except ValueError as exc:
                problems.append(f"{var}: {exc}")
                continue
            value = _env_value(env[var])
        if target is None:
            problems.append(f"{var}: cannot apply: [{loc[0]}] in the file is not a table")
            continue
        target[str(loc[-1])] = value
        origins[loc] = var
    return origins, problems


def _env_target(raw: dict[str, Any], var: str) -> tuple[dict[str, Any] | None, Loc]:
    parts = var[len(ENV_PREFIX) :].lower().split("__")
    if parts[0] == "callcenters":
        return _callcenter_target(raw, parts)
    model = _SECTIONS.get(parts[0])
    if model is None or len(parts) != 2:
        sections = ", ".join(s.upper() for s in (*_SECTIONS, "callcenters") if s != "admin")
        raise ValueError(
            f"unknown variable; expected {ENV_PREFIX}<SECTION>__<KEY> (double underscore) "
            f"with SECTION one of {sections}, or {ADMIN_TOKEN_VAR}"
        )
    section, key = parts
    if (section, key) == ("admin", "token"):
        raise ValueError(f"set the admin token with {ADMIN_TOKEN_VAR}")
    if key not in model.model_fields:
        raise ValueError(f"unknown key {key!r} in [{section}]{_known_hint(key, model)}")
    return _section_table(raw, section), (section, key)


def _callcenter_target(raw: dict[str, Any], parts: list[str]) -> tuple[dict[str, Any], Loc]:
    if len(parts) != 3:
        raise ValueError(f"expected {ENV_PREFIX}CALLCENTERS__<NAME>__<KEY>")
    _, name, key = parts
    entries = raw.get("callcenters")
    entries = entries if isinstance(entries, list) else []
    matches = [
        index
        for index, entry in enumerate(entries)
        if isinstance(entry, dict) and str(entry.get("name", "")).lower().replace("-", "_") == name
    ]
    if not matches:
        raise ValueError(
            f"no call center in the file has NAME {name.upper()} (the name upper-cased, '-' as "
            "'_'); the environment can override call centers, not add them"
        )
    if len(matches) > 1:
        raise ValueError(f"NAME {name.upper()} matches several call centers: {matches}")
    if key == "name" or key not in CallCenterSettings.model_fields:
        raise ValueError(
            f"unknown call-center key {key!r}{_known_hint(key, CallCenterSettings, 'name')}"
        )
    table: dict[str, Any] = entries[matches[0]]
    return table, ("callcenters", matches[0], key)


def _section_table(raw: dict[str, Any], section: str) -> dict[str, Any] | None:
    table = raw.setdefault(section, {})
    return table if isinstance(table, dict) else None


def _env_value(text: str) -> object:
    try:
        document = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    # "1\nother = 2" parses too, but it is not one value: keep the text as written.
    return document["value"] if document.keys() == {"value"} else text
