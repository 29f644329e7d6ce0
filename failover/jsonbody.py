"""A JSON request body read as one object, or refused with a reason (pure).

`json.loads` recurses once per nesting level and raises `RecursionError` (not a
`ValueError`) past Python's recursion limit: `{"name": [[[... 4000 deep]]]}`, 8 kB,
escaped the callback intake's `except ValueError` and ended in its catch-all, which
answered 503 "could not be saved" and raised the Redis-outage alert (issue 14, point 5).
How deep the decoder may go also depends on the stack in use when it runs.

So the nesting depth is measured first, without recursion and without parsing:
brackets are counted outside string literals, and a body deeper than `max_depth` is
refused before `json.loads` sees it. No request body we accept nests deeper than 2;
`MAX_DEPTH` leaves room and stays far from the recursion limit (1000).

Errors::

    ValueError
     └── JsonBodyError   not JSON, not an object, or nested too deep (message says which)
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonBodyError", "depth_of", "loads_object"]

MAX_DEPTH: Final = 32
# The only bytes the depth scan has to look at: quotes and backslashes (to know what is
# inside a string) and brackets. A regex jumps between them in C.
_SPECIAL: Final = re.compile(rb'["\\\[\]{}]')


class JsonBodyError(ValueError):
    """The body is not a JSON object we accept; the message is safe to show the client."""


def depth_of(body: bytes, *, stop_above: int = MAX_DEPTH) -> int:
    """The deepest nesting of arrays and objects in `body`, counted outside strings;
    the scan stops as soon as it passes `stop_above` (what it returns then is only
    "more than `stop_above`"). Linear in the length of `body`; never raises."""
    depth = deepest = 0
    in_string = escaped = False
    for match in _SPECIAL.finditer(body):
        char = match.group()
        if in_string:
            if escaped:
                # The escaped character (an escaped quote or backslash) ends the escape.
                escaped = False
            elif char == b"\\":
                # A backslash escapes the byte right after it: if that byte is not one we
                # look at, the escape ends there unseen, which is right.
                escaped = match.end() < len(body) and body[match.end()] in b'"\\'
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    return deepest
        elif char in (b"]", b"}"):
            depth = max(0, depth - 1)
    return deepest


def loads_object(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """`body` as a JSON object. Raises `JsonBodyError` for anything else, whatever the bytes."""
    if depth_of(body, stop_above=max_depth) > max_depth:
        raise JsonBodyError(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise JsonBodyError("body must be a JSON object") from None
    if not isinstance(value, dict):
        raise JsonBodyError("body must be a JSON object")
    return value
