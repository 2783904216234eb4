"""What a payment QR code carries: the EIP-681 transfer of an x402 offer, and the caller's callback URL.

The URI itself comes from :mod:`certify_common.eip681`, the encoder the x402 server shares; this
module picks the offer out of what the caller passed, checks the callback URL and appends it.

The callback travels in the QR as one extra query parameter, ``&callback=<percent-encoded URL>``,
appended after ``uint256``; the URL is encoded with no safe characters, so it cannot add or change
any other parameter. Wallets that parse EIP-681 leniently ignore the unknown key; for strict ones
the tool can leave it out (``embed_callback=false``) and the callback is returned beside the URI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certify_common.contracts.qr import ErrorLevel, PaymentQr
from certify_common.eip681 import check_callback_url, payment_transfer
from certify_common.errors import Failure, failure
from certify_common.evm import lookup
from certify_qr.drawing import draw_image

#: Told with every payment QR: the honest limit of a plain transfer (specs/x402.md, "Wallet links").
TRANSFER_NOTE = (
    "This EIP-681 URI asks the wallet to broadcast a plain ERC-20 transfer (the payer pays gas). "
    "It is not an x402 payment: no facilitator can verify or settle it, and it is only credited "
    "once the transfer is matched on chain. Prefer the x402 payment link when the wallet can sign."
)


def select_requirements(offer: Mapping[str, Any]) -> Mapping[str, Any] | Failure:
    """One payment requirements object: the argument itself, or from a whole 402 body (``accepts``).

    From a body, the first ``exact`` offer on a supported EVM network is taken.
    """
    accepts = offer.get("accepts")
    if accepts is None:
        return offer
    if isinstance(accepts, list):
        for candidate in accepts:
            if (
                isinstance(candidate, Mapping)
                and candidate.get("scheme", "exact") == "exact"
                and lookup(str(candidate.get("network", ""))) is not None
            ):
                return candidate
    return failure(
        "no_supported_requirement",
        "the payment requirements offer no `exact` USDC payment on a supported network",
    )


def payment_qr(
    offer: Mapping[str, Any], callback_url: str, *, embed_callback: bool, size_px: int, error_correction: ErrorLevel
) -> PaymentQr | Failure:
    """The EIP-681 transfer of an x402 offer (v1 or v2), with its PNG QR code."""
    callback = check_callback_url(callback_url)
    if isinstance(callback, Failure):
        return callback
    requirements = select_requirements(offer)
    if isinstance(requirements, Failure):
        return requirements
    content = payment_transfer(requirements, callback, embed_callback=embed_callback)
    if isinstance(content, Failure):
        return content
    transfer, uri, qr_data = content.transfer, content.uri, content.qr_data
    image = draw_image(qr_data, "png", size_px, error_correction)
    if isinstance(image, Failure):
        return image
    return PaymentQr(
        eip681_uri=uri,
        qr_data=qr_data,
        callback_embedded=embed_callback,
        callback_url=callback,
        network=transfer.network.name,
        chain_id=transfer.network.chain_id,
        token=transfer.token,
        pay_to=transfer.pay_to,
        amount_atomic=str(transfer.amount_atomic),
        image=image,
        note=TRANSFER_NOTE,
    )
