"""Request and response bodies of the REST API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
#: C0 and C1 control characters (NUL, newlines, escapes…) are refused in free text.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"
ClientType = Literal["agent", "browser", "mobile"]


class QuoteBody(BaseModel):
    """``data`` (base64) or ``data_hash`` with ``data_size_bytes``."""

    model_config = ConfigDict(extra="forbid")

    data: str | None = Field(None, description="The document, base64-encoded (at most 10 MB decoded).")
    data_hash: str | None = Field(None, description="SHA-256 of the document, 64 hex digits (0x optional).")
    data_size_bytes: int | None = Field(None, ge=0, description="Size of the document when only its hash is sent.")


class CertifyBody(BaseModel):
    """A new request (with ``data`` or ``data_hash``), or just ``request_id`` on a paid retry."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="Chosen by the client; makes retries idempotent.")
    data: str | None = Field(None, description="The document, base64-encoded (at most 10 MB decoded).")
    data_hash: str | None = Field(None, description="SHA-256 of the document, 64 hex digits (0x optional).")
    data_size_bytes: int | None = Field(None, ge=0, description="Size of the document when only its hash is sent.")
    network: str | None = Field(None, description="base, base-sepolia, arbitrum or arbitrum-sepolia.")
    callback_url: str | None = Field(None, max_length=2048, description="HTTPS URL that receives the final status.")
    client_type: ClientType | None = Field(None, description="agent (default), browser or mobile.")
    file_name: str | None = Field(
        None,
        max_length=255,
        pattern=NO_CONTROL_CHARACTERS,
        description="Shown on the payment page; never certified. No control characters.",
    )


class PayBody(BaseModel):
    """What the payment page posts: the payment header value, when it cannot set headers."""

    model_config = ConfigDict(extra="forbid")

    payment: str | None = Field(None, description="The base64 x402 payment (X-PAYMENT or PAYMENT-SIGNATURE form).")


class Accepted(BaseModel):
    """202: the payment is settled and the certification is queued."""

    request_id: str
    status: str
    status_url: str
    payment: dict[str, Any] | None


class ErrorBody(BaseModel):
    """Every error: a stable snake_case code, a message, whether retrying may help, and details."""

    code: str
    message: str
    retryable: bool
    details: dict[str, Any]


class PaymentRequiredBody(BaseModel):
    """402 for a new request: the x402 v1 fields (``x402Version``, ``error``, ``accepts``) then certify's offer.

    The v2 offer travels in the ``PAYMENT-REQUIRED`` header. A paid retry whose payment is refused gets a
    402 with an :class:`ErrorBody` instead (its ``code`` is the x402 reason).
    """

    x402Version: int  # the x402 wire name
    error: str
    accepts: list[dict[str, Any]]
    request_id: str
    status: str
    quote: dict[str, Any]
    payment: dict[str, Any]
    payment_link: str
    qr_code_url: str
    qr_code_base64: str | None = Field(
        None, description="For client_type mobile: the QR code PNG, base64 (others fetch qr_code_url)."
    )
    status_url: str
    instructions: dict[str, Any]
    wallet_links: dict[str, Any] | None = Field(None, description="For client_type browser.")
    mobile: dict[str, Any] | None = Field(None, description="For client_type mobile.")
