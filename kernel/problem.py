"""JSON errors as RFC 9457 problem details (`application/problem+json`).

`type` is "about:blank" (the status code says it all), `title` the status phrase,
`detail` what was wrong in words a client can act on. `error` repeats `detail`: the
field our JSON errors had before, kept for clients that read it (an extension member,
which RFC 9457 section 3.2 allows).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from aiohttp import web

PROBLEM_JSON: Final = "application/problem+json"


def problem(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> web.Response:
    body: dict[str, object] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "error": detail,
        **extensions,
    }
    return web.json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)
