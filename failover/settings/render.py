"""Values written as TOML text, for the example file and for error messages."""

from __future__ import annotations

import json
from datetime import date, time


def _toml_type(value: object) -> str:
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        ((list, tuple), "array"),
        (dict, "table"),
        ((date, time), "date/time"),
    )
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def _toml(value: object) -> str:
    """Render a value as TOML (for the example file and for error messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    text = json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
    return text if len(text) <= 80 else text[:76] + '..."'
