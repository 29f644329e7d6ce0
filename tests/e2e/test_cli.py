"""The CLI contract of `check-config` and `serve`: exit codes, and messages on stderr that
name the file, the key and what is wrong (the loader's own cases: tests/unit/test_settings_*.py).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import clean_env

REPO = Path(__file__).resolve().parents[2]
EXIT_BAD_CONFIG = 2
CLI_TIMEOUT = 30.0
CENTER = '[[callcenters]]\nname = "primary"\nurl = "http://127.0.0.1:9001"\n'
BACKUP = '[[callcenters]]\nname = "backup"\nurl = "http://127.0.0.1:9002"\npriority = 2\n'


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    code: int
    stdout: str
    stderr: str


def switchboard(*args: str) -> Run:
    """`python -m failover ARGS` as a child process; bounded, and reaped by subprocess.run
    even when it times out."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "failover", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        env=clean_env(),
        cwd=REPO,
        check=False,
    )
    return Run(code=done.returncode, stdout=done.stdout, stderr=done.stderr)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_names_problem(run: Run, path: Path, key: str, reason: str) -> None:
    assert run.code == EXIT_BAD_CONFIG, run
    lines = [line for line in run.stderr.splitlines() if line.startswith(f"{path}: {key}: ")]
    assert lines, f"no stderr line starts with '{path}: {key}: ' in:\n{run.stderr}"
    assert any(reason in line for line in lines), f"{reason!r} not in {lines}"
    assert run.stdout == ""


def test_check_config_accepts_a_good_file_and_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, "[health]\ninterval_ms = 500\n" + CENTER + BACKUP)
    run = switchboard("check-config", str(path))
    assert run.code == 0, run
    assert run.stdout == f"{path}: ok; call centers: primary (priority 1), backup (priority 2)\n"
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        pytest.param(
            "[health]\nintervall_ms = 500\n" + CENTER,
            "health.intervall_ms",
            "unknown key (did you mean 'interval_ms'?)",
            id="unknown-key",
        ),
        pytest.param(
            '[server]\nport = "8080"\n' + CENTER,
            "server.port",
            'expected an integer, got string "8080"',
            id="wrong-type",
        ),
        pytest.param(
            "[health]\ninterval_ms = -250\n" + CENTER,
            "health.interval_ms",
            "must be greater than 0, got -250",
            id="negative-interval",
        ),
        pytest.param(
            CENTER + CENTER.replace("9001", "9002"),
            "callcenters[1].name",
            "duplicate call-center name 'primary'",
            id="duplicate-call-center-name",
        ),
        pytest.param(
            CENTER.replace("http://127.0.0.1:9001", "http://[::1]x/"),
            "callcenters[0].url",
            "URL 'http://[::1]x/' cannot be parsed (Invalid IPv6 URL)",
            id="url-yarl-cannot-parse",
        ),
        pytest.param(
            CENTER.replace("http://127.0.0.1:9001", "http://[fe80::1%eth0]/"),
            "callcenters[0].url",
            "has an IPv6 zone identifier",
            id="url-ipv6-zone",
        ),
        pytest.param(
            "[server]\nport = 8080\n",
            "callcenters",
            "at least one [[callcenters]] entry",
            id="no-call-centers",
        ),
        pytest.param(
            "callcenters = []\n",
            "callcenters",
            "at least one [[callcenters]] entry",
            id="empty-call-center-list",
        ),
    ],
)
def test_check_config_rejects_a_bad_file_with_exit_2_naming_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, text)
    assert_names_problem(switchboard("check-config", str(path)), path, key, reason)


def test_check_config_lists_every_problem_not_just_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, '[health]\ninterval_ms = -1\n[server]\nport = "x"\n' + CENTER)
    run = switchboard("check-config", str(path))
    assert_names_problem(run, path, "health.interval_ms", "must be greater than 0")
    assert_names_problem(run, path, "server.port", "expected an integer")


def test_check_config_on_a_missing_file_exits_2_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "switchboard.toml"
    run = switchboard("check-config", str(path))
    assert run.code == EXIT_BAD_CONFIG, run
    assert f"{path}: config file not found" in run.stderr.splitlines()
    assert run.stdout == ""


def test_serve_with_a_bad_file_exits_2_with_the_message_and_serves_nothing(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "[health]\ninterval_ms = -250\n" + CENTER)
    run = switchboard("serve", "--config", str(path))
    assert_names_problem(run, path, "health.interval_ms", "must be greater than 0, got -250")
    assert "listening" not in run.stderr


def test_version_comes_from_pyproject() -> None:
    import tomllib  # noqa: PLC0415 - only this test reads pyproject

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    run = switchboard("--version")
    assert run.code == 0
    assert run.stdout.strip() == f"switchboard {version}"


def test_serve_exits_2_naming_the_data_dir_when_the_spool_cannot_be_created(
    tmp_path: Path,
) -> None:
    # A file where the data directory should be: the spool's folder cannot be created
    # (as with a read-only mount). Redis is never reached; the spool is opened first.
    (tmp_path / "not-a-dir").write_text("x")
    text = (
        '[server]\nport = 0\ndata_dir = "not-a-dir/data"\n'
        '[redis]\nurl = "redis://127.0.0.1:1/0"\n' + CENTER
    )
    run = switchboard("serve", "--config", str(write(tmp_path, text)))
    assert run.code == EXIT_BAD_CONFIG, run
    assert "callbacks.spool_path (server.data_dir)" in run.stderr
    assert "set [server] data_dir to a writable folder" in run.stderr
