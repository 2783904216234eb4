"""x402 wire objects, v1 and v2: requirements as the checks need them; payments from the shared decoder.

Wire facts: certify_common.x402_wire and specs/x402.md. Payment headers are base64 of compact JSON; v1 names the
network (``base``), v2 uses CAIP-2 (``eip155:8453``) and ``amount`` instead of ``maxAmountRequired``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork, is_address, lookup
from certify_common.x402_wire import PaymentHeader, TransferAuthorization, decode_payment_header, is_uint256

#: The decoded payment and its authorization are the shared decoder's types (certify_common.x402_wire).
Payment = PaymentHeader
Authorization = TransferAuthorization


@dataclass(frozen=True)
class Requirement:
    """Payment requirements (v1 or v2) as the checks need them."""

    version: int
    scheme: str
    network_id: str
    network: UsdcNetwork | None
    amount_atomic: int
    asset: str
    pay_to: str
    max_timeout_seconds: int
    extra: dict[str, Any]
    raw: dict[str, Any]


def parse_requirements(requirements: dict[str, Any]) -> Requirement | Failure:
    """Read v1 (``maxAmountRequired``) or v2 (``amount``) requirements; reject what cannot be checked."""
    if not isinstance(requirements, dict):
        return failure("invalid_requirements", "payment_requirements must be an object")
    version = 1 if "maxAmountRequired" in requirements else 2
    raw_amount = requirements.get("maxAmountRequired" if version == 1 else "amount")
    network_id = str(requirements.get("network", ""))
    timeout = requirements.get("maxTimeoutSeconds", 0)
    checks = (
        (is_uint256(raw_amount), "amount must be a uint256 decimal string"),
        (is_address(requirements.get("asset")), "asset must be an address"),
        (is_address(requirements.get("payTo")), "payTo must be an address"),
        (type(timeout) is int and timeout >= 0, "maxTimeoutSeconds must be a non-negative integer"),
        (isinstance(requirements.get("extra") or {}, dict), "extra must be an object"),
    )
    for passed, message in checks:
        if not passed:
            return failure("invalid_requirements", message)
    return Requirement(
        version=version,
        scheme=str(requirements.get("scheme", "")),
        network_id=network_id,
        network=lookup(network_id),
        amount_atomic=int(str(raw_amount)),
        asset=str(requirements["asset"]),
        pay_to=str(requirements["payTo"]),
        max_timeout_seconds=int(timeout),
        extra=dict(requirements.get("extra") or {}),
        raw=requirements,
    )


def decode_header(header: str) -> Payment | Failure:
    """Decode an ``X-PAYMENT`` (v1) or ``PAYMENT-SIGNATURE`` (v2) header value with the shared strict decoder."""
    return decode_payment_header(header)


def encode_header(obj: dict[str, Any]) -> str:
    """Standard base64 of compact JSON, the encoding of every x402 header."""
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()
