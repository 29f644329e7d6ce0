"""The access log: one line per answered request, in the same format as every other log
line (JSON by default: `kernel/logs.py`), with the request id the customer and the
call center also see.

Off by default (`[server] access_log`): a line per request costs about 17 us in JSON
(the record, json.dumps and the write; `loadtests/bench_accesslog.py` at d85a737, measured
2026-12-05 on the 2-core dev machine, best of 5), about 10% of a proxied request at the
5,900 req/s measured for it (loadtests/results/proxy.md), and most deployments log at
the load balancer already. Turn it
on where the front door is the edge, or to trace one customer's requests.

Written by aiohttp after the answer has gone out (`AbstractAccessLogger`), so it never
delays a customer; a client that went away before its answer is logged with the status
it would have had. Fields: `method`, `path` (the raw path, at most 200 characters, no
query: a query can carry what a customer typed), `status`, `bytes`, `ms`, `client` (the
peer address), `destination` (the call center, "self-help" or "front-door"),
`request_id`, `user_agent` (at most 200 characters).
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from kernel.logs import REQUEST_ID_HEADER
from monitoring.http import DESTINATION, FRONT_DOOR

ACCESS_LOGGER: Final = "switchboard.access"
_MAX_TEXT: Final = 200


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.rel_url.raw_path[:_MAX_TEXT]
        fields = {
            "event": "access",
            "method": request.method,
            "path": path,
            "status": response.status,
            "bytes": response.body_length,
            "ms": round(time * 1000, 3),
            "client": request.remote,
            "destination": request.get(DESTINATION, FRONT_DOOR),
            "request_id": response.headers.get(REQUEST_ID_HEADER),
            "user_agent": request.headers.get("User-Agent", "")[:_MAX_TEXT],
        }
        self.logger.info(
            "%s %s %s %.1f ms", request.method, path, response.status, time * 1000, extra=fields
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def access_log_options(enabled: bool) -> dict[str, object]:
    """Keyword arguments for the runner: the access log, or none at all."""
    if not enabled:
        return {"access_log": None}
    return {"access_log": logging.getLogger(ACCESS_LOGGER), "access_log_class": JsonAccessLogger}
