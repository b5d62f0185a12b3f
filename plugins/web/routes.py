"""The route table: each endpoint's method, path, role, parameters and body, and the OpenAPI document built from it.

One table drives the server (routing, role checks, parameter and body validation) and the
document at ``/api/openapi.json``, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"
COOKIE = "arbot_session"
"""The browser session's cookie (HttpOnly, SameSite=Strict, Path=/api/)."""
CSRF_HEADER = "X-CSRF-Token"
"""The header a cookie-authenticated change carries, with the csrf_token from the login."""
MAX_INT = 2**63 - 1
"""The largest whole number (or time in ns) a query parameter may give: what every store's integer columns hold."""


class ApiError(Exception):
    """An answer other than 200, with a message for the caller (never a secret, never a traceback)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, audited: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.audited = message if audited is None else audited
        """The message as the audit log keeps it: without a name the client chose (a parameter's or a field's),
        which may be a token pasted in the wrong place; the client's own answer quotes it."""


@dataclass(frozen=True)
class Param:
    """A query parameter: ``kind`` is ``string``, ``integer``, ``time`` (ns or ISO 8601), ``enum``, ``csv-enum``."""

    name: str
    kind: str
    help: str
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class Field:
    """A JSON body field: ``kind`` is ``string`` or ``boolean``."""

    name: str
    kind: str
    help: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """Under the server root; ``{name}`` segments are path parameters."""
    handler: Callable[..., Awaitable[Any]]
    role: str | None
    """Least role that may call it (``viewer`` < ``operator`` < ``admin``); None: no token needed."""
    summary: str
    params: tuple[Param, ...] = ()
    body: tuple[Field, ...] | None = None
    """None: no body accepted; otherwise the JSON object's fields (any other field is a 400)."""
    csv: bool = False
    """Also answers ``text/csv`` (``format=csv`` or ``Accept: text/csv``)."""
    content: str = "application/json"
    page: bool = False
    """Answers a page: ``{items, limit, offset, next_offset}``."""
    responses: dict[int, str] = field(default_factory=dict)
    """Answers besides 200 and the common errors, with what they mean."""


LIMIT = Param("limit", "integer", "page size (at most [plugins.web] max_page)", default=100)
OFFSET = Param("offset", "integer", "rows to skip (the previous answer's next_offset)", default=0)
SINCE = Param("since", "time", "from this time on (ns since the epoch, or ISO 8601; a date alone is 00:00 UTC)")
UNTIL = Param("until", "time", "before this time (ns since the epoch, or ISO 8601)")
STRATEGY = Param("strategy", "string", "only this strategy")
EXCHANGE = Param("exchange", "string", "only this exchange")
FORMAT = Param("format", "enum", "csv for a CSV download (same as Accept: text/csv)", ("json", "csv"), "json")

COMMON_ERRORS = {
    400: "bad input (malformed JSON, unknown field or parameter, wrong type): the message names it",
    401: "no token, or a wrong or expired one",
    403: "the user's role is too low (or a cookie-authenticated change without the X-CSRF-Token header)",
    408: "the body did not arrive within [plugins.web] idle_timeout_s (the connection is closed)",
    413: "the body is larger than [plugins.web] max_body_bytes",
    429: "too many requests for this user (or wrong tokens, or requests without a valid token, from this "
         "address): see Retry-After",
}


PAGE = {"type": "object", "required": ["items", "limit", "offset", "next_offset"], "properties": {
    "items": {"type": "array", "items": {"type": "object"}, "description": "newest first"},
    "limit": {"type": "integer"}, "offset": {"type": "integer"},
    "next_offset": {"type": "integer", "nullable": True, "description": "the next page's offset; null on the last"},
}}


def _schema(kind: str, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    if kind == "integer":
        return {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "enum":
        return {"type": "string", "enum": list(choices)}
    if kind == "csv-enum":
        return {"type": "string", "description": "comma-separated: " + ", ".join(choices)}
    if kind == "time":
        return {"oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]}
    return {"type": "string"}


def openapi(routes: list[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {"summary": route.summary, "operationId": f"{route.method.lower()}"
                              f"{route.path.replace('/', '_').replace('{', '').replace('}', '')}"}
        parameters = [{"name": segment[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                      for segment in route.path.split("/") if segment.startswith("{")]
        for p in route.params:
            schema = _schema(p.kind, p.choices)
            if p.default is not None:
                schema = {**schema, "default": p.default}
            parameters.append({"name": p.name, "in": "query", "required": False, "description": p.help,
                               "schema": schema})
        if parameters:
            op["parameters"] = parameters
        if route.body is not None:
            op["requestBody"] = {"required": any(f.required for f in route.body), "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": False,
                           "properties": {f.name: {**_schema(f.kind), "description": f.help} for f in route.body},
                           "required": [f.name for f in route.body if f.required] or None}}}}
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            if schema["required"] is None:
                del schema["required"]
        content: dict[str, Any] = {route.content: {"schema": PAGE if route.page else {"type": "object"}}
                                   if route.content.endswith("json") else {}}
        if route.csv:
            content["text/csv"] = {}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
        for status, text in route.responses.items():
            responses[str(status)] = {"description": text}
        errors = dict(COMMON_ERRORS)
        if route.role is None:
            errors.pop(401), errors.pop(403)
        if route.body is None:
            errors.pop(408), errors.pop(413)
        for status, text in errors.items():
            responses.setdefault(str(status), {"description": text})
        op["responses"] = responses
        if route.role is not None:
            op["security"] = [{"bearer": []}, {"session": []}]
            op["x-arbot-role"] = route.role
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "arbot operator console API", "version": version,
                 "description": "Read models and control verbs of a running arbot (docs/web.md). Amounts are "
                                "decimal strings, times integer ns since the epoch."},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a user's token from [plugins.web] users"},
            "session": {"type": "apiKey", "in": "cookie", "name": "arbot_session",
                        "description": "set by POST /api/v1/login; state-changing calls also need the "
                                       "X-CSRF-Token header with the csrf_token the login returned"}}},
    }
