"""Loading settings in tests: a config file written to `tmp_path`, loaded with a given
environment, and its problems asserted line by line (the file, the key, the reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.settings import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
CENTER = '[[callcenters]]\nname = "primary"\nurl = "http://127.0.0.1:9001"\n'
TOKEN = "s3cret-token-0123456789"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(write(tmp_path, text), env={} if env is None else env)


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={} if env is None else env)
    return str(caught.value)


def assert_problem(message: str, tmp_path: Path, key: str, reason: str) -> None:
    """One line of ``message`` names the file, then ``key``, and contains ``reason``."""
    prefix = f"{tmp_path / 'switchboard.toml'}: {key}"
    lines = [line for line in message.splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r} in:\n{message}"
    assert any(reason in line for line in lines), f"{reason!r} not in {lines}"
