"""Request and response bodies of the REST API (the OpenAPI document is generated from these).

Request bodies are defined here. Answers a client of the API reads (status document, quote, 402 offer,
errors, webhook secret) are ``certify_client.models``, shared with the SDK; the admin views and the payment
page's JSON are defined beside the code that fills them and listed here, so this module names every body.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from certify_client.models import (
    ErrorBody,
    PaymentRequiredBody,
    QuoteAnswer,
    StatusDocument,
    WebhookSecret,
)
from certify_proxy.api.paypage import PageView
from certify_proxy.queue.deadletters import DeadLetters, DeadLetterView, StuckJobs
from certify_proxy.tasks.balance import BalanceReport
from certify_proxy.tasks.reconciliation import UnresolvedSettlements

__all__ = [
    "BalanceReport",
    "CertifyBody",
    "DeadLetterView",
    "DeadLetters",
    "ErrorBody",
    "PageView",
    "PayBody",
    "PaymentRequiredBody",
    "QuoteAnswer",
    "QuoteBody",
    "StatusDocument",
    "StuckJobs",
    "UnresolvedSettlements",
    "WebhookSecret",
]

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
