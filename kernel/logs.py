"""Logs as JSON lines, and the request id that ties a customer's request to them.

One JSON object per line (`ts`, `level`, `logger`, `msg`, `request_id` when a request
is being handled, the caller's `extra=` fields, `exc`), so that Loki/Elasticsearch/
`jq` read fields instead of parsing prose. Stdlib only: python-json-logger would save
a dozen lines and add a dependency to the one path that must never fail.

The request id lives in a `ContextVar`: aiohttp runs each request in its own task,
and a task copies its context when it starts, so the id set by the handler wrapper
(`monitoring/http.py`) is seen by every log call of that request, including tasks it
starts, and by no other request.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any, Final, Literal

REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("request_id", default=None)
REQUEST_ID_HEADER: Final = "X-Request-ID"
# What we accept from a client or a proxy in front of us: enough for a UUID, a ULID, a
# W3C `traceparent` or the ids nginx/Heroku/Envoy make, and nothing that could break a
# log line, a header or a log query. Anything else is replaced, never echoed.
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["json", "text"]


# A new id is a per-process random prefix and a decimal counter: 0.1 us, where `uuid4().hex`
# takes 1.9 us and `os.urandom(8).hex()` 0.38 us (a getrandom(2) syscall; timeit, this
# machine), on every request without an id. The counter also shows the order one
# process saw its requests in; 48 random bits keep the prefixes of even thousands of
# replicas apart. Request ids are correlation handles, not secrets; the cost is that a
# client can tell roughly how many requests a replica served between two of its own
# (switch to `os.urandom(8).hex()` if that ever matters).
def _new_prefix() -> str:
    return os.urandom(6).hex() + "-"


_prefix = _new_prefix()
_counter = itertools.count(1)


def _after_fork() -> None:  # a forked child must not repeat its parent's ids
    global _prefix, _counter
    _prefix, _counter = _new_prefix(), itertools.count(1)


os.register_at_fork(after_in_child=_after_fork)


def new_request_id() -> str:
    return _prefix + str(next(_counter))


def accept_request_id(incoming: str | None) -> str:
    """The client's `X-Request-ID` if it is sane, else a new one."""
    if incoming is not None and _SANE_ID.fullmatch(incoming):
        return incoming
    return _prefix + str(next(_counter))  # new_request_id(), inlined: once per request


# Attributes every LogRecord has (`taskName` since 3.12), the two that formatting adds,
# and our own fields: any other attribute of a record came from the caller's `extra=`.
_NOT_EXTRA: Final = frozenset(
    [*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"]
) | {"ts", "level", "logger", "msg", "exc", "stack"}


def _utc(created: float, msecs: float) -> str:
    # RFC 3339, UTC, milliseconds: 2024-12-24T18:03:07.123Z
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z"


def _as_text(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the log line
        return f"<unrepresentable {type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, ASCII only (any non-ASCII character is
    escaped, so a log line survives any stream encoding and any byte-oriented shipper)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _utc(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["request_id"] = request_id
        # The caller's `extra=` (a `request_id` there wins over the context's).
        out.update({k: v for k, v in vars(record).items() if k not in _NOT_EXTRA and k[:1] != "_"})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as stdlib does
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        try:
            # allow_nan=False: NaN is not JSON; such a value goes the repr way below.
            return json.dumps(out, default=_as_text, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            # Non-string keys, NaN, a cycle: keep the line, with the odd values as text.
            safe = {
                k: v if isinstance(v, str | int | bool | None) else _as_text(v)
                for k, v in out.items()
            }
            return json.dumps(safe)


def configure(fmt: LogFormat, level: int | str = logging.INFO) -> None:
    """Replace the root logger's handlers with one on stderr in format `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
