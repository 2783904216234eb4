"""x402 wire objects, v1 and v2, decoded into one shape: requirements, payments and their authorization.

Wire facts: specs/x402.md. Payment headers are standard base64 of compact JSON; v1 names the
network (``base``), v2 uses CAIP-2 (``eip155:8453``) and ``amount`` instead of ``maxAmountRequired``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork, lookup

MAX_HEADER_CHARS = 16_384
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HEX = re.compile(r"^0x(?:[0-9a-fA-F]{2})+$")
_UINT = re.compile(r"^[0-9]{1,78}$")


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


@dataclass(frozen=True)
class Authorization:
    """The EIP-3009 ``TransferWithAuthorization`` message the payer signed."""

    from_address: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str

    def as_wire(self) -> dict[str, str]:
        """The camelCase wire form (decimal strings)."""
        return {
            "from": self.from_address,
            "to": self.to,
            "value": str(self.value),
            "validAfter": str(self.valid_after),
            "validBefore": str(self.valid_before),
            "nonce": self.nonce,
        }


@dataclass(frozen=True)
class Payment:
    """A decoded payment header: protocol version, chosen scheme/network, authorization, signature."""

    version: int
    scheme: str
    network_id: str
    authorization: Authorization
    signature: str
    accepted: dict[str, Any] | None
    raw: dict[str, Any]


def _malformed(message: str) -> Failure:
    return failure("malformed_payload", message)


def parse_requirements(requirements: dict[str, Any]) -> Requirement | Failure:
    """Read v1 (``maxAmountRequired``) or v2 (``amount``) requirements; reject what cannot be checked."""
    if not isinstance(requirements, dict):
        return failure("invalid_requirements", "payment_requirements must be an object")
    version = 1 if "maxAmountRequired" in requirements else 2
    raw_amount = requirements.get("maxAmountRequired" if version == 1 else "amount")
    network_id = str(requirements.get("network", ""))
    checks = (
        (isinstance(raw_amount, str) and _UINT.match(raw_amount) is not None, "amount must be a decimal string"),
        (_ADDRESS.match(str(requirements.get("asset", ""))) is not None, "asset must be an address"),
        (_ADDRESS.match(str(requirements.get("payTo", ""))) is not None, "payTo must be an address"),
        (isinstance(requirements.get("maxTimeoutSeconds", 0), int), "maxTimeoutSeconds must be an integer"),
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
        max_timeout_seconds=int(requirements.get("maxTimeoutSeconds", 0)),
        extra=dict(requirements.get("extra") or {}),
        raw=requirements,
    )


def _authorization(payload: Any) -> Authorization | Failure:
    if not isinstance(payload, dict) or not isinstance(payload.get("authorization"), dict):
        return _malformed("payload.authorization is missing")
    auth = payload["authorization"]
    for key in ("from", "to"):
        if not isinstance(auth.get(key), str) or not _ADDRESS.match(auth[key]):
            return _malformed(f"authorization.{key} must be an address")
    for key in ("value", "validAfter", "validBefore"):
        if not isinstance(auth.get(key), str) or not _UINT.match(auth[key]) or int(auth[key]) >= 2**256:
            return _malformed(f"authorization.{key} must be a uint256 decimal string")
    if not isinstance(auth.get("nonce"), str) or not _NONCE.match(auth["nonce"]):
        return _malformed("authorization.nonce must be 0x + 64 hex digits")
    return Authorization(
        from_address=auth["from"],
        to=auth["to"],
        value=int(auth["value"]),
        valid_after=int(auth["validAfter"]),
        valid_before=int(auth["validBefore"]),
        nonce=auth["nonce"].lower(),
    )


def parse_payment(obj: Any) -> Payment | Failure:
    """A decoded payment object (v1 ``{scheme, network, payload}`` or v2 ``{accepted, payload}``)."""
    if not isinstance(obj, dict):
        return _malformed("the payment is not a JSON object")
    version = obj.get("x402Version")
    if version not in (1, 2):
        return _malformed("x402Version must be 1 or 2")
    payload = obj.get("payload")
    authorization = _authorization(payload)
    if isinstance(authorization, Failure):
        return authorization
    assert isinstance(payload, dict)
    signature = payload.get("signature")
    if not isinstance(signature, str) or not _HEX.match(signature):
        return _malformed("payload.signature must be 0x-prefixed hex")
    accepted = obj.get("accepted") if version == 2 else None
    if version == 2 and not isinstance(accepted, dict):
        return _malformed("a v2 payment carries the accepted requirements")
    source = accepted if accepted is not None else obj
    return Payment(
        version=int(version),
        scheme=str(source.get("scheme", "")),
        network_id=str(source.get("network", "")),
        authorization=authorization,
        signature=signature,
        accepted=accepted,
        raw=obj,
    )


def decode_header(header: str) -> Payment | Failure:
    """Decode an ``X-PAYMENT`` (v1) or ``PAYMENT-SIGNATURE`` (v2) header value."""
    text = header.strip()
    if not text or len(text) > MAX_HEADER_CHARS:
        return _malformed("the payment header is empty or too long")
    try:
        padded = text + "=" * (-len(text) % 4)
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        obj = json.loads(decoded)
    except (binascii.Error, ValueError):
        return _malformed("the payment header is not base64 of JSON")
    return parse_payment(obj)


def encode_header(obj: dict[str, Any]) -> str:
    """Standard base64 of compact JSON, the encoding of every x402 header."""
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()
