"""The registry of failure codes: every code any certify service returns, with its HTTP status and retry default.

Codes are data, as the official x402 SDK keeps its error reasons: one :class:`FailureCode` member per code,
whose value is the snake_case string on the wire. ``http_status`` is the status the proxy answers with when the
failure reaches a client (the proxy derives its error table from here); ``retryable`` is the default of
:func:`certify_common.errors.failure` when a call site does not say (sites may still decide per case, e.g.
``facilitator_bad_answer`` is retryable only for an answer that may change). The repository test
``tests/test_failure_codes.py`` fails when a source file passes an unregistered code to ``failure(...)``,
``Failure(...)`` or ``api_error(...)``.
"""

from __future__ import annotations

from enum import StrEnum


class FailureCode(StrEnum):
    """A stable failure code; ``str(code)`` and ``code.value`` are the wire string."""

    http_status: int
    retryable: bool

    def __new__(cls, value: str, http_status: int, retryable: bool = False) -> FailureCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.http_status = http_status
        member.retryable = retryable
        return member

    # --- the request (proxy and every tool's input) ---
    INVALID_REQUEST = "invalid_request", 422
    INVALID_INPUT = "invalid_input", 422
    INVALID_BASE64 = "invalid_base64", 422
    INVALID_DATA_HASH = "invalid_data_hash", 422
    INVALID_DATA_SIZE = "invalid_data_size", 422
    INVALID_CALLBACK_URL = "invalid_callback_url", 422
    CALLBACK_URL_FORBIDDEN = "callback_url_forbidden", 400
    CALLBACK_URL_UNRESOLVABLE = "callback_url_unresolvable", 400
    UNKNOWN_NETWORK = "unknown_network", 422
    NETWORK_NOT_ENABLED = "network_not_enabled", 422
    DATA_TOO_LARGE = "data_too_large", 413
    BODY_TOO_LARGE = "body_too_large", 413
    REQUEST_CONFLICT = "request_conflict", 409
    IDEMPOTENCY_CONFLICT = "idempotency_conflict", 409
    PROOF_NOT_READY = "proof_not_ready", 409
    PROOF_UNAVAILABLE = "proof_unavailable", 500
    REQUEST_NOT_FOUND = "request_not_found", 404
    NOT_FOUND = "not_found", 404
    METHOD_NOT_ALLOWED = "method_not_allowed", 405
    #: Starlette's other HTTP exceptions; the proxy's handler keeps the exception's own status.
    HTTP_ERROR = "http_error", 400
    INTERNAL_ERROR = "internal_error", 500, True
    # --- authentication and limits ---
    MISSING_API_KEY = "missing_api_key", 401
    INVALID_API_KEY = "invalid_api_key", 401
    FORBIDDEN = "forbidden", 403
    RATE_LIMITED = "rate_limited", 429, True
    # --- payment (402: the client should pay, or pay differently) ---
    PAYMENT_REQUIRED = "payment_required", 402
    PAYMENT_INVALID = "payment_invalid", 402
    INVALID_PAYLOAD = "invalid_payload", 402
    INVALID_X402_VERSION = "invalid_x402_version", 402
    VERSION_MISMATCH = "version_mismatch", 402
    UNSUPPORTED_SCHEME = "unsupported_scheme", 402
    ACCEPTED_MISMATCH = "accepted_mismatch", 402
    NETWORK_MISMATCH = "network_mismatch", 402
    ASSET_MISMATCH = "asset_mismatch", 402
    RECIPIENT_MISMATCH = "recipient_mismatch", 402
    AMOUNT_MISMATCH = "amount_mismatch", 402
    MISSING_EIP712_DOMAIN = "missing_eip712_domain", 402
    EIP712_DOMAIN_MISMATCH = "eip712_domain_mismatch", 402
    NOT_YET_VALID = "not_yet_valid", 402
    EXPIRED = "expired", 402
    VALIDITY_TOO_LONG = "validity_too_long", 402
    INVALID_SIGNATURE = "invalid_signature", 402
    INSUFFICIENT_FUNDS = "insufficient_funds", 402
    NONCE_ALREADY_USED = "nonce_already_used", 402
    AUTHORIZATION_CANCELED = "authorization_canceled", 402
    QUOTE_EXPIRED = "quote_expired", 402
    FACILITATOR_REJECTED = "facilitator_rejected", 402
    SETTLEMENT_FAILED = "settlement_failed", 402
    # --- payment in flight or its upstreams (x402 server, facilitators, RPC) ---
    PAYMENT_IN_PROGRESS = "payment_in_progress", 503, True
    SETTLEMENT_IN_PROGRESS = "settlement_in_progress", 503, True
    SETTLEMENT_PENDING = "settlement_pending", 503, True
    SETTLEMENT_UNCONFIRMED = "settlement_unconfirmed", 503, True
    FACILITATOR_UNAVAILABLE = "facilitator_unavailable", 503, True
    FACILITATOR_TIMEOUT = "facilitator_timeout", 503, True
    FACILITATOR_BAD_ANSWER = "facilitator_bad_answer", 502
    RPC_UNAVAILABLE = "rpc_unavailable", 503, True
    # --- values an upstream tool returned that the proxy cannot use (its own bug or misconfiguration) ---
    INVALID_AMOUNT = "invalid_amount", 502
    INVALID_ADDRESS = "invalid_address", 502
    INVALID_REQUIREMENTS = "invalid_requirements", 502
    INVALID_RESOURCE = "invalid_resource", 502
    INVALID_PAGE_URL = "invalid_page_url", 502
    AMOUNT_TOO_PRECISE = "amount_too_precise", 502
    TOOL_ERROR = "tool_error", 502
    # --- upstreams in general (MCP servers seen from the proxy, CoinGecko seen from quote) ---
    UPSTREAM_UNAVAILABLE = "upstream_unavailable", 503, True
    UPSTREAM_BUSY = "upstream_busy", 503, True
    UPSTREAM_ERROR = "upstream_error", 502, True
    UPSTREAM_BAD_RESPONSE = "upstream_bad_response", 502, True
    UPSTREAM_RATE_LIMITED = "upstream_rate_limited", 503, True
    UPSTREAM_TIMEOUT = "upstream_timeout", 503, True
    UPSTREAM_UNREACHABLE = "upstream_unreachable", 503, True
    # --- quote ---
    PRICE_UNAVAILABLE = "price_unavailable", 503, True
    INVALID_PRICE = "invalid_price", 400
    INVALID_MARGIN = "invalid_margin", 400
    INVALID_ENCODING = "invalid_encoding", 400
    # --- qr ---
    EMPTY_DATA = "empty_data", 400
    DATA_TOO_LONG = "data_too_long", 400
    INVALID_ERROR_CORRECTION = "invalid_error_correction", 400
    BORDER_OUT_OF_RANGE = "border_out_of_range", 400
    SIZE_OUT_OF_RANGE = "size_out_of_range", 400
    SIZE_TOO_SMALL = "size_too_small", 400
    UNSUPPORTED_FORMAT = "unsupported_format", 400
    NO_SUPPORTED_REQUIREMENT = "no_supported_requirement", 400
    # --- circular (the NAG and the certifying wallet) ---
    NAG_UNAVAILABLE = "nag_unavailable", 503, True
    NAG_INVALID_RESPONSE = "nag_invalid_response", 502
    NAG_ERROR = "nag_error", 502
    WALLET_NOT_FOUND = "wallet_not_found", 502
    WALLET_NOT_CONFIGURED = "wallet_not_configured", 503
    WALLET_BUSY = "wallet_busy", 503, True
    WALLET_LOCK_LOST = "wallet_lock_lost", 503, True
    INVALID_FORMAT = "invalid_format", 502
    INVALID_NONCE = "invalid_nonce", 503, True
    INVALID_TRANSACTION_ID = "invalid_transaction_id", 400
    TRANSACTION_NOT_FOUND = "transaction_not_found", 404
    NOT_YET_EXECUTED = "not_yet_executed", 503, True
    NOT_A_CERTIFICATE = "not_a_certificate", 400
    PROOF_INVALID = "proof_invalid", 400
    # --- the proxy's own stores (certify_proxy.store.outages) ---
    DATABASE_UNAVAILABLE = "database_unavailable", 503, True
    DATABASE_BUSY = "database_busy", 503, True
    CACHE_UNAVAILABLE = "cache_unavailable", 503, True
    # --- the operator ---
    PROXY_KEY_MISSING = "proxy_key_missing", 503
    PROXY_UNAVAILABLE = "proxy_unavailable", 503, True


_BY_VALUE: dict[str, FailureCode] = {member.value: member for member in FailureCode}


def registered(code: str) -> FailureCode | None:
    """The registry member for a wire code, or None for a code no certify service defines."""
    return _BY_VALUE.get(code)
