"""Which authorization a payment header carries, read locally before any network call.

The header is decoded by the one strict decoder every party shares (certify_common.x402_wire); the
proxy keeps the authorization's identity to look it up in its payments table and lock it. The full
verification (signature, amounts, window, the v2 ``accepted`` block) is the x402 server's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from certify_common.errors import Failure, failure
from certify_common.x402_wire import PaymentHeader
from certify_common.x402_wire import decode_payment_header as decode_wire


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


def decode_payment_header(header: str) -> tuple[Authorization, PaymentHeader] | Failure:
    """Decode a base64 ``X-PAYMENT`` (v1) or ``PAYMENT-SIGNATURE`` (v2) value; the network must be known here."""
    payment = decode_wire(header)
    if isinstance(payment, Failure):
        return payment
    network = payment.network
    if network is None:
        return failure("network_mismatch", "the payment names an unknown network", network=payment.network_id)
    auth = payment.authorization
    return Authorization(payment.version, network.name, payment.payer, auth.nonce, auth.value), payment
