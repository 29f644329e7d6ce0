"""ConfigError, and the messages that turn validation errors into "<key>: <what is wrong>"."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from failover.settings.callcenters import CallCenterSettings
from failover.settings.models import _NO_CALLCENTERS, _SECTIONS, Settings
from failover.settings.render import _toml, _toml_type
from failover.settings.validators import Loc

_SECRETS: frozenset[Loc] = frozenset({("admin", "token"), ("redis", "url")})


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` lists every problem, one per line."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)  # "key: what is wrong", without the file
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def _known_hint(key: str, model: type[BaseModel], *hidden: str) -> str:
    known = [name for name in model.model_fields if name not in hidden]
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _describe(error: ErrorDetails, origins: Mapping[Loc, str]) -> str:
    ctx = error.get("ctx", {})
    loc: Loc = (*error["loc"], *ctx.get("key", ()))
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    from_env = next((origins[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origins), None)
    where = f"{key} (from env {from_env})" if from_env else key or "(top level)"
    return f"{where}: {_reason(error, loc)}"


_EXPECTED = {
    "int_type": "an integer",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "float_type": "a number",
    "tuple_type": "an array",
    "model_type": "a table",
    "model_attributes_type": "a table",
}
_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _reason(error: ErrorDetails, loc: Loc) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error["input"]
    shown = "" if loc[:2] in _SECRETS else f" {_toml(value)}"
    if loc == ("callcenters",) and kind == "missing":
        return _NO_CALLCENTERS
    if kind == "extra_forbidden":
        parent = CallCenterSettings if loc[0] == "callcenters" else _SECTIONS.get(str(loc[0]))
        hint = _known_hint(str(loc[-1]), parent if len(loc) > 1 and parent else Settings, "source")
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_toml_type(value)}{shown}"
    if kind in _BOUNDS:
        bound, phrase = _BOUNDS[kind]
        return f"{phrase} {ctx[bound]}, got{shown}"
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} characters long"
    if kind == "invalid_setting":
        return str(ctx["message"])
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"]
