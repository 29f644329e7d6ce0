"""Shape checks for untrusted JSON (and the size of the HTML in it): the community
site's answers are hostile input (docs/architecture.md, Style 0). Each check names the field
it refused (``topic_list.topics[3].id``) in a ``ShapeError``, whose ``reason`` is the
metric label of the refusal (monitoring/degraded.py). Pure: no I/O.

A bulletin body (the first post's cooked HTML) longer than `MAX_COOKED_CHARS` or nested
deeper than `MAX_NESTING` elements is refused before anything parses it as HTML: the
sanitizer's time grows with the square of the nesting (20,000 nested elements, 1 MiB of
HTML, took 0.9 s; 100,000 took 33 s), and a customer can nest that deep on a Discourse
site by typing quote markers (issue 14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

MAX_COOKED_CHARS: Final = 128 * 1024  # a long help article is 10-30 KiB of HTML
MAX_NESTING: Final = 100  # elements inside elements; Discourse's own pages stay under 20
MAX_TITLE_CHARS: Final = 1_000  # Discourse allows 255 by default (max_topic_title_length)
MAX_ID: Final = 2**31 - 1  # the ids /help/bulletins/<id> and the API answer (cache/answers.py)
# Years a time may have in UTC: any zone's date of it is then a date (cache/when.py).
YEARS: Final = range(1900, 9999)
# HTML elements that never hold others (WHATWG HTML, "void elements").
_VOID: Final = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                         "meta", "source", "track", "wbr"})  # fmt: skip
_TAG: Final = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>")


class ShapeError(ValueError):
    """The JSON is not of the shape Discourse sends; the message names the field."""

    reason = "shape"  # a metric label (monitoring/degraded.py)


class TooLargeError(ShapeError):
    reason = "too_large"


class TooDeepError(ShapeError):
    reason = "too_deep"


def nesting(html: str, limit: int = MAX_NESTING) -> int:
    """How deep elements nest in `html`, counted from its tags (stops past `limit`).

    A count, not a parse: an element left open counts as holding what follows, so
    malformed HTML reads deeper than a browser would build it, never shallower."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _VOID:
            continue
        if closing:
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def checked_html(cooked: str, where: str) -> str:
    if len(cooked) > MAX_COOKED_CHARS:
        raise TooLargeError(f"{where}.cooked: {len(cooked)} characters, over {MAX_COOKED_CHARS}")
    if (depth := nesting(cooked)) > MAX_NESTING:
        raise TooDeepError(f"{where}.cooked: elements nested over {MAX_NESTING} deep ({depth})")
    return cooked


def object_of(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def array_of(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def field(obj: Mapping[str, Any], key: str, where: str) -> object:
    value = obj.get(key)
    if value is None:
        raise ShapeError(f"missing field {where}.{key}")
    return value


def int_field(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    value = field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def id_field(obj: Mapping[str, Any], key: str, where: str) -> int:
    """An id within 1..MAX_ID: a larger one fits no SQLite integer (the search index) and no
    page's address, and 0 or below is no id."""
    value = int_field(obj, key, where)
    if not 0 < value <= MAX_ID:
        raise ShapeError(f"{where}.{key}: an id is within 1..{MAX_ID}, got {value}")
    return value


def str_field(obj: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    value = field(obj, key, where)
    if not isinstance(value, str):
        raise ShapeError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def time_field(
    obj: Mapping[str, Any], key: str, where: str, default: datetime | None = None
) -> datetime:
    if obj.get(key) is None and default is not None:
        return default
    raw = str_field(obj, key, where)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ShapeError(f"{where}.{key}: not an ISO 8601 time: {raw!r}") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        year: int | None = moment.astimezone(UTC).year
    except OverflowError:  # 9999-12-31T23:00-12:00 is past year 9999 in UTC
        year = None
    if year not in YEARS:
        raise ShapeError(f"{where}.{key}: out of range (years {YEARS.start}..{YEARS.stop - 1} "
                         f"in UTC): {raw!r}")  # fmt: skip
    return moment
