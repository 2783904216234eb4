"""Payment requirements in both protocol versions, from an amount, a network and a resource.

Asset and ``extra {name, version}`` come from the network table (certify_common.evm), never from
the caller: a wrong EIP-712 domain name makes every payment fail verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork, is_address, lookup
from certify_common.x402_wire import UINT256_LIMIT, is_uint256
from certify_x402.wire import encode_header

V2_ERROR = "Payment required"
V1_ERROR = "X-PAYMENT header is required"


@dataclass(frozen=True)
class Offer:
    """Everything a 402 answer needs for one network."""

    network: UsdcNetwork
    amount_atomic: int
    pay_to: str
    requirements_v2: dict[str, Any]
    payment_required_v2: dict[str, Any]
    payment_required_header: str
    requirements_v1: dict[str, Any] | None
    payment_required_v1: dict[str, Any] | None


def atomic_amount(amount_usdc: str | None, amount_atomic: str | None, decimals: int) -> int | Failure:
    """Exactly one of a decimal USDC string (at most ``decimals`` places) or atomic units, positive."""
    if (amount_usdc is None) == (amount_atomic is None):
        return failure("invalid_amount", "give exactly one of amount_usdc and amount_atomic")
    if amount_atomic is not None:
        text = amount_atomic.strip()
        if not is_uint256(text) or int(text) <= 0:
            return failure("invalid_amount", "amount_atomic must be a positive integer string of ASCII digits")
        return int(text)
    if amount_usdc is None:
        return failure("invalid_amount", "give exactly one of amount_usdc and amount_atomic")
    try:
        value = Decimal(amount_usdc.strip())
    except InvalidOperation:
        return failure("invalid_amount", "amount_usdc must be a decimal string such as '0.25'")
    if not value.is_finite() or value <= 0:
        return failure("invalid_amount", "amount_usdc must be positive")
    # Exact integer arithmetic: Decimal's quantize/scaleb round (or raise) beyond the context's 28 digits.
    _, digits, exponent = value.as_tuple()
    coefficient = "".join(map(str, digits))
    significant = coefficient.rstrip("0")
    exponent = int(exponent) + len(coefficient) - len(significant)
    if value.adjusted() + decimals >= 78:
        return failure("invalid_amount", "amount_usdc is too large")
    if exponent < -decimals:
        return failure("amount_too_precise", f"USDC has {decimals} decimals", max_places=decimals)
    atomic: int = int(significant) * 10 ** (exponent + decimals)
    if atomic >= UINT256_LIMIT:
        return failure("invalid_amount", "amount_usdc is too large")
    return atomic


def build_offer(
    *,
    network_name: str,
    enabled: list[str],
    amount_atomic: int,
    pay_to: str,
    resource: str,
    description: str,
    mime_type: str,
    max_timeout_seconds: int,
) -> Offer | Failure:
    """The v2 requirements and header, plus the v1 ones where the network has a v1 name."""
    network = lookup(network_name)
    if network is None or network.name not in enabled:
        return failure("unknown_network", f"network {network_name!r} is not enabled", enabled=enabled)
    if not is_address(pay_to):
        return failure("invalid_address", "pay_to must be a 0x-prefixed 20-byte address", field="pay_to")
    if not resource.strip():
        return failure("invalid_resource", "resource must name what is being paid for")
    extra = {"name": network.eip712_name, "version": network.eip712_version}
    v2 = {
        "scheme": "exact",
        "network": network.caip2,
        "asset": network.usdc_address,
        "amount": str(amount_atomic),
        "payTo": pay_to,
        "maxTimeoutSeconds": max_timeout_seconds,
        "extra": extra,
    }
    resource_info: dict[str, Any] = {"url": resource}
    if description:
        resource_info["description"] = description
    resource_info["mimeType"] = mime_type
    required_v2 = {"x402Version": 2, "error": V2_ERROR, "resource": resource_info, "accepts": [v2]}
    v1: dict[str, Any] | None = None
    required_v1: dict[str, Any] | None = None
    if network.v1_name is not None:
        v1 = {
            "scheme": "exact",
            "network": network.v1_name,
            "maxAmountRequired": str(amount_atomic),
            "resource": resource,
            "description": description,
            "mimeType": mime_type,
            "payTo": pay_to,
            "maxTimeoutSeconds": max_timeout_seconds,
            "asset": network.usdc_address,
            "extra": dict(extra),
        }
        required_v1 = {"x402Version": 1, "error": V1_ERROR, "accepts": [v1]}
    return Offer(network, amount_atomic, pay_to, v2, required_v2, encode_header(required_v2), v1, required_v1)
