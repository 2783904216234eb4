"""Reading an x402 payment header locally: which authorization it carries (before any network call).

The proxy looks the authorization up in its payments table first; the full verification (signature,
amounts, window) is the x402 server's job.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from certify_common.errors import Failure, failure
from certify_common.evm import lookup

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^0x[0-9a-fA-F]{64}$")
MAX_HEADER_CHARS = 16_384


@dataclass(frozen=True)
class Authorization:
    """The identity of one EIP-3009 authorization, and the protocol version it came in."""

    x402_version: int
    network: str
    payer: str
    nonce: str
    value_atomic: int

    @property
    def key(self) -> str:
        """A lock/replay key unique per authorization."""
        return f"{self.network}:{self.payer}:{self.nonce}"


def _malformed(message: str) -> Failure:
    return failure("malformed_payment", message)


def decode_payment_header(header: str) -> tuple[Authorization, dict[str, Any]] | Failure:
    """Decode a base64 ``X-PAYMENT`` (v1) or ``PAYMENT-SIGNATURE`` (v2) value."""
    if len(header) > MAX_HEADER_CHARS:
        return _malformed("payment header too long")
    try:
        raw = base64.b64decode(header.strip() + "=" * (-len(header.strip()) % 4), validate=True)
        payment = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return _malformed("payment header is not base64 JSON")
    if not isinstance(payment, dict):
        return _malformed("payment is not a JSON object")
    version = payment.get("x402Version")
    if version == 1:
        network_id = payment.get("network")
    elif version == 2:
        accepted = payment.get("accepted")
        network_id = accepted.get("network") if isinstance(accepted, dict) else None
    else:
        return _malformed("x402Version must be 1 or 2")
    network = lookup(str(network_id)) if network_id is not None else None
    if network is None:
        return failure("network_mismatch", "the payment names an unknown network", network=str(network_id))
    payload = payment.get("payload")
    auth = payload.get("authorization") if isinstance(payload, dict) else None
    if not isinstance(auth, dict):
        return _malformed("payload.authorization missing")
    payer, nonce, value = auth.get("from"), auth.get("nonce"), auth.get("value")
    if not (isinstance(payer, str) and _ADDRESS.match(payer)):
        return _malformed("authorization.from is not an address")
    if not (isinstance(nonce, str) and _NONCE.match(nonce)):
        return _malformed("authorization.nonce is not 32 bytes of hex")
    if not (isinstance(value, str) and value.isdigit()):
        return _malformed("authorization.value is not a decimal string")
    return Authorization(int(version), network.name, payer.lower(), nonce.lower(), int(value)), payment
