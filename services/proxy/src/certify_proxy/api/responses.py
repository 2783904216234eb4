"""What each route may answer besides success, declared in the OpenAPI document.

Every error is an :class:`~certify_proxy.api.schemas.ErrorBody` (422 included: the app answers invalid input with
its own body, not FastAPI's ``HTTPValidationError``); the status of a failure code comes from
``errors.STATUS_BY_CODE``. Routes compose the groups below so the document lists every status they return;
the schemathesis run in the proxy's integration tests fails when a route answers an undeclared one.
"""

from __future__ import annotations

from typing import Any

from certify_proxy.api.schemas import ErrorBody, PaymentRequiredBody, StatusDocument

DESCRIPTIONS: dict[int, str] = {
    400: "callback_url_forbidden or callback_url_unresolvable, or an MCP server failure that a retry will not fix.",
    401: "missing_api_key or invalid_api_key.",
    402: "Payment required: the offer (new request) or why the payment was refused.",
    403: "forbidden: the key is not an admin key.",
    404: "Unknown id, another client's request, or a public link without its token.",
    409: "request_conflict (request_id reused with a different request) or proof_not_ready.",
    413: "data_too_large or body_too_large.",
    422: "The request is not valid: code and details name the fields (details.errors for schema errors).",
    429: "rate_limited, with Retry-After.",
    502: "An MCP server answered something the proxy cannot use.",
    503: "A dependency is unavailable or busy (retryable, often with Retry-After).",
}

#: The success answers of a paid submission (and of a new request for a request already paid): the status document.
ANSWERED: dict[int | str, dict[str, Any]] = {
    200: {"model": StatusDocument, "description": "Final status (within Prefer: wait=N), or the request is final."},
    202: {"model": StatusDocument, "description": "Paid; the certification is under way."},
}

#: Any route behind an API key.
AUTH = (401, 422, 503)
#: Reads counted against the read limit.
READ = (401, 422, 429, 503)
#: Writes: a JSON body (size limit, validation) counted against the write limit.
WRITE = (401, 413, 422, 429, 503)
#: Routes that call MCP servers and pass their failures on.
UPSTREAM = (400, 502, 503)
#: Public links of a request (token in the query, per-IP read limit).
PUBLIC = (404, 422, 429, 503)


def errors(*groups: int | tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status of the groups with the error body (402 with the offer too)."""
    statuses = sorted({status for group in groups for status in (group if isinstance(group, tuple) else (group,))})
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model: Any = PaymentRequiredBody | ErrorBody if status == 402 else ErrorBody
        declared[status] = {"model": model, "description": DESCRIPTIONS[status]}
    return declared
