"""How to pay a 402, for agents, browsers, phones and by hand (with the exact EIP-712 typed data)."""

from __future__ import annotations

from typing import Any

from certify_common import eip3009
from certify_common.contracts.x402 import PaymentRequirementResult, PaymentRequirements, RequirementsExtra

_PAYLOAD = {
    "signature": "<0x + the 65-byte signature>",
    "authorization": "<the signed message: from, to, value, validAfter, validBefore as decimal strings, nonce 0x hex>",
}


def typed_data(x402: PaymentRequirementResult) -> dict[str, Any]:
    """The EIP-712 typed data to sign; the message's from, validAfter, validBefore and nonce are the payer's."""
    requirements = PaymentRequirements.model_validate(x402.requirements_v2)
    window = requirements.max_timeout_seconds
    extra = requirements.extra or RequirementsExtra()
    document = eip3009.unsigned_document(
        name=extra.name,
        version=extra.version,
        chain_id=x402.chain_id,
        verifying_contract=x402.asset,
    )
    return {
        **document,
        "message": {
            "from": "<your address>",
            "to": x402.pay_to,
            "value": x402.amount_atomic,
            "validAfter": "<unix seconds, at most now>",
            "validBefore": f"<unix seconds, later than now + 6 and at most now + {window}>",
            "nonce": "<0x + 64 random hex digits, new for every payment>",
        },
    }


def _manual(certify_url: str, callback: str, request_id: str, x402: PaymentRequirementResult) -> dict[str, Any]:
    v1 = x402.requirements_v1
    return {
        "summary": "Sign the EIP-712 typed data below with eth_signTypedData_v4, then send the x402 payment.",
        "typed_data": typed_data(x402),
        "payment_v2": {"x402Version": 2, "accepted": x402.requirements_v2, "payload": _PAYLOAD},
        "payment_v1": None
        if not v1
        else {"x402Version": 1, "scheme": "exact", "network": v1["network"], "payload": _PAYLOAD},
        "submit": f'POST {certify_url} with body {{"request_id": "{request_id}"}} and the header '
        "PAYMENT-SIGNATURE: base64(payment_v2 JSON) or X-PAYMENT: base64(payment_v1 JSON); or POST "
        f'{{"payment": <that base64>}} to {callback}',
    }


def instructions(
    certify_url: str, request_id: str, x402: PaymentRequirementResult, payment_link: str
) -> dict[str, Any]:
    """Per-audience steps to pay this request (``certify_url``: where the paid retry goes)."""
    callback = payment_link.replace("/pay/", "/v1/pay/")
    return {
        "agent": {
            "summary": "Pay with any x402 client: retry the same POST with the payment header.",
            "steps": [
                "Pick the offer: the PAYMENT-REQUIRED header (x402 v2) or `accepts` in this body (x402 v1).",
                "Sign an EIP-3009 transferWithAuthorization for exactly the amount, to payTo, on the USDC contract.",
                f'POST {certify_url} again with {{"request_id": "{request_id}"}} and the header PAYMENT-SIGNATURE '
                "(v2) or X-PAYMENT (v1): base64 of the payment JSON.",
                "Expect 202 with status_url (or 200 with the proof when `Prefer: wait=N` is sent and it finishes).",
            ],
        },
        "browser": {
            "summary": "Open the payment page; it asks your wallet for a gasless signature and submits it.",
            "payment_link": payment_link,
        },
        "mobile": {
            "summary": "Scan the QR code with your wallet app: it opens the payment page in the wallet's browser.",
            "payment_link": payment_link,
        },
        "manual": _manual(certify_url, callback, request_id, x402),
    }
