"""The version, from one place: pyproject.toml's `[project] version`, as the installed
package's metadata says it (`switchboard --version`, `switchboard_build_info`)."""

from __future__ import annotations

from importlib import metadata
from typing import Final


def _version() -> str:
    try:
        return metadata.version("switchboard")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


VERSION: Final = _version()
