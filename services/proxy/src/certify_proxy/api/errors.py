"""The one table mapping failure codes to HTTP statuses, and the JSON error response.

Every error body is ``{code, message, retryable, details}``. Codes from the MCP servers (x402's
verification reasons, quote's ``price_unavailable``…) pass through unchanged; unknown codes fall
back on their ``retryable`` flag (503 when retryable, 400 otherwise).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from certify_common.errors import Failure, FailureError, failure
from certify_proxy.api.json_response import FastJSONResponse

#: Failure code → HTTP status. The only place statuses are chosen for failures.
STATUS_BY_CODE: dict[str, int] = {
    # input
    "invalid_request": 422,
    "invalid_base64": 422,
    "invalid_data_hash": 422,
    "invalid_callback_url": 422,
    "callback_url_forbidden": 400,
    "callback_url_unresolvable": 400,
    "unknown_network": 422,
    "network_not_enabled": 422,
    "data_too_large": 413,
    "body_too_large": 413,
    "request_conflict": 409,
    "proof_not_ready": 409,
    "proof_unavailable": 500,
    "request_not_found": 404,
    "not_found": 404,
    # auth and limits
    "missing_api_key": 401,
    "invalid_api_key": 401,
    "forbidden": 403,
    "rate_limited": 429,
    # payment (402: the client should pay, or pay differently)
    "payment_required": 402,
    "invalid_payload": 402,
    "invalid_x402_version": 402,
    "accepted_mismatch": 402,
    "nonce_already_used": 402,
    "network_mismatch": 402,
    "asset_mismatch": 402,
    "recipient_mismatch": 402,
    "amount_mismatch": 402,
    "scheme_mismatch": 402,
    "not_yet_valid": 402,
    "expired": 402,
    "invalid_signature": 402,
    "insufficient_funds": 402,
    "payment_invalid": 402,
    "quote_expired": 402,
    "settlement_failed": 402,
    "unsupported_scheme": 402,
    "missing_eip712_domain": 402,
    "eip712_domain_mismatch": 402,
    "validity_too_long": 402,
    "facilitator_rejected": 402,
    # upstream
    "upstream_unavailable": 503,
    "upstream_busy": 503,
    "upstream_error": 502,
    "price_unavailable": 503,
    "facilitator_unavailable": 503,
    "settlement_pending": 503,
    "settlement_in_progress": 503,
    "payment_in_progress": 503,
    "facilitator_timeout": 503,
    "rpc_unavailable": 503,
    "invalid_data_size": 422,
    "invalid_amount": 502,
    "invalid_address": 502,
    "invalid_requirements": 502,
    "service_unavailable": 503,
    "settlement_unconfirmed": 503,
    "authorization_canceled": 402,
    # the proxy's own stores (certify_proxy.store.outages)
    "database_unavailable": 503,
    "database_busy": 503,
    "cache_unavailable": 503,
}


def http_status(fail: Failure) -> int:
    """The HTTP status of a failure: the table, else 503 for retryable and 400 for the rest."""
    status = STATUS_BY_CODE.get(fail.code)
    if status is not None:
        return status
    return 503 if fail.retryable else 400


def error_body(fail: Failure) -> dict[str, Any]:
    """The wire form ``{code, message, retryable, details}``."""
    return fail.model_dump(mode="json")


def error_response(fail: Failure, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error response with the mapped status; ``Retry-After`` when the failure names one."""
    all_headers = dict(headers or {})
    retry_after = fail.retry_after
    if retry_after is not None and "Retry-After" not in all_headers:
        all_headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return FastJSONResponse(error_body(fail), status_code=http_status(fail), headers=all_headers)


class ApiError(FailureError):
    """Raised in routes and dependencies to answer with a structured error and extra headers (handled once in
    app.py, like the :class:`FailureError` lifecycle code raises: the status comes from the failure's code)."""

    def __init__(self, fail: Failure, headers: dict[str, str] | None = None) -> None:
        super().__init__(fail)
        self.headers = headers or {}


def api_error(code: str, message: str, *, retryable: bool = False, **details: Any) -> ApiError:
    """Shorthand: an :class:`ApiError` around a new failure."""
    return ApiError(failure(code, message, retryable=retryable, **details))
