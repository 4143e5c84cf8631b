"""The OpenAPI document as the service's contract: every answer the server gives, described.

Why rewrite BentoML's document: it is generated from the request models alone, so it
describes the 400 body's ``detail`` as a string (it is a list of validation issues), lists
a 500 the gateway never lets through, and says nothing of the gateway's 401, 413, 415 and
503 or that a body is required. ``patch_openapi`` fixes those, so a client (or schemathesis)
that trusts the document is never surprised. The request models (``serving.schemas``)
already carry their own limits and patterns.
"""

from __future__ import annotations

import copy
from typing import Any

API_ROUTES = frozenset({"/classify", "/score"})
DOCS_JSON = "/docs.json"
# No key needed: the probes, the web page (it asks for the key itself) and the API description
# (a client needs it to learn how to authenticate; it holds no data).
PUBLIC_PATHS = frozenset({"/livez", "/readyz", "/", "/ui", "/ui/", "/docs", DOCS_JSON})
PUBLIC_PREFIXES = ("/ui/static/",)

ERROR = "ErrorResponse"
ISSUE = "ValidationIssue"
SCHEMAS: dict[str, Any] = {
    ISSUE: {
        "type": "object",
        "description": "One problem with the request, as pydantic reports it.",
        "required": ["type", "loc", "msg"],
        "properties": {
            "type": {"type": "string", "description": "Machine-readable kind, e.g. 'missing' or 'string_too_long'."},
            "loc": {
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "description": "Where in the request: field names and list indexes.",
            },
            "msg": {"type": "string", "description": "What is wrong, in words."},
            "url": {"type": "string"},
        },
    },
    ERROR: {
        "type": "object",
        "description": "Every error the service returns has this shape.",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What is wrong."},
            "fix": {"type": "string", "description": "What to do about it."},
            "detail": {
                "type": "array",
                "items": {"$ref": f"#/components/schemas/{ISSUE}"},
                "description": "Validation issues (400 from the request models).",
            },
            "limit_bytes": {"type": "integer", "description": "The body limit (413)."},
            "accepted": {"type": "array", "items": {"type": "string"}, "description": "Accepted types (415)."},
            "retry_after_s": {"type": "integer", "description": "Seconds to wait before retrying (503)."},
        },
    },
}
RETRY_AFTER_HEADER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}
}
API_ERRORS = {
    "400": "Malformed request: invalid JSON, no body, or a field that breaks a documented limit.",
    "413": "The request body is over the size limit (see /info 'limits').",
    "415": "The body is not JSON: send 'Content-Type: application/json'.",
    "503": "At capacity, or the model is still loading: retry after the Retry-After header's seconds.",
}
UNAUTHORISED = "Missing or wrong API key: send 'Authorization: Bearer <key>'."


def _error_response(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
    }
    if retry:
        response["headers"] = copy.deepcopy(RETRY_AFTER_HEADER)
    return response


def patch_openapi(doc: dict[str, Any], *, auth: bool) -> dict[str, Any]:
    """BentoML's document -> the contract this server keeps (a new dict; ``doc`` is not changed)."""
    doc = copy.deepcopy(doc)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(copy.deepcopy(SCHEMAS))
    if auth:
        doc["components"].setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "The key the operator set in FRAMING_API_KEY (or FRAMING_API_KEY_FILE).",
        }
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            if path in API_ROUTES and method == "post":
                responses.pop("500", None)  # the gateway answers every client error itself
                for status, description in API_ERRORS.items():
                    responses[status] = _error_response(description, retry=status == "503")
                body = op.get("requestBody")
                if body is not None:
                    body["required"] = True
            if auth and path not in PUBLIC_PATHS:
                responses["401"] = _error_response(UNAUTHORISED)
                op["security"] = [{"bearer": []}]
    return doc
