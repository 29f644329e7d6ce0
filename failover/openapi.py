"""The OpenAPI 3.1 description of the JSON API (`/api/v1/...`, customers' port) and the
admin API (`/admin/...`, `/api/v1/status`: the ops listener), served at
`/api/v1/openapi.json` on both listeners.

Written by hand as data, next to the handlers it describes; schemathesis checks it
against the live app in `make test` (tests/integration/test_openapi.py): every answer
must match its schema, and no input may get a 5xx. Errors are RFC 9457 problem
documents (`kernel/problem.py`).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from failover.version import VERSION

JSON: Final = "application/json"
PROBLEM: Final = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


LIMIT: Final = {
    "name": "limit", "in": "query", "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
}  # fmt: skip
ADMIN_ERRORS: Final = {
    "401": _problem("missing or wrong bearer token"),
    "403": _problem("admin is disabled (no SWITCHBOARD_ADMIN_TOKEN)"),
}
WRITE_ERRORS: Final = {
    **ADMIN_ERRORS,
    "400": _problem("the body is not what this endpoint takes"),
    "404": _problem("no call center by that name"),
}

SCHEMAS: Final[dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "error": {"type": "string", "description": "the same as detail (older clients)"},
        },
    },
    "Bulletin": {
        "type": "object",
        "required": [
            "id",
            "title",
            "url",
            "author",
            "author_name",
            "category",
            "tags",
            "excerpt",
            "created_at",
            "hits",
        ],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "url": {"type": "string"},
            "author": {"type": "string"},
            "author_name": {"type": "string"},
            "category": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "excerpt": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "hits": {"type": "integer", "minimum": 0},
        },
    },
    "BulletinDetail": {
        "allOf": [
            _ref("Bulletin"),
            {
                "type": "object",
                "required": ["body_html", "freshness"],
                "properties": {
                    "body_html": {"type": "string", "description": "sanitized HTML"},
                    "freshness": {"type": "string"},
                },
            },
        ]
    },
    "MessageAnswer": {
        "type": "object",
        "required": ["message", "shared"],
        "properties": {
            "message": {"type": ["string", "null"], "description": "null: the configured one"},
            "shared": {"type": "boolean", "description": "stored in Redis for every replica"},
            "warning": {"type": "string"},
        },
    },
    "SwitchAnswer": {
        "type": "object",
        "required": ["shared"],
        "properties": {
            "shared": {"type": "boolean", "description": "stored in Redis for every replica"},
            "warning": {"type": "string"},
        },
    },
}


def _customer_paths() -> dict[str, Any]:
    return {
        "/api/v1/bulletins": {"get": {
            "summary": "Bulletins, most read or trending first",
            "parameters": [
                {"name": "sort", "in": "query", "required": False,
                 "schema": {"enum": ["hits", "trending"], "default": "hits"}},
                LIMIT,
            ],
            "responses": {
                "200": _ok({"type": "object", "required": ["sort", "bulletins"], "properties": {
                    "sort": {"enum": ["hits", "trending"]},
                    "bulletins": {"type": "array", "items": _ref("Bulletin")}}}),
                "400": _problem("a parameter out of range"),
            },
        }},
        "/api/v1/bulletins/{id}": {"get": {
            "summary": "One bulletin, with its body",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}],
            "responses": {"200": _ok(_ref("BulletinDetail")), "404": _problem("no such bulletin")},
        }},
        "/api/v1/search": {"get": {
            "summary": "Full-text search of the bulletins",
            "parameters": [
                {"name": "q", "in": "query", "required": True,
                 "schema": {"type": "string", "minLength": 1}},
                LIMIT,
            ],
            "responses": {
                "200": _ok({"type": "object", "required": ["query", "results"], "properties": {
                    "query": {"type": "string"},
                    "corrected_query": {"type": ["string", "null"]},
                    "results": {"type": "array", "items": {
                        "type": "object", "required": ["id", "title", "url", "score", "snippet"],
                        "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                                       "url": {"type": "string"}, "score": {"type": "number"},
                                       "snippet": {"type": "string"}}}}}}),
                "400": _problem("q missing or blank, or limit out of range"),
            },
        }},
        "/api/v1/authors/top": {"get": {
            "summary": "Authors whose bulletins were read most",
            "parameters": [LIMIT],
            "responses": {
                "200": _ok({"type": "object", "required": ["authors"], "properties": {
                    "authors": {"type": "array", "items": {
                        "type": "object",
                        "required": ["author", "author_name", "bulletins", "hits"],
                        "properties": {"author": {"type": "string"},
                                       "author_name": {"type": "string"},
                                       "bulletins": {"type": "integer"},
                                       "hits": {"type": "integer"}}}}}}),
                "400": _problem("limit out of range"),
            },
        }},
    }  # fmt: skip


def _override(mode: str, *, callcenter: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "mode": {"const": mode},
        "reason": {"type": "string", "maxLength": 200},
    }
    required = ["mode"]
    if callcenter:
        properties["callcenter"] = {"type": "string"}
        required.append("callcenter")
    return {"type": "object", "required": required, "properties": properties}


def _ops_paths() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "/api/v1/status": {"get": {
            "summary": "Where customers go and why; the operator view with the admin token",
            "description": "Ops listener only. Without a token: the public view.",
            "security": [{}, {"bearer": []}],
            "responses": {"200": _ok({"type": "object", "required": ["view"], "properties": {
                "view": {"enum": ["public", "operator"]}}}), **ADMIN_ERRORS},
        }},
        "/admin/override": {"post": {
            "summary": "Send every customer to self-help or to one call center, or back to "
                       "automatic routing",
            "security": bearer,
            "requestBody": {"required": True, "content": {JSON: {"schema": {"oneOf": [
                _override("automatic"), _override("self-help"),
                _override("callcenter", callcenter=True)]}}}},
            "responses": {"200": _ok(_ref("SwitchAnswer")), **WRITE_ERRORS},
        }},
        "/admin/callcenters/{name}/{switch}": {"post": {
            "summary": "Drain a call center, or switch its emergency on or off",
            "security": bearer,
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "switch", "in": "path", "required": True,
                 "schema": {"enum": ["drain", "emergency"]}},
            ],
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "type": "object", "required": ["on"], "properties": {"on": {"type": "boolean"}}}}}},
            "responses": {"200": _ok(_ref("SwitchAnswer")), **WRITE_ERRORS},
        }},
        "/admin/cache/rewarm": {"post": {
            "summary": "Fetch the most read bulletins again from the community site",
            "security": bearer,
            "responses": {"200": _ok({"type": "object", "required": ["fetched"], "properties": {
                "fetched": {"type": "integer", "minimum": 0}}}), **WRITE_ERRORS},
        }},
        "/admin/reload": {"post": {
            "summary": "Read the configuration file again and apply it (as SIGHUP does)",
            "description": "All or nothing: 422 when the file is invalid, 409 when a key "
                           "that needs a restart changed; then nothing is applied.",
            "security": bearer,
            "responses": {
                **{code: _ok({"type": "object", "required": ["result"], "properties": {
                    "result": {"enum": ["ok", "invalid", "refused", "error"]}}}, what)
                   for code, what in (("200", "applied (or nothing to apply)"),
                                      ("409", "a restart-only key changed"),
                                      ("422", "the file is not valid"),
                                      ("500", "applying it failed"))},
                **ADMIN_ERRORS,
            },
        }},
        "/admin/message": {
            "put": {
                "summary": "Set the operator's line in the outage banner, on every replica",
                "security": bearer,
                "requestBody": {"required": True, "content": {JSON: {"schema": {
                    "type": "object", "required": ["message"], "properties": {
                        "message": {"type": "string", "maxLength": 200}}}}}},
                "responses": {"200": _ok(_ref("MessageAnswer")), **WRITE_ERRORS},
            },
            "delete": {
                "summary": "Back to the configured line ([branding] message)",
                "security": bearer,
                "responses": {"200": _ok(_ref("MessageAnswer")), **WRITE_ERRORS},
            },
        },
        "/admin/switches": {"get": {
            "summary": "The switches in force", "security": bearer,
            "responses": {"200": _ok({"type": "object"}), **ADMIN_ERRORS},
        }},
        "/admin/log": {"get": {
            "summary": "Recent operator actions", "security": bearer,
            "responses": {"200": _ok({"type": "object", "required": ["entries"], "properties": {
                "entries": {"type": "array", "items": {"type": "object"}}}}), **ADMIN_ERRORS},
        }},
    }  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard",
            "version": VERSION,
            "description": "The self-help JSON API (customers' port) and the admin API "
            "(ops listener: [ops] host and port). Errors are RFC 9457 problem documents.",
        },
        "paths": {**_customer_paths(), **_ops_paths()},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})
