"""The one table mapping failure codes to HTTP statuses, and the JSON error response.

Every error body is ``{code, message, retryable, details}``. Codes from the MCP servers (x402's
verification reasons, quote's ``price_unavailable``…) pass through unchanged. Every code certify defines is
in the registry :class:`~certify_common.codes.FailureCode` with its status; a code from elsewhere falls back on
its ``retryable`` flag (503 when retryable, 400 otherwise).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from certify_common.codes import FailureCode
from certify_common.errors import Failure, FailureError, failure
from certify_proxy.api.json_response import FastJSONResponse

#: Failure code → HTTP status, derived from the registry (:mod:`certify_common.codes`): the only place statuses
#: are chosen for failures.
STATUS_BY_CODE: dict[str, int] = {code.value: code.http_status for code in FailureCode}


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


def api_error(code: FailureCode | str, message: str, *, retryable: bool | None = None, **details: Any) -> ApiError:
    """Shorthand: an :class:`ApiError` around a new failure."""
    return ApiError(failure(code, message, retryable=retryable, **details))
