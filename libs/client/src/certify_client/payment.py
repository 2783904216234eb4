"""Paying a 402 with a local key: an x402 v2 "exact" payment (EIP-3009 ``transferWithAuthorization``).

The offer comes from the ``PAYMENT-REQUIRED`` header (base64 JSON); the payer signs the EIP-712
typed data of the authorization and sends it back base64-encoded in ``PAYMENT-SIGNATURE``.

Deliberately independent of the service: this package installs alone (an agent's SDK, no ``certify_common``),
so it builds the EIP-712 types itself from the offer. Its payments are checked by the x402 server's own
builder in certify_common and by the official x402 SDK, so a divergence fails the tests on both sides.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

#: validAfter is set this far in the past, so a payee whose clock is a little behind accepts it.
VALID_AFTER_SKEW_S = 60
#: validBefore stays this far inside the offer's maxTimeoutSeconds.
VALID_BEFORE_MARGIN_S = 5

EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "TransferWithAuthorization": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ],
}


class PaymentError(ValueError):
    """The offer cannot be paid (malformed, no exact EVM offer, or not the wanted network)."""


@dataclass(frozen=True)
class SignedPayment:
    """A payment ready to send: header name and value, and what it authorizes."""

    header_name: str
    header_value: str
    payer: str
    network: str
    amount_atomic: int
    pay_to: str


def payer_address(private_key: str) -> str:
    """The checksummed address of a payer key."""
    address: str = Account.from_key(private_key).address
    return address


def decode_offer(header_value: str) -> dict[str, Any]:
    """The JSON of a ``PAYMENT-REQUIRED`` header."""
    try:
        offer = json.loads(base64.b64decode(header_value + "=" * (-len(header_value) % 4), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise PaymentError("the PAYMENT-REQUIRED header is not base64 JSON") from exc
    if not isinstance(offer, dict) or offer.get("x402Version") != 2 or not isinstance(offer.get("accepts"), list):
        raise PaymentError("the PAYMENT-REQUIRED header is not an x402 v2 offer")
    return offer


def choose_requirement(offer: dict[str, Any], network_caip2: str | None = None) -> dict[str, Any]:
    """The first ``exact`` EVM requirement of the offer (on ``network_caip2`` when given)."""
    for requirement in offer["accepts"]:
        if not isinstance(requirement, dict) or requirement.get("scheme") != "exact":
            continue
        network = str(requirement.get("network", ""))
        if network.startswith("eip155:") and network_caip2 in (None, network):
            return requirement
    raise PaymentError(f"the offer has no exact EVM requirement{f' on {network_caip2}' if network_caip2 else ''}")


def typed_data(requirement: dict[str, Any], authorization: dict[str, str]) -> dict[str, Any]:
    """The EIP-712 typed data of an authorization for ``requirement`` (domain from its ``extra``)."""
    extra = requirement.get("extra") or {}
    if not isinstance(extra.get("name"), str) or not isinstance(extra.get("version"), str):
        raise PaymentError("the requirement names no EIP-712 domain (extra.name, extra.version)")
    return {
        "types": EIP712_TYPES,
        "primaryType": "TransferWithAuthorization",
        "domain": {
            "name": extra["name"],
            "version": extra["version"],
            "chainId": int(str(requirement["network"]).split(":", 1)[1]),
            "verifyingContract": requirement["asset"],
        },
        "message": {
            "from": authorization["from"],
            "to": authorization["to"],
            "value": int(authorization["value"]),
            "validAfter": int(authorization["validAfter"]),
            "validBefore": int(authorization["validBefore"]),
            "nonce": bytes.fromhex(authorization["nonce"][2:]),
        },
    }


def sign_payment(
    offer: dict[str, Any], private_key: str, *, network_caip2: str | None = None, now: int | None = None
) -> SignedPayment:
    """Sign an EIP-3009 authorization for the offer's requirement and wrap it as an x402 v2 payment."""
    requirement = choose_requirement(offer, network_caip2)
    account = Account.from_key(private_key)
    moment = int(time.time()) if now is None else now
    window = int(requirement.get("maxTimeoutSeconds") or 60)
    authorization = {
        "from": account.address,
        "to": str(requirement["payTo"]),
        "value": str(int(requirement["amount"])),
        "validAfter": str(moment - VALID_AFTER_SKEW_S),
        "validBefore": str(moment + max(window - VALID_BEFORE_MARGIN_S, 10)),
        "nonce": "0x" + secrets.token_hex(32),
    }
    signed = account.sign_message(encode_typed_data(full_message=typed_data(requirement, authorization)))
    payment: dict[str, Any] = {
        "x402Version": 2,
        "accepted": requirement,
        "payload": {"signature": "0x" + bytes(signed.signature).hex(), "authorization": authorization},
    }
    if "resource" in offer:
        payment["resource"] = offer["resource"]
    encoded = base64.b64encode(json.dumps(payment, separators=(",", ":")).encode()).decode("ascii")
    return SignedPayment(
        header_name="PAYMENT-SIGNATURE",
        header_value=encoded,
        payer=account.address,
        network=str(requirement["network"]),
        amount_atomic=int(authorization["value"]),
        pay_to=authorization["to"],
    )
